"""docs/adding-a-method.md works as written: its three code blocks, placed where the guide says (here in a
temporary package and config folder rather than the source tree), give a method that composes, refuses a
wrong option while composing, trains, tests and writes its results like any other."""

from __future__ import annotations

import importlib
import json
import re
import sys

import pytest
from hydra.errors import ConfigCompositionException

from fusionlab.schema import registry
from fusionlab.train import run
from tests.conftest import CONF, compose_config

GUIDE = CONF.parent / "docs" / "adding-a-method.md"


def guide_blocks() -> dict[str, str]:
    """The guide's python and yaml code blocks, keyed by the file each section names."""
    sections = re.split(r"(?m)^## ", GUIDE.read_text())
    blocks = {}
    for section in sections:
        path = re.search(r"`((?:src|conf)/[^`]+\.(?:py|yaml))`", section.splitlines()[0] if section else "")
        code = re.search(r"```(?:python|yaml)\n(.*?)```", section, re.S)
        if path and code:
            blocks[path.group(1)] = code.group(1)
    return blocks


@pytest.fixture
def guide_method(tmp_path, monkeypatch):
    """The guide's files under tmp_path: fusion/mean_image.py and schema/mean_image.py as modules of a
    package ``guide``, conf/fusion/mean_image.yaml in a config folder added to Hydra's search path."""
    blocks = guide_blocks()
    assert set(blocks) == {"src/fusionlab/fusion/mean_image.py", "src/fusionlab/schema/mean_image.py",
                           "conf/fusion/mean_image.yaml"}
    package = tmp_path / "guide"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mean_image.py").write_text(blocks["src/fusionlab/fusion/mean_image.py"])
    (package / "mean_image_schema.py").write_text(blocks["src/fusionlab/schema/mean_image.py"])
    (tmp_path / "conf" / "fusion").mkdir(parents=True)
    yaml = blocks["conf/fusion/mean_image.yaml"].replace("fusionlab.fusion.mean_image.", "guide.mean_image.")
    (tmp_path / "conf" / "fusion" / "mean_image.yaml").write_text(yaml)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("guide", "guide.mean_image", "guide.mean_image_schema"):  # this test's files, imported afresh
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(registry.CONFIGS, "mean_image", None)  # so that the registration below is undone after
    monkeypatch.setitem(registry.OPTIONS, "mean_image", None)  # the test (the ConfigStore entry is harmless)
    schema = importlib.import_module("guide.mean_image_schema")  # step 2: the schema registers itself
    assert registry.CONFIGS["mean_image"] is schema.MeanImageConfig
    assert registry.OPTIONS["mean_image"] is schema.MeanImageOptions
    return [f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "fusion=mean_image"]


def test_the_guide_s_method_trains_tests_and_reports(guide_method, tiny_overrides, tmp_path):
    results = run(compose_config(tiny_overrides + guide_method + ["task=mner"]))
    assert results["fusion"] == "mean_image" and 0.0 <= results["metrics"]["test"]["f1"] <= 1.0
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["config"]["fusion"]["module"]["stages"] == "last" and saved["params"]["trainable"] > 0
    assert len((tmp_path / "run" / "test_predictions.jsonl").read_text().splitlines()) == 16


def test_the_guide_s_method_refuses_a_wrong_option_while_composing(guide_method, tiny_overrides):
    with pytest.raises(ConfigCompositionException, match="stages"):
        compose_config(tiny_overrides + guide_method + ["fusion.module.stages=middle"])
