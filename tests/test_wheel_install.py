"""A built wheel works outside the source tree: the configs travel inside the package (fusionlab/conf), so
its console scripts compose and train from a fresh virtual environment, wherever they are called from."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path
from zipfile import ZipFile

ROOT = Path(__file__).resolve().parents[1]
TINY = ["fusion=text_only", "encoder=tiny", "logger=none", "trainer.enable_progress_bar=false", "trainer.max_epochs=1",
        "dataset.synthetic.train=32", "dataset.synthetic.val=16", "dataset.synthetic.test=16", "data.batch_size=16"]


def _run(command: list, **options) -> subprocess.CompletedProcess:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=300, **options)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_a_wheel_installed_in_a_fresh_venv_composes_and_trains_from_its_own_configs(tmp_path):
    source = tmp_path / "source"  # a copy, so that building leaves nothing in the checkout
    shutil.copytree(ROOT / "src", source / "src", symlinks=True,
                    ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    shutil.copytree(ROOT / "conf", source / "conf")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist",
          source])
    wheel = next((tmp_path / "dist").glob("fusionlab-*.whl"))
    shipped = {name.split("fusionlab/conf/", 1)[1] for name in ZipFile(wheel).namelist() if "fusionlab/conf/" in name}
    assert shipped == {str(path.relative_to(ROOT / "conf")) for path in (ROOT / "conf").rglob("*.yaml")}

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", "--no-index", "-q",
          wheel])
    # the dependencies (torch, lightning, ...) from this environment; fusionlab itself only from the wheel
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(site.getsitepackages()), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([venv / "bin" / "python", "-c", "import fusionlab; print(fusionlab.CONF)"], cwd=elsewhere, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv) and (Path(where.stdout.strip()) / "config.yaml").is_file()

    helped = _run([venv / "bin" / "fusionlab-train", "--help"], cwd=elsewhere, env=env)
    groups = dict(line.split(": ", 1) for line in helped.stdout.split("== Config ==")[0].splitlines() if ": " in line)
    assert "pmei" in groups["fusion"].split(", ") and groups["task"] == "joint, mner, mre, msa"  # the shipped conf/

    _run([venv / "bin" / "fusionlab-train", *TINY, f"cache_root={tmp_path / 'cache'}", "hydra.run.dir=run"],
         cwd=elsewhere, env=env)
    results = json.loads((elsewhere / "run" / "results.json").read_text())
    assert results["fusion"] == "text_only" and results["metrics"]["test"]["f1"] >= 0.0
    assert results["data"]["splits"]["test"]["examples"] == 16
