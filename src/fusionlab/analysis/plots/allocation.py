"""MASE's Figure 4: the modality allocation z after each E-step."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402


def draw_allocation(trajectory: torch.Tensor, modalities: list[str], path: str | Path) -> Path:
    """``trajectory`` [rounds, modalities]: one line per modality over the EM rounds."""
    figure, axis = plt.subplots(figsize=(4.5, 3), constrained_layout=True)
    rounds = range(len(trajectory))
    for column, name in enumerate(modalities):
        axis.plot(rounds, trajectory[:, column].tolist(), marker="o", label=name)
    axis.set_xlabel("EM round (round 0: uniform start)")
    axis.set_ylabel("allocation z")
    axis.set_ylim(0, 1)
    axis.legend()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
