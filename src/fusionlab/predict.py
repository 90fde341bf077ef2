"""``python -m fusionlab.predict ckpt=<path> text="..." [image=<path>] [head=0:2 tail=4:5]``
or ``python -m fusionlab.predict ckpt=<path> inputs=<file.jsonl>``: predictions as JSON lines.

The run is rebuilt from the resolved config in the ``results.json`` beside the checkpoint's
``checkpoints/`` folder (its dataset must be where the run found it: the label vocabulary is
fixed from it). Each input is a sentence (split on whitespace), an optional image path, and for
mre the head and tail word spans ``start:end`` (end exclusive). Inputs files hold one JSON
object per line with the same keys (spans as ``[start, end]``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

from fusionlab.data.example import Example, Span
from fusionlab.train import Assembly, assemble

KEYS = ("ckpt", "text", "image", "head", "tail", "inputs")


def load_run(checkpoint: str | Path) -> Assembly:
    """The run's task, datamodule and model, with the checkpoint's weights, in eval mode."""
    checkpoint = Path(checkpoint)
    results = checkpoint.resolve().parent.parent / "results.json"
    if not results.exists():
        raise FileNotFoundError(f"{results} not found: predict reads the run's config from the results.json "
                                f"of the run directory that holds {checkpoint}")
    parts = assemble(OmegaConf.create(json.loads(results.read_text())["config"]))
    parts.model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"])
    parts.model.eval()
    return parts


def _span(value) -> Span:
    start, end = (int(v) for v in (value.split(":") if isinstance(value, str) else value))
    return Span(start, end)


def to_example(record: dict) -> Example:
    if not record.get("text"):
        raise ValueError(f"an input needs a non-empty 'text', got {record}")
    image = str(Path(record["image"]).resolve()) if record.get("image") else None
    entities = [_span(record[k]) for k in ("head", "tail") if record.get(k) is not None]
    return Example(record["text"].split(), image, entities=entities)


@torch.no_grad()
def predict(parts: Assembly, records: list[dict]) -> list[dict]:
    task, model = parts.task, parts.model
    examples = [task.unlabeled(to_example(r)) for r in records]
    rows = []
    for batch in parts.datamodule.loader(parts.datamodule.dataset(examples)):
        batch = model.transfer_batch_to_device(batch, model.device, 0)
        predictions = model.head.decode(model.fuse(batch).states, batch)
        rows += [{"text": " ".join(e.words), "image": e.image, **task.prediction(e, p)}
                 for e, p in zip(batch["examples"], predictions)]
    return rows


def read_inputs(path: Path) -> list[dict]:
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: expected one JSON object per line "
                                 f"({{\"text\": ..., \"image\": ...}}): {error}") from None
    return records


def parse(arguments: list[str]) -> dict:
    options = {}
    for argument in arguments:
        key, sep, value = argument.partition("=")
        if not sep or key not in KEYS:
            raise SystemExit(f"expected key=value with key in {KEYS}, got {argument!r}")
        options[key] = value
    if "ckpt" not in options or ("text" in options) == ("inputs" in options):
        raise SystemExit("usage: python -m fusionlab.predict ckpt=<path> (text=\"...\" [image=<path>] "
                         "[head=s:e tail=s:e] | inputs=<file.jsonl>)")
    return options


def main(arguments: list[str] | None = None) -> None:
    options = parse(sys.argv[1:] if arguments is None else arguments)
    if "inputs" in options:
        records = read_inputs(Path(options["inputs"]))
    else:
        records = [{k: options.get(k) for k in ("text", "image", "head", "tail")}]
    for row in predict(load_run(options["ckpt"]), records):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
