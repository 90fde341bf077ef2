"""MASE's allocation as outputs: the z trajectory and mutual-information estimates of the fit as
``allocation.json`` and the paper's Figure 4 (``allocation.png``) in the run directory."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch

from fusionlab.fusion.mase import MASE
from fusionlab.plots.allocation import draw_allocation


class AllocationPlot(L.Callback):
    def on_fit_end(self, trainer, module):
        method = module.method
        if not isinstance(method, MASE) or not method.balance or not trainer.is_global_zero:
            return
        run_dir = Path(trainer.default_root_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        summary = {**method.summary(), **method.allocation_history()}  # the whole fit's trajectory
        (run_dir / "allocation.json").write_text(json.dumps(summary, indent=2))
        draw_allocation(torch.tensor(summary["z_trajectory"]), method.modalities, run_dir / "allocation.png")
