"""``python -m fusionlab.predict ckpt=<path> text="..." [image=<path>] [head=0:2 tail=4:5]``
or ``python -m fusionlab.predict ckpt=<path> inputs=<file.jsonl>``: predictions as JSON lines on stdout.

A Hydra app (``conf/predict.yaml`` documents every key) that writes no output folder or log file.
The run is rebuilt from the checkpoint alone: it holds the run's config and label vocabulary, so no
split of the dataset is read and no feature cache is filled (a frozen vision encoder runs on the
given image). Each input is a sentence (split on whitespace), an optional image path, and for mre the
head and tail word spans ``start:end`` (end exclusive). Inputs files hold one JSON object per line
with the same keys (spans as ``[start, end]``). A sentence longer than the run's ``max_length`` is
read up to there: its row says ``"truncated": true`` and how many words were read; an image that
cannot be read is predicted without, and its row says why (``"image_unreadable"``).
"""

from __future__ import annotations

import json
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from fusionlab import CONF
from fusionlab.config.stored import described_checkpoint, trusted_config
from fusionlab.data.errors import DataFormatError
from fusionlab.data.example import Example, Span
from fusionlab.train import Assembly, assemble

# absolute: a console script calls main from the package, where a relative path would name a module
USAGE = ("usage: python -m fusionlab.predict ckpt=<path> text=\"...\" [image=<path>] [head=0:2 tail=4:5]\n"
         "   or: python -m fusionlab.predict ckpt=<path> inputs=<file.jsonl>   (keys: conf/predict.yaml)")


def load_run(checkpoint: str | Path) -> Assembly:
    """The run's task, datamodule and model, with the checkpoint's weights, in eval mode. The checkpoint is
    untrusted input: its config only selects and sets the registered one (fusionlab.config.stored)."""
    saved = described_checkpoint(checkpoint)
    described = saved["fusionlab"]
    config = trusted_config(described["config"], f"{checkpoint} (its stored config)")
    parts = assemble(config, labels=described["labels"], read_data=False)
    parts.model.load_state_dict(saved["state_dict"])
    parts.model.eval()
    return parts


def _span(value, name: str, n_words: int, where: str) -> Span:
    try:
        start, end = (int(v) for v in (value.split(":") if isinstance(value, str) else value))
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be 'start:end' or [start, end], got {value!r}") from None
    if not 0 <= start < end <= n_words:
        raise ValueError(f"{where}: {name} {start}:{end} is outside the sentence's {n_words} words "
                         f"(expected 0 <= start < end <= {n_words})")
    return Span(start, end)


def to_example(record: dict, where: str = "input") -> Example:
    text = record.get("text")
    if not isinstance(text, str) or not text.split():
        raise ValueError(f"{where}: an input needs a 'text' with at least one word, got {text!r}")
    words = text.split()
    image = record.get("image")
    if image is not None and not isinstance(image, str):
        raise ValueError(f"{where}: 'image' must be a path (a string), got {image!r}")
    if image:
        path = Path(image).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"{where}: image {image} does not exist")
        image = str(path)
    entities = [_span(record[k], k, len(words), where) for k in ("head", "tail") if record.get(k) is not None]
    return Example(words, image or None, entities=entities)


@torch.no_grad()
def predict(parts: Assembly, records: list[dict]) -> list[dict]:
    task, model = parts.task, parts.model
    examples = [task.data.unlabeled(to_example(r, f"input {n}")) for n, r in enumerate(records, start=1)]
    dataset = parts.datamodule.serve(examples)
    rows = []
    for batch in parts.datamodule.loader(dataset):
        batch = model.transfer_batch_to_device(batch, model.device, 0)
        predictions = model.decode(batch)
        for example, prediction in zip(batch["examples"], predictions):
            encoded = dataset.encoded[len(rows)]
            flags = {"truncated": True, "words_read": encoded.kept_words} if encoded.truncated else {}
            if example.image in dataset.store.unreadable:  # predicted as without an image
                flags["image_unreadable"] = dataset.store.unreadable[example.image]
            rows.append({"text": " ".join(example.words), "image": example.image, **flags,
                         **task.output.prediction(example, prediction)})
    return rows


def read_inputs(path: Path) -> list[dict]:
    """The inputs file's records; a line that is not one JSON object stops with ``file:line``."""
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                record = None
            if not isinstance(record, dict):
                raise DataFormatError(path, number, 'one JSON object per line ({"text": ..., "image": ...})', line)
            records.append(record)
    return records


def parse(cfg: DictConfig) -> dict:
    """The command's keys as plain values; a missing key stops with its name and the usage."""
    if OmegaConf.is_missing(cfg, "ckpt"):
        raise SystemExit(f"fusionlab.predict: missing ckpt=<path> (a run's checkpoints/best.ckpt)\n{USAGE}")
    options = OmegaConf.to_container(cfg)
    if options["text"] is None and options["inputs"] is None:
        raise SystemExit(f"fusionlab.predict: missing text=\"...\" or inputs=<file.jsonl>\n{USAGE}")
    if options["text"] is not None and options["inputs"] is not None:
        raise SystemExit(f"fusionlab.predict: text and inputs exclude each other: give one\n{USAGE}")
    if options["text"] is not None:
        options["text"] = str(options["text"])  # text=2017 is read by Hydra as a number
    return options


@hydra.main(version_base="1.3", config_path=CONF, config_name="predict")
def main(cfg: DictConfig) -> None:
    """Print the checkpoint's predictions on the inputs, one JSON line each."""
    options = parse(cfg)
    if options["inputs"] is not None:
        records = read_inputs(Path(options["inputs"]))
    else:
        records = [{k: options[k] for k in ("text", "image", "head", "tail")}]
    for row in predict(load_run(options["ckpt"]), records):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
