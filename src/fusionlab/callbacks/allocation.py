"""MASE's allocation as outputs: the z trajectory and mutual-information estimates of the fit as
``allocation.json`` and the paper's Figure 4 (``allocation.png``) in the run directory."""

from __future__ import annotations

import json

import lightning as L
import torch

from fusionlab.fusion.mase import MASE
from fusionlab.plots.allocation import draw_allocation
from fusionlab.run.folder import RunFolder


class AllocationPlot(L.Callback):
    def on_fit_end(self, trainer, module):
        method = module.method
        if not isinstance(method, MASE) or not method.balance or not trainer.is_global_zero:
            return
        folder = RunFolder(trainer.default_root_dir)
        summary = {**method.summary(), **method.allocation_history()}  # the whole fit's trajectory
        folder.write("allocation.json", json.dumps(summary, indent=2))
        draw_allocation(torch.tensor(summary["z_trajectory"]), method.modalities, folder.path / "allocation.png")
