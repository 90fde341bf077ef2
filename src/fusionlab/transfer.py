"""Cross-task transfer (HVPNeT Table 3): start a run from another task's checkpoint.

Everything is copied except what belongs to the task: its heads (the classifier and CRF,
PMEI's early classifiers) are left freshly initialised. Word embeddings copy the rows both
vocabularies share (mre adds entity-marker tokens); any other tensor whose shape differs is
left as initialised. What was not copied is returned and logged.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from fusionlab.tasks.head import TaskHead

log = logging.getLogger(__name__)


def task_specific(model: torch.nn.Module) -> set[str]:
    """The state-dict keys of every task head in ``model`` (the head, PMEI's early classifiers)."""
    return {f"{prefix}.{key}" for prefix, module in model.named_modules() if isinstance(module, TaskHead)
            for key in module.state_dict()}


def transfer_weights(model: torch.nn.Module, checkpoint: str | Path) -> dict[str, list[str]]:
    source = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    target, heads = model.state_dict(), task_specific(model)
    report: dict[str, list[str]] = {"reinitialised": [], "partly_copied": []}
    with torch.no_grad():
        for name, tensor in target.items():
            if name in heads or name not in source:
                report["reinitialised"].append(name)
            elif source[name].shape == tensor.shape:
                tensor.copy_(source[name])
            elif name.endswith("word_embeddings.weight") and source[name].shape[1:] == tensor.shape[1:]:
                rows = min(len(tensor), len(source[name]))
                tensor[:rows].copy_(source[name][:rows])
                report["partly_copied"].append(name)
            else:
                report["reinitialised"].append(name)
    log.info("initialised from %s; left as initialised: %s; embedding rows copied: %s",
             checkpoint, report["reinitialised"], report["partly_copied"])
    return report
