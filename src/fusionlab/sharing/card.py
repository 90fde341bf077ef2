"""An exported run's model card (``README.md``), generated from its ``results.json``: the method and its paper,
the published number beside it, the encoders, the data and its release (with each split file's SHA-256), the
test metrics of this run and over the seeds of the same config beside it, the code's commit, how to load it,
and the traced program's inputs and outputs when there is one."""

from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData
from torch import nn

from fusionlab.analysis.published import published_results
from fusionlab.config.result_keys import result_config
from fusionlab.storage.records import CorruptRecordError, read_json


def method_paper(method: nn.Module) -> str:
    """The first sentence of the method's module docstring, which names the method and its paper."""
    doc = sys.modules[type(method).__module__].__doc__ or type(method).__name__
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    return re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0]


def _setting(results: dict) -> tuple:
    """What makes two runs seeds of one config: every setting that changes a result but the seed, and the data."""
    files = {split: f.get("sha256") for split, f in results.get("data", {}).get("files", {}).items()}
    return result_config(results.get("config", {}), ("seed",)), files


def seed_runs(results: dict, run_dir: Path) -> list[dict]:
    """This run and its finished siblings in the same parent folder that differ from it only by seed."""
    runs = [results]
    for path in sorted(run_dir.parent.glob("*/results.json")):
        if path.parent.resolve() == run_dir.resolve():
            continue
        try:
            sibling = read_json(path, "")
        except CorruptRecordError:
            continue
        if _setting(sibling) == _setting(results):
            runs.append(sibling)
    return runs


def metrics_table(runs: list[dict]) -> list[str]:
    """Test metrics: this run's, and mean ± std over the seeds (n) when there are several."""
    this, seeds = runs[0]["metrics"]["test"], sorted(r["seed"] for r in runs)
    several = len(runs) > 1
    header, rule = f"| metric | this run (seed {runs[0]['seed']}) |", "| --- | --- |"
    if several:
        header, rule = header + f" mean ± std over seeds {seeds} |", rule + " --- |"
    lines = [header, rule]
    for metric, value in this.items():
        row = f"| {metric} | {value:.4f} |"
        values = [r["metrics"]["test"][metric] for r in runs if metric in r["metrics"]["test"]]
        if several:
            row += (f" {statistics.fmean(values):.4f} ± {statistics.stdev(values):.4f} (n={len(values)}) |"
                    if len(values) > 1 else " - |")
        lines.append(row)
    return lines


def _published(results: dict) -> list[str]:
    rows = [row for row in published_results() if (row["fusion"], row["dataset"], row["task"])
            == (results["fusion"], results["dataset"], results["task"])]
    return [f"- published: {row['method']} {row['metric']} {row['value']} ({row['source']}; on {row['release']})"
            for row in rows]


def _data(results: dict) -> list[str]:
    data = results.get("data", {})
    lines = [f"- dataset: `{results['dataset']}`, release: {data.get('release', 'not recorded')}"]
    for split, file in data.get("files", {}).items():
        lines.append(f"- {split}: `{Path(file['path']).name}`, {file['bytes']} bytes, SHA-256 `{file['sha256']}`"
                     + (f", {data['splits'][split]['examples']} examples" if split in data.get("splits", {}) else ""))
    return lines


def _program(program: dict) -> list[str]:
    inputs = ", ".join(f"`{i['name']}` {i['dtype']} {i['shape']}" for i in program["inputs"])
    return ["", f"## {program['format']} program (`{program['file']}`)", "",
            f"Inputs, in this order: {inputs} (a named axis is dynamic), as the batch fusionlab's datamodule "
            f"serves for prediction holds them. Outputs: {', '.join(f'`{o}`' for o in program['outputs'])}, the task "
            f"head's decode-ready scores: CRF emissions over the words (mner; decode them with the CRF's transitions, "
            f"`head.crf.*` in `model.safetensors`, as fusionlab does), logits otherwise (argmax; joint: tag logits "
            f"and pair logits, a sigmoid per relation). The decoding itself is not part of the program. It was "
            f"checked against the PyTorch model on a batch of other sizes than the traced one."]


def model_card(results: dict, run_dir: Path, method: nn.Module, program: dict | None) -> str:
    """The card's Markdown, with the Hub's metadata header; ``method``: the run's fusion method, as rebuilt."""
    run, config = results.get("run", {}), results["config"]
    code = run.get("code") or {}
    commit = code.get("commit") or "not recorded (not a git checkout)"
    dirty = " (with uncommitted changes)" if code.get("dirty") else ""
    runs = seed_runs(results, run_dir)
    metadata = ModelCardData(library_name="fusionlab", tags=["fusionlab", "multimodal", results["fusion"],
                                                             results["task"], results["dataset"]])
    lines = [f"# {results['fusion']} on {results['dataset']} ({results['task']}), seed {results['seed']}", "",
             "## Method", "", f"- fusion: `{results['fusion']}` (family `{config['fusion'].get('family')}`): "
             f"{method_paper(method)}", *_published(results),
             f"- encoders: text `{results['encoders']['text']}`, vision `{results['encoders']['vision']}`",
             "", "## Data", "", *_data(results),
             "", "## Test metrics", "", f"Checkpoint of the best validation `{results.get('monitor')}` (epoch "
             f"{results.get('best_epoch')}), tested once.", "", *metrics_table(runs),
             "", "## Provenance", "", f"- code: commit `{commit}`{dirty}",
             f"- run: `{run.get('name')}`" + (f", trained by `{run['command']}`" if run.get("command") else ""),
             "", "## Use", "", "With fusionlab installed (no dataset is read; mre reads the entity spans):", "",
             "```python", "import fusionlab", "",
             "fusionlab.load(\"<this folder>\").predict({\"text\": \"Kalo Miren visits Paris today\", "
             "\"image\": None, \"head\": [0, 2], \"tail\": [3, 4]})", "```",
             *(_program(program) if program else [])]
    return str(ModelCard(f"---\n{metadata.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n"))
