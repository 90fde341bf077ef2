"""``python -m fusionlab.export run_dir=<run> [to=hub|torchscript|onnx] [out=<dir>] [push=true repo_id=<user/name>]``:
a finished run as a folder to share (``fusionlab.sharing``), optionally pushed to the Hugging Face Hub.

A Hydra app (``conf/export.yaml`` documents every key) that writes no output folder or log file. It prints the
folder written (and the Hub commit's URL) on stdout; a run that cannot be exported as asked, or a push that
cannot reach the Hub, stops with a message that says why (the folder written stays).
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from fusionlab import CONF
from fusionlab.console.noise import quiet_known_noise
from fusionlab.sharing.folder import export_run
from fusionlab.sharing.hub import PushError, push_to_hub
from fusionlab.sharing.programs import FORMATS, ExportError

log = logging.getLogger(__name__)
# absolute: a console script calls main from the package, where a relative path would name a module
USAGE = ("usage: python -m fusionlab.export run_dir=<run> [to=hub|torchscript|onnx] [out=<dir>] "
         "[push=true repo_id=<user/name>]   (keys: conf/export.yaml)")
TARGETS = ("hub", *FORMATS)


def parse(cfg: DictConfig) -> dict:
    """The command's keys as plain values; a missing or wrong key stops with its name and the usage."""
    if OmegaConf.is_missing(cfg, "run_dir"):
        raise SystemExit(f"fusionlab.export: missing run_dir=<run> (a finished run's folder)\n{USAGE}")
    options = OmegaConf.to_container(cfg)
    if options["to"] not in TARGETS:
        raise SystemExit(f"fusionlab.export: to={options['to']}: expected one of {', '.join(TARGETS)}\n{USAGE}")
    if options["push"] and not options["repo_id"]:
        raise SystemExit(f"fusionlab.export: push=true needs repo_id=<user or org>/<name>\n{USAGE}")
    run_dir = Path(str(options["run_dir"]))
    options["out"] = Path(str(options["out"] or Path("exported") / f"{run_dir.name}-{options['to']}"))
    options["run_dir"] = run_dir
    return options


@hydra.main(version_base="1.3", config_path=CONF, config_name="export")
def main(cfg: DictConfig) -> None:
    """Export the run, print the folder, and push it when asked."""
    quiet_known_noise()
    options = parse(cfg)
    try:
        folder = export_run(options["run_dir"], options["out"], options["to"])
    except ExportError as error:
        raise SystemExit(f"fusionlab.export: {options['run_dir']}: {error}") from None
    log.info("exported %s to %s", options["run_dir"], folder)
    print(folder, flush=True)
    if options["push"]:
        try:
            print(push_to_hub(folder, options["repo_id"]))
        except PushError as error:
            raise SystemExit(f"fusionlab.export: {error}") from None


if __name__ == "__main__":
    main()
