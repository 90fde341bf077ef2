"""Each option's default has one home, its method's typed schema (fusionlab.schema); a config file sets
an option only to change it, and says why on that line."""

from __future__ import annotations

import inspect
import re

import pytest
from hydra.utils import get_class
from omegaconf import OmegaConf

from fusionlab.schema import OPTIONS, option_values
from tests.conftest import CONF, compose_config

CONFIG_FILES = sorted([*(CONF / "fusion").glob("*.yaml"), *(CONF / "experiment").glob("*.yaml")])


def flatten(node: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in node.items():
        flat.update(flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return flat


def module_settings(path) -> tuple[str, dict[str, object]]:
    """The method a config file configures and the fusion.module options it sets itself (dotted)."""
    raw = OmegaConf.to_container(OmegaConf.load(path))
    if path.parent.name == "fusion":
        cfg = compose_config([f"fusion={path.stem}", "output_dir=/tmp/x"])
        module = raw.get("module", {})
    else:
        cfg = compose_config([f"experiment={path.stem}", "output_dir=/tmp/x"])
        module = raw.get("fusion", {}).get("module", {})
    settings = {k: v for k, v in flatten(module).items() if k != "_target_"}
    return str(cfg.fusion.family), settings


def line_setting(text: str, key: str) -> str:
    """The line of a config file that sets ``key`` (its last part), below the module's own line."""
    leaf = key.split(".")[-1] if "." not in key or key.split(".")[0] not in ("image_decoder", "text_decoder") \
        else key.split(".")[0]
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.search(r"\bmodule:", line))
    return next(line for line in lines[start:] if re.search(rf"(^|[\s{{,]){re.escape(leaf)}:", line))


@pytest.mark.parametrize("method", sorted(OPTIONS))
def test_the_method_class_has_no_default_of_its_own_for_an_option(method):
    target = OmegaConf.load(CONF / "fusion" / f"{method}.yaml").module._target_
    parameters = inspect.signature(get_class(target)).parameters
    options = option_values(method)
    assert set(options) <= set(parameters), set(options) - set(parameters)
    with_defaults = [name for name in options if parameters[name].default is not inspect.Parameter.empty]
    assert not with_defaults, f"{target} repeats the schema's defaults of {with_defaults}"


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_config_file_sets_an_option_only_to_change_it_and_says_why(path):
    method, settings = module_settings(path)
    defaults = flatten(option_values(method))
    text = path.read_text()
    for key, value in settings.items():
        assert key in defaults, f"{path.name}: fusion.module.{key} is no option of {method}"
        if path.stem == method:  # the method's own file: the schema is the home of its defaults
            assert value != defaults[key], f"{path.name} repeats the schema's default {key}={value}"
        if value != defaults[key]:
            assert "#" in line_setting(text, key), \
                f"{path.name}: fusion.module.{key}={value} (schema default {defaults[key]}) says not why"


def test_muse_decoder_sizes_are_the_schema_s_wherever_they_are_read():
    """The sizes a run builds: the schema's, under the method's own config (once three homes disagreed)."""
    module = compose_config(["fusion=muse", "output_dir=/tmp/x"]).fusion.module
    assert dict(module.image_decoder) == {"filters": 32, "blocks": 1, "components": 5, "dropout": 0.5}
    assert dict(module.text_decoder) == {"embed_dim": 128, "hidden_dim": 256, "attention_dim": 128,
                                         "dropout": 0.5, "penalty": 1.0}
    assert compose_config(["fusion=pmei", "output_dir=/tmp/x"]).fusion.module.alpha == pytest.approx(0.1353352832)
