"""The exported folder: what a trained run shares, and how it is loaded back without the dataset.

``model.safetensors`` (the model's state dict), ``config.json`` (the run config), ``labels.json`` (the label
vocabulary the heads are sized by), ``README.md`` (the model card, ``fusionlab.sharing.card``) and
``fusionlab.json`` (the format's name and version, the run, and the traced program when there is one:
``model.pt`` or ``model.onnx``, ``fusionlab.sharing.programs``). The folder is untrusted input when loaded:
nothing in it runs code (safetensors for the weights, JSON for the rest, the config rebuilt through
``fusionlab.config.stored.trusted_config``). It is written whole or not at all.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from safetensors.torch import load_model, save_model

from fusionlab.config.stored import trusted_config
from fusionlab.sharing.card import model_card
from fusionlab.sharing.checkpoint import load_checkpoint
from fusionlab.sharing.programs import write_program
from fusionlab.storage.records import read_json
from fusionlab.train import Assembly, assemble

MARKER, FORMAT, VERSION = "fusionlab.json", "fusionlab-export", 1
WEIGHTS, CONFIG, LABELS, CARD = "model.safetensors", "config.json", "labels.json", "README.md"


def export_run(run_dir: str | Path, out: str | Path, to: str = "hub") -> Path:
    """Write the exported folder of the finished run ``run_dir`` to ``out`` (absent or empty); ``to``:
    hub (the folder only), torchscript or onnx (the folder and the traced program)."""
    run_dir, out = Path(run_dir), Path(out)
    results_path, checkpoint = run_dir / "results.json", run_dir / "checkpoints" / "best.ckpt"
    for needed in (results_path, checkpoint):
        if not needed.is_file():
            raise FileNotFoundError(f"{needed} does not exist: run_dir must be a finished run's folder (with "
                                    f"results.json and checkpoints/best.ckpt)")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty: remove it or give another out=")
    results = read_json(results_path, "train the run again (its command continues or restarts it)")
    parts = load_checkpoint(checkpoint)
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        program = write_program(parts, to, partial) if to != "hub" else None
        save_model(parts.model, str(partial / WEIGHTS))
        (partial / WEIGHTS).chmod(0o644)  # safetensors writes it owner-only; the folder is made to be shared
        _write_json(partial / CONFIG, parts.model.run_config)
        _write_json(partial / LABELS, parts.task.data.vocabulary())
        (partial / CARD).write_text(model_card(results, run_dir, parts.model.method, program))
        _write_json(partial / MARKER, {"format": FORMAT, "version": VERSION, "run": run_dir.name,
                                       "code": results.get("run", {}).get("code"), "program": program})
    except BaseException:
        shutil.rmtree(partial)
        raise
    if out.exists():
        out.rmdir()
    partial.rename(out)
    return out


def _write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n")


def is_exported(path: str | Path) -> bool:
    return (Path(path) / MARKER).is_file()


def load_exported(path: str | Path) -> Assembly:
    """The run's task, datamodule and model from an exported folder, in eval mode (no dataset is read)."""
    path = Path(path)
    marker = read_json(path / MARKER, "export the run again") if is_exported(path) else None
    if not isinstance(marker, dict) or marker.get("format") != FORMAT or marker.get("version") != VERSION:
        raise ValueError(f"{path / MARKER}: expected a fusionlab export marker with format {FORMAT!r} and version "
                         f"{VERSION}, found {marker!r}: export the run again with this version")
    config = trusted_config(read_json(path / CONFIG, "export the run again"), str(path / CONFIG))
    parts = assemble(config, labels=read_json(path / LABELS, "export the run again"), read_data=False)
    try:
        load_model(parts.model, str(path / WEIGHTS))
    except (RuntimeError, OSError) as error:  # missing, unexpected or mis-shaped tensors; an unreadable file
        raise ValueError(f"{path / WEIGHTS}: does not hold the weights {path / CONFIG} builds "
                         f"({str(error).splitlines()[0]}): export the run again") from None
    parts.model.eval()
    return parts
