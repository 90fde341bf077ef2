"""One way in to a trained model: ``load_assembly(path)`` takes a checkpoint file, a run folder (its
``checkpoints/best.ckpt``) or an exported folder (``fusionlab.sharing.folder``), and gives the run's task,
datamodule and model in eval mode, without reading the dataset. Each is untrusted input: nothing in it runs
code."""

from __future__ import annotations

from pathlib import Path

from fusionlab.sharing.checkpoint import load_checkpoint
from fusionlab.sharing.folder import is_exported, load_exported
from fusionlab.train import Assembly


def load_assembly(path: str | Path) -> Assembly:
    path = Path(path)
    if is_exported(path):
        return load_exported(path)
    if path.is_dir():
        checkpoint = path / "checkpoints" / "best.ckpt"
        if not checkpoint.is_file():
            raise FileNotFoundError(f"{path}: no checkpoints/best.ckpt and no exported model (fusionlab.json): "
                                    f"give a finished run's folder, its checkpoint or an exported folder")
        return load_checkpoint(checkpoint)
    return load_checkpoint(path)
