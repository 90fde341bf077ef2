"""Confidence intervals over test sentences: scipy's percentile bootstrap of a report cell's score (the mean
over its seeds), resampling the test sentences the seeds share, from each run's ``test_predictions.jsonl``.

Each sentence contributes counts: (true positives, predicted, gold) for the F1 scores (entities, relations
other than ``None``, exact triples), or (correct, 1, 1) for accuracy; a resample's score is computed from
the summed counts, as the metrics compute it from the whole split.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import stats

from fusionlab.data.tagging import spans_from_tags

NO_RELATION = ("None", "NA")


def _sets(task: str, row: dict) -> tuple[set, set]:
    if task == "mner":
        return set(spans_from_tags(row["gold"])), set(spans_from_tags(row["predicted"]))
    if task == "joint":
        return {tuple(t) for t in row["gold"]}, {tuple(t) for t in row["predicted"]}
    gold = {row["gold"]} - set(NO_RELATION)  # mre: one pair; a no-relation label is no relation
    return gold, {row["predicted"]} - set(NO_RELATION)


def sentence_counts(task: str, monitor: str, rows: list[dict]) -> np.ndarray:
    """[sentences, 3] counts that the split's score is computed from (see the module docstring)."""
    if monitor == "accuracy":
        return np.array([[row["gold"] == row["predicted"], 1, 1] for row in rows], dtype=float).reshape(-1, 3)
    counts = []
    for row in rows:
        gold, predicted = _sets(task, row)
        counts.append([len(gold & predicted), len(predicted), len(gold)])
    return np.array(counts, dtype=float).reshape(-1, 3)


def score(counts: np.ndarray, monitor: str, axis: int = 0) -> np.ndarray:
    """The score from ``counts`` [..., 3] summed along ``axis`` (of the counts without their last axis):
    accuracy, or micro F1 = 2 tp / (pred + gold)."""
    tp, predicted, gold = (np.take(counts, i, axis=-1).sum(axis=axis) for i in range(3))
    if monitor == "accuracy":
        return tp / predicted
    return np.divide(2 * tp, predicted + gold, out=np.zeros_like(tp, dtype=float), where=(predicted + gold) > 0)


def read_rows(run_dir: Path) -> list[dict] | None:
    path = Path(run_dir) / "test_predictions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else None


def seed_mean_interval(runs: list[np.ndarray], monitor: str, level: float = 0.95, resamples: int = 1000,
                       seed: int = 0) -> tuple[float, float] | None:
    """The ``level`` percentile-bootstrap interval of the seeds' mean score, resampling sentences (the same
    resample for every seed). None when the runs did not score the same sentences."""
    return _interval([runs], [1.0], monitor, level, resamples, seed)


def paired_difference_interval(runs: list[np.ndarray], baseline_runs: list[np.ndarray], monitor: str,
                               level: float = 0.95, resamples: int = 1000, seed: int = 0) -> tuple[float, float] | None:
    """The interval of (the seeds' mean score) − (the baseline's seeds' mean score), resampling the test
    sentences both scored, the same resample for both: the paired comparison over sentences that a t-test
    over three seeds has too few pairs for. None when the runs did not score the same sentences."""
    return _interval([runs, baseline_runs], [1.0, -1.0], monitor, level, resamples, seed)


def _interval(groups: list[list[np.ndarray]], weights: list[float], monitor: str, level: float, resamples: int,
              seed: int) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of sum_g weight_g × (group g's seeds' mean score), sentences resampled."""
    runs = [run for group in groups for run in group]
    if not all(groups) or len({len(r) for r in runs}) != 1 or len(runs[0]) < 2:
        return None
    stacks = [np.stack(group, axis=1) for group in groups]  # each [sentences, seeds, 3]

    def statistic(index, axis=-1):
        return sum(weight * score(np.take(stack, index.astype(int), axis=0), monitor, axis=-2).mean(axis=-1)
                   for weight, stack in zip(weights, stacks))  # over sentences, then over seeds

    result = stats.bootstrap((np.arange(len(runs[0])),), statistic, vectorized=True, n_resamples=resamples,
                             confidence_level=level, method="percentile", random_state=seed)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
