"""HVPNeT's dynamic gates as outputs (``HVPNeT.callbacks`` brings it to every gated run, PMEI's HVPNeT base
too): the epoch's mean gate per text layer and backbone stage logged (``gate/layer<l>_stage<i>``, the
running mean reset each epoch), and Figure 4 (``gates.png`` in the run directory) drawn for the first
test batch."""

from __future__ import annotations

import lightning as L

from fusionlab.analysis.plots.gates import draw_gate_heatmap
from fusionlab.run.folder import RunFolder


class GateMaps(L.Callback):
    def __init__(self, hvpnet, filename: str = "gates.png", samples: int = 8):
        self.hvpnet, self.filename, self.samples = hvpnet, filename, samples

    def on_train_epoch_end(self, trainer, module):
        module.log_dict(self.hvpnet.gate_means())

    def on_test_batch_end(self, trainer, module, outputs, batch, batch_idx, dataloader_idx=0):
        if batch_idx == 0 and trainer.is_global_zero:
            draw_gate_heatmap(self.hvpnet.gate_values(batch)[:self.samples],
                              RunFolder(trainer.default_root_dir).figure(self.filename), self.hvpnet.stages)
