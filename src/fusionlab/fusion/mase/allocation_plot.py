"""MASE's allocation as outputs (``MASE.callbacks`` brings it to every balanced run): the z trajectory and
mutual-information estimates of the fit as ``allocation.json`` and the paper's Figure 4 (``allocation.png``)
in the run directory."""

from __future__ import annotations

import json

import lightning as L
import torch

from fusionlab.analysis.plots.allocation import draw_allocation
from fusionlab.run.folder import RunFolder


class AllocationPlot(L.Callback):
    def __init__(self, mase):
        self.mase = mase

    def on_fit_end(self, trainer, module):
        if not trainer.is_global_zero:
            return
        folder = RunFolder(trainer.default_root_dir)
        summary = {**self.mase.summary(), **self.mase.allocation_history()}  # the whole fit's trajectory
        folder.write("allocation.json", json.dumps(summary, indent=2))
        draw_allocation(torch.tensor(summary["z_trajectory"]), self.mase.modalities, folder.figure("allocation.png"))
