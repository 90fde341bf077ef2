"""HVPNeT's dynamic gates as outputs: the epoch's mean gate per text layer and backbone stage logged
(``gate/layer<l>_stage<i>``), and Figure 4 (``gates.png`` in the run directory) drawn for the first
test batch. Any HVPNeT in the model counts (PMEI's base too); other methods are left alone."""

from __future__ import annotations

from pathlib import Path

import lightning as L

from fusionlab.fusion.hvpnet import HVPNeT
from fusionlab.plots.gates import draw_gate_heatmap


def gated_hvpnet(module) -> HVPNeT | None:
    found = [m for m in module.modules() if isinstance(m, HVPNeT) and m.routing == "gate"]
    return found[0] if found else None


class GateMaps(L.Callback):
    def __init__(self, filename: str = "gates.png", samples: int = 8):
        self.filename, self.samples = filename, samples

    def on_train_epoch_end(self, trainer, module):
        hvpnet = gated_hvpnet(module)
        if hvpnet is not None:
            module.log_dict(hvpnet.gate_means())

    def on_test_batch_end(self, trainer, module, outputs, batch, batch_idx, dataloader_idx=0):
        hvpnet = gated_hvpnet(module)
        if batch_idx == 0 and hvpnet is not None and trainer.is_global_zero:
            draw_gate_heatmap(hvpnet.gate_values(batch)[:self.samples], Path(trainer.default_root_dir) / self.filename,
                              hvpnet.stages)
