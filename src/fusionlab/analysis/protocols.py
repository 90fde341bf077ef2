"""The papers' own evaluation protocols, scored from what a clean run records, never retrained.

``clean`` (what every run reports): the checkpoint of the best validation epoch, tested once on every test
sentence, entities scored as conlleval / seqeval's default mode. The reference protocols, read from the
authors' code:

- ``seqeval_strict``: entities as seqeval's strict IOB2 mode counts them (an ``I-`` that opens an entity is
  no entity: Twitter-2015's test split has 135 of them);
- ``reference_muse``: the last partial test batch dropped (``drop_last=True`` with the scripts' evaluation
  batch of 40: 17 of Twitter-2015's 3257 test sentences are never scored), and weighted F1 for MSA;
- ``reference_pmei``: the best **test** score over epochs (its code has no validation loader);
- ``reference_hvpnet`` (mner, mre): the best validation epoch among those from the script's first evaluated
  epoch on (its NER scripts start at epoch 3, its RE script at epoch 1; the paper says after epoch 16 and 8),
  the later of equal epochs as its ``>=`` keeps, then that epoch's test score;
- ``casrel_strings`` (joint): triples as CasRel's metric compares them (Wei et al., ACL 2020; the protocol
  PMEI's "Evaluation Protocols" section follows): per sentence, the set of (subject text, relation, object
  text) against the triples the data file lists (``string_f1``), where clean compares word positions.

The last two need every epoch's test score: ``eval_protocol.test_every_epoch=true`` records them in
``results.json`` (``test_history``), apart from the clean selection, which never reads them.
"""

from __future__ import annotations

import torch
from seqeval.metrics import f1_score as seqeval_f1
from seqeval.scheme import IOB2
from torchmetrics.functional.classification import multiclass_f1_score

from fusionlab.analysis.bootstrap import score, sentence_counts

MUSE_EVAL_BATCH = 40  # RecklessRonan/MuSE code/run_*.sh: --per_gpu_eval_batch_size 40, one GPU
# zjunlp/HVPNeT's scripts, --eval_begin_epoch (1-based): run_twitter15.sh / run_twitter17.sh 3, run_re.sh 1
HVPNET_FIRST_EPOCH = {"mner": 3, "mre": 1}


def dump_score(task: str, monitor: str, rows: list[dict]) -> float:
    """The main metric of ``rows`` (dumped test predictions) as the clean protocol scores it."""
    return float(score(sentence_counts(task, monitor, rows), monitor))


def seqeval_strict(rows: list[dict]) -> float:
    return float(seqeval_f1([r["gold"] for r in rows], [r["predicted"] for r in rows], mode="strict", scheme=IOB2))


def drop_last_batch(rows: list[dict], batch_size: int = MUSE_EVAL_BATCH) -> list[dict]:
    """The test sentences a loader with ``drop_last=True`` scores: all but the last partial batch."""
    return rows[: len(rows) - len(rows) % batch_size]


def weighted_f1(rows: list[dict]) -> float:
    """F1 per label averaged with the gold labels' frequencies as weights (MuSE's MSA F1)."""
    labels = sorted({r["gold"] for r in rows} | {r["predicted"] for r in rows})
    index = {label: i for i, label in enumerate(labels)}
    predicted = torch.tensor([index[r["predicted"]] for r in rows])
    gold = torch.tensor([index[r["gold"]] for r in rows])
    return float(multiclass_f1_score(predicted, gold, num_classes=len(labels), average="weighted"))


def selected_on_test(record: dict) -> float | None:
    """PMEI's reference: the best test score over epochs."""
    history = record.get("test_history") or []
    return max((h["metrics"][record["monitor"]] for h in history), default=None)


def first_epoch_selected(record: dict) -> float | None:
    """HVPNeT's reference: the best validation epoch from its script's first evaluated epoch on (1-based; the
    later of equal epochs, as its ``>=``), and that epoch's test score. None for a task it has no script for."""
    first_epoch = HVPNET_FIRST_EPOCH.get(record["task"])
    tests = {h["epoch"]: h["metrics"][record["monitor"]] for h in record.get("test_history") or []}
    candidates = [h for h in record.get("val_history", []) if h["epoch"] + 1 >= (first_epoch or 0)
                  and h["epoch"] in tests]
    if first_epoch is None or not candidates:
        return None
    best = candidates[0]
    for candidate in candidates[1:]:
        if candidate["metrics"][record["monitor"]] >= best["metrics"][record["monitor"]]:
            best = candidate
    return tests[best["epoch"]]


def protocol_scores(record: dict, rows: list[dict] | None) -> dict[str, float]:
    """Every protocol this run's records allow, beside ``clean`` (all as fractions)."""
    task, monitor = record["task"], record["monitor"]
    scores = {"clean": record["metrics"]["test"][monitor]}
    if rows:
        if task == "mner":
            scores["seqeval_strict"] = seqeval_strict(rows)
        kept = drop_last_batch(rows)
        if kept:  # a test split smaller than one batch leaves nothing to score
            scores["reference_muse"] = dump_score(task, monitor, kept)
            if task == "msa":
                scores["reference_muse_weighted_f1"] = weighted_f1(kept)
    for name, value in (("reference_pmei", selected_on_test(record)), ("reference_hvpnet", first_epoch_selected(record))):
        if value is not None:
            scores[name] = value
    if task == "joint" and "string_f1" in record["metrics"]["test"]:
        scores["casrel_strings"] = record["metrics"]["test"]["string_f1"]
    return scores
