"""Media for W&B: after testing, the figures a method drew in its run directory (HVPNeT's gate
heat map, MASE's z trajectory, ...) and a table of example test predictions. Other loggers
skip this: the PNGs and ``test_predictions.jsonl`` stay in the run directory either way."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import WandbLogger


class WandbMedia(L.Callback):
    def __init__(self, examples: int = 20, predictions: str = "test_predictions.jsonl"):
        self.examples, self.predictions = examples, predictions

    def on_test_end(self, trainer, module):
        logger = trainer.logger
        if not isinstance(logger, WandbLogger) or not trainer.is_global_zero:
            return
        run_dir = Path(trainer.default_root_dir)
        for figure in sorted(run_dir.glob("*.png")):
            logger.log_image(key=f"figures/{figure.stem}", images=[str(figure)])
        predictions = run_dir / self.predictions
        if predictions.exists():
            rows = [json.loads(line) for line in predictions.read_text().splitlines()[:self.examples]]
            columns = list(rows[0]) if rows else []
            logger.log_table(key="test/examples", columns=columns,
                             data=[[json.dumps(row[c]) if isinstance(row[c], list) else row[c] for c in columns]
                                   for row in rows])
