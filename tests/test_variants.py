"""A paper variant builds what its name says under every paper config of its method.

An experiment is ``@package _global_`` and merged after the fusion group, so a key it sets would beat the
variant's (``experiment=muse_twitter2015 fusion=muse_wo_lit`` would train full MuSE). Every pair of an
experiment and a variant of the experiment's method is composed here, both discovered from ``conf/``.
"""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from fusionlab.config.checks import check_combination, method_declaration
from fusionlab.train import assemble
from tests.conftest import CONF, compose_config
from tests.fixtures import write_dataset
from tests.test_experiments import EXPERIMENTS, chosen


def variant_base(name: str) -> str | None:
    """The fusion config a variant builds on (the first entry of its defaults list), or None for a method."""
    defaults = OmegaConf.load(CONF / "fusion" / f"{name}.yaml").get("defaults", [])
    bases = [entry for entry in defaults if isinstance(entry, str) and entry != "_self_" and "/" not in entry]
    return bases[0] if bases else None


BASES = {p.stem: variant_base(p.stem) for p in sorted((CONF / "fusion").glob("*.yaml"))}
VARIANTS = {name: base for name, base in BASES.items() if base}


def set_keys(node, prefix: str = "") -> dict[str, object]:
    """Every leaf key a config file sets (dotted), its defaults list and name left out."""
    keys = {}
    for key, value in node.items():
        if prefix == "" and key in ("defaults", "name"):
            continue
        dotted = f"{prefix}{key}"
        keys.update(set_keys(value, f"{dotted}.") if isinstance(value, dict) else {dotted: value})
    return keys


# read from the experiment files, not composed (which every pytest process collecting this file would pay for);
# tests/test_experiments.py checks that the composed experiment keeps this choice
METHODS = {experiment: chosen(experiment, "fusion") for experiment in EXPERIMENTS}
PAIRS = [(experiment, variant) for experiment in EXPERIMENTS for variant, base in VARIANTS.items()
         if base == METHODS[experiment]]


def test_every_method_with_variants_is_paired_with_its_paper_configs():
    methods = set(METHODS.values())
    assert {"hvpnet", "muse", "pmei", "mase"} <= methods
    assert set(VARIANTS.values()) <= methods | {"text_only", "concat"}
    assert len(PAIRS) == 3 * 3 + 4 * 6 + 6 * 5 + 2 * 4  # hvpnet, muse, pmei (its CPU config too), mase
    assert {v for _, v in PAIRS} == set(VARIANTS)


@pytest.mark.parametrize("experiment, variant", PAIRS)
def test_the_variant_keeps_every_key_it_sets_under_the_paper_config(experiment, variant):
    cfg = compose_config([f"experiment={experiment}", f"fusion={variant}", "output_dir=/tmp/x"])
    assert cfg.fusion.name == variant
    composed = OmegaConf.to_container(cfg.fusion, enum_to_str=True)
    for key, value in set_keys(OmegaConf.to_container(OmegaConf.load(CONF / "fusion" / f"{variant}.yaml"))).items():
        node = composed
        for part in key.split("."):
            node = node[part]
        assert node == value, f"experiment={experiment} fusion={variant}: fusion.{key} is {node}, the variant sets {value}"
    if cfg.task.name in method_declaration(cfg)["tasks"]:
        check_combination(cfg)
    else:  # a variant that does not serve the paper's task is refused before any data, saying why
        with pytest.raises(ValueError, match=rf"fusion '{variant}' serves task"):
            check_combination(cfg)


TINY = ["encoder=tiny", "encoder.text.name=tiny", "encoder.vision.name=tiny", "encoder.proxy.name=tiny_clip",
        "trainer=cpu", "logger=none", "data.batch_size=4", "data.num_workers=0"]


def test_muse_only_i_under_its_paper_config_builds_no_decoder_and_never_reads_the_text(tmp_path):
    cfg = compose_config(["experiment=muse_mvsa_single", "fusion=muse_only_i", *TINY, f"data_root={tmp_path}/data",
                          f"output_dir={tmp_path}/run", f"cache_root={tmp_path}/cache"])
    write_dataset(cfg)
    parts = assemble(cfg)
    model, method = parts.model, parts.model.method
    for part in ("text_decoder", "image_decoder", "text_regulariser", "image_regulariser"):
        assert not hasattr(method, part), part
    assert method.alpha == 0 and method.beta == 0 and method.streams == "image"
    batch = next(iter(parts.datamodule.train_dataloader()))
    model.training_step(batch, 0).backward()
    assert all(p.grad is None for p in method.text.parameters())
    vision_grads = [p.grad for p in method.image_projection.parameters()]
    assert all(g is not None and torch.count_nonzero(g) > 0 for g in vision_grads)
