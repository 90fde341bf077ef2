"""Media for W&B: after testing, the figures a method drew in its run directory (HVPNeT's gate
heat map, MASE's z trajectory, ...) and a table of example test predictions (text, image, gold and
predicted as readable text). Other loggers skip this: the PNGs and ``test_predictions.jsonl`` stay in
the run directory either way."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L

from fusionlab.callbacks.prediction_text import readable
from fusionlab.callbacks.wandb_run import wandb_logger

COLUMNS = ["text", "image", "gold", "predicted", "group"]


def _image(path: Path | None):
    """The example's image as a ``wandb.Image``, or None when it is absent or unreadable (the missing-image
    policy)."""
    import wandb  # here: runs without W&B do not pay for importing it

    if path is None or not path.is_file():
        return None
    try:
        return wandb.Image(str(path))
    except OSError:  # PIL cannot read it (empty, truncated, not an image)
        return None


def _table_row(row: dict, task: str, images) -> list:
    """One dump row as COLUMNS; ``images`` is the test split's ImageStore, which finds its image file."""
    text = readable(task, row)
    return [" ".join(row["words"]), _image(images.image_path(row.get("image"))), text["gold"], text["predicted"],
            row.get("group", "")]


class WandbMedia(L.Callback):
    def __init__(self, examples: int = 20, predictions: str = "test_predictions.jsonl"):
        self.examples, self.predictions = examples, predictions

    def on_test_end(self, trainer, module):
        logger = wandb_logger(trainer)
        if logger is None or not trainer.is_global_zero:
            return
        run_dir = Path(trainer.default_root_dir)
        for figure in sorted(run_dir.glob("*.png")):
            logger.log_image(key=f"figures/{figure.stem}", images=[str(figure)])
        predictions = run_dir / self.predictions
        if predictions.exists():
            rows = [json.loads(line) for line in predictions.read_text().splitlines()[:self.examples]]
            images = trainer.datamodule.stores["test"]
            logger.log_table(key="test/examples", columns=COLUMNS,
                             data=[_table_row(row, module.task.name, images) for row in rows])
