"""A trained run rebuilt from its checkpoint file alone (``checkpoints/best.ckpt`` holds the run's config and
label vocabulary): no split of its dataset is read and no feature cache is filled."""

from __future__ import annotations

from pathlib import Path

from fusionlab.config.stored import described_checkpoint, trusted_config
from fusionlab.train import Assembly, assemble


def load_checkpoint(checkpoint: str | Path) -> Assembly:
    """The run's task, datamodule and model, with the checkpoint's weights, in eval mode. The checkpoint is
    untrusted input: its config only selects and sets the registered one (fusionlab.config.stored)."""
    saved = described_checkpoint(checkpoint)
    described = saved["fusionlab"]
    config = trusted_config(described["config"], f"{checkpoint} (its stored config)")
    parts = assemble(config, labels=described["labels"], read_data=False)
    parts.model.load_state_dict(saved["state_dict"])
    parts.model.eval()
    return parts
