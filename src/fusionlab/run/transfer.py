"""Cross-task transfer (HVPNeT Table 3): start a run from another task's checkpoint.

Everything is copied except what belongs to the task: its heads (the classifier and CRF,
PMEI's early classifiers) are left freshly initialised. Word embeddings copy the rows both
vocabularies share (mre adds entity-marker tokens); any other tensor whose shape differs is
left as initialised. What was not copied is returned and logged; a checkpoint of which nothing fits is
refused rather than recorded as a transfer.
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
    """Copy ``checkpoint``'s weights into ``model`` but its task heads; what was left as initialised and what
    was copied in part. A checkpoint none of whose weights fits (another architecture or size) is refused,
    naming what did not match, before anything is copied."""
    source = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    target, heads = model.state_dict(), task_specific(model)
    report: dict[str, list[str]] = {"reinitialised": [], "partly_copied": []}
    copies, mismatched = {}, {}
    for name, tensor in target.items():
        if name in heads or name not in source:
            report["reinitialised"].append(name)
        elif source[name].shape == tensor.shape:
            copies[name] = source[name]
        elif name.endswith("word_embeddings.weight") and source[name].shape[1:] == tensor.shape[1:]:
            rows = min(len(tensor), len(source[name]))
            copies[name] = torch.cat([source[name][:rows], tensor[rows:]])
            report["partly_copied"].append(name)
        else:
            mismatched[name] = f"{list(source[name].shape)} in the checkpoint, {list(tensor.shape)} here"
            report["reinitialised"].append(name)
    if not copies:
        absent = [name for name in target if name not in heads and name not in source]
        raise ValueError(f"init_from={checkpoint}: no weight of it fits this model, nothing would be transferred. "
                         f"{len(mismatched)} differ in shape ({_some(mismatched)}); {len(absent)} are not in it "
                         f"({_some(absent)}); task heads are never copied")
    with torch.no_grad():
        for name, tensor in copies.items():
            target[name].copy_(tensor)
    log.info("initialised from %s; left as initialised: %s; embedding rows copied: %s",
             checkpoint, report["reinitialised"], report["partly_copied"])
    return report


def _some(names, shown: int = 3) -> str:
    """The first ``shown`` of ``names`` (with what each is, for a mapping), and how many more."""
    items = [f"{name}: {names[name]}" if isinstance(names, dict) else name for name in list(names)[:shown]]
    return "; ".join(items) + (f"; and {len(names) - shown} more" if len(names) > shown else "") if items else "none"
