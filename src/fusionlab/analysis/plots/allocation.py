"""MASE's Figure 4: the modality allocation z after each E-step, each seed's and their mean."""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure

from fusionlab.analysis.plots.figure import COLOURS, save


def draw_allocation(trajectories: torch.Tensor, modalities: list[str], path: str | Path) -> Figure:
    """``trajectories`` [seeds, rounds, modalities] (or one run's [rounds, modalities]): per modality, each seed's
    z over the EM rounds (thin) and their mean (thick), with the uniform start 1/modalities dashed."""
    trajectories = trajectories if trajectories.dim() == 3 else trajectories.unsqueeze(0)
    figure = Figure(figsize=(5, 3.4), layout="constrained")
    axis = figure.subplots()
    rounds = range(trajectories.shape[1])
    axis.axhline(1 / len(modalities), color="black", linestyle="--", linewidth=0.9,
                 label=f"uniform (1/{len(modalities)})")
    for column, (name, colour) in enumerate(zip(modalities, COLOURS)):
        for seed in trajectories[:, :, column]:
            axis.plot(rounds, seed.tolist(), color=colour, linewidth=0.7, alpha=0.4)
        axis.plot(rounds, trajectories[:, :, column].mean(0).tolist(), color=colour, marker="o", linewidth=2,
                  label=f"{name}: mean" + (f" of {len(trajectories)} seeds" if len(trajectories) > 1 else ""))
    axis.set_xticks(list(rounds))
    axis.set_xlabel("EM round (round 0: uniform start)")
    axis.set_ylabel("allocation z (axis 0–1)")
    axis.set_ylim(0, 1)
    axis.legend(fontsize=7)
    axis.set_title("MASE's modality allocation" + (": thin lines = seeds" if len(trajectories) > 1 else ""),
                   fontsize=9)
    return save(figure, path)
