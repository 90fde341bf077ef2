"""HVPNeT's Figure 4: the dynamic gate of every text layer for a batch of images."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402


def draw_gate_heatmap(gates: torch.Tensor, path: str | Path, stages: list[int] | None = None) -> Path:
    """``gates`` [B, L, c]: one panel per layer, instances down, backbone stages across."""
    gates = gates.detach().float().cpu()
    batch, layers, blocks = gates.shape
    stages = stages if stages is not None else list(range(blocks))
    columns = min(layers, 6)
    rows = -(-layers // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns + 1, 0.25 * batch * rows + 1.2),
                                squeeze=False, constrained_layout=True)
    for layer, axis in enumerate(axes.flat):
        if layer >= layers:
            axis.axis("off")
            continue
        image = axis.imshow(gates[:, layer], vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
        axis.set_title(f"layer {layer + 1}", fontsize=8)
        axis.set_xticks(range(blocks), [str(s + 1) for s in stages], fontsize=7)
        axis.set_yticks(range(batch), [str(i) for i in range(batch)], fontsize=6)
    figure.colorbar(image, ax=axes, shrink=0.8, label="gate g_i")
    figure.supxlabel("backbone stage", fontsize=8)
    figure.supylabel("instance", fontsize=8)
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
