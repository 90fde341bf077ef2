"""``fusionlab.load(path).predict(texts)``: a trained run's predictions on new inputs, as ``python -m fusionlab.predict``
makes them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fusionlab.predict import predict
from fusionlab.sharing.loading import load_assembly
from fusionlab.train import Assembly


@dataclass(frozen=True)
class LoadedRun:
    """A trained run rebuilt from what ``path`` holds (no split of its dataset is read), in eval mode."""

    path: Path
    parts: Assembly = field(repr=False)  # its task, datamodule and model

    def predict(self, inputs: str | dict | Iterable[str | dict]) -> list[dict]:
        """One row per input: a sentence, or a record ``{"text", "image", "head", "tail"}`` (the keys of
        ``python -m fusionlab.predict``; spans as ``[start, end]``), or a list of either."""
        items = [inputs] if isinstance(inputs, (str, dict)) else list(inputs)
        return predict(self.parts, [{"text": item} if isinstance(item, str) else item for item in items])


def load(path: str | Path) -> LoadedRun:
    """A trained run, ready to predict: a run folder (its ``checkpoints/best.ckpt``), a checkpoint file or an exported
    folder (``fusionlab export``); ``fusionlab.sharing.loading.load_assembly`` tells them apart."""
    return LoadedRun(Path(path), load_assembly(path))
