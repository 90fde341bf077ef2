"""``python -m fusionlab.predict ckpt=<path> text="..." [image=<path>] [head=0:2 tail=4:5]``
or ``python -m fusionlab.predict ckpt=<path> inputs=<file.jsonl>``: predictions as JSON lines on stdout.

A Hydra app (``conf/predict.yaml`` documents every key) that writes no output folder or log file.
``ckpt`` is a run folder, its checkpoint or an exported folder (``fusionlab.export``); the run is rebuilt
from it alone (``fusionlab.sharing.loading``): it holds the run's config and label vocabulary, so no
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
from fusionlab.console.noise import quiet_known_noise
from fusionlab.data.inputs import read_inputs, to_example
from fusionlab.sharing.loading import load_assembly
from fusionlab.train import Assembly

# absolute: a console script calls main from the package, where a relative path would name a module
USAGE = ("usage: python -m fusionlab.predict ckpt=<run dir or .ckpt> text=\"...\" [image=<path>] [head=0:2 tail=4:5]\n"
         "   or: python -m fusionlab.predict ckpt=<path> inputs=<file.jsonl>   (keys: conf/predict.yaml)")


@torch.no_grad()
def predict(parts: Assembly, records: list[dict]) -> list[dict]:
    task, model = parts.task, parts.model
    examples = [task.data.unlabeled(to_example(r, f"input {n}")) for n, r in enumerate(records, start=1)]
    dataset = parts.datamodule.serve(examples)
    rows = []
    for batch in parts.datamodule.loader(dataset):
        batch = model.transfer_batch_to_device(batch, model.device, 0)
        predictions, confidences = model.decode_with_confidence(batch)
        for example, prediction, confidence in zip(batch["examples"], predictions, confidences):
            encoded = dataset.encoded[len(rows)]
            flags = {"truncated": True, "words_read": encoded.kept_words} if encoded.truncated else {}
            if example.image in dataset.store.unreadable:  # predicted as without an image
                flags["image_unreadable"] = dataset.store.unreadable[example.image]
            rows.append({"text": " ".join(example.words), "image": example.image, **flags,
                         **task.output.prediction(example, prediction, confidence)})
    return rows


def parse(cfg: DictConfig) -> dict:
    """The command's keys as plain values; a missing key stops with its name and the usage."""
    if OmegaConf.is_missing(cfg, "ckpt"):
        raise SystemExit(f"fusionlab.predict: missing ckpt=<path> (a run folder, or its checkpoints/best.ckpt)\n{USAGE}")
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
    quiet_known_noise()
    options = parse(cfg)
    if options["inputs"] is not None:
        records = read_inputs(Path(options["inputs"]))
    else:
        records = [{k: options[k] for k in ("text", "image", "head", "tail")}]
    for row in predict(load_assembly(options["ckpt"]), records):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
