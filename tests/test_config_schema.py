"""Each fusion config carries its method's schema (fusionlab.schema): a bad option fails while the config is
composed, naming what fits; and it declares what the method serves and needs (config_checks.method_declaration)."""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import Enum

import pytest
import torch
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from fusionlab.config.checks import check_combination, method_declaration
from fusionlab.schema import OPTIONS
from fusionlab.train import assemble
from tests.conftest import CONF, compose_config

FUSIONS = sorted(p.stem for p in (CONF / "fusion").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
RAW = {f: OmegaConf.load(CONF / "fusion" / f"{f}.yaml") for f in FUSIONS}
FAMILY = {f: RAW[f].get("family") or RAW[f].defaults[0] for f in FUSIONS}  # a variant's first default: its method
METHODS = sorted(f for f in FUSIONS if FAMILY[f] == f)
INVALID = {int: ("abc", "Integer"), float: ("abc", "Float"), bool: ("maybe", "bool")}


def compose(overrides: list[str]):
    return compose_config([*overrides, "output_dir=/tmp/x"])


def composition_error(overrides: list[str]) -> str:
    """The message of the failed composition, with every cause below it."""
    with pytest.raises(ConfigCompositionException) as caught:
        compose(overrides)
    error, lines = caught.value, []
    while error is not None:
        lines.append(str(error))
        error = error.__cause__
    return "\n".join(lines)


def options(schema: type, prefix: str = "fusion.module.") -> list[tuple[str, type]]:
    """(key, type) of every typed option of a schema, nested options (MuSE's decoders) included."""
    found = []
    for field in dataclasses.fields(schema):
        kind = typing.get_type_hints(schema)[field.name]
        if typing.get_origin(kind) in (typing.Union, types.UnionType):  # X | None
            kind = next(k for k in typing.get_args(kind) if k is not type(None))
        if dataclasses.is_dataclass(kind):
            found += options(kind, f"{prefix}{field.name}.")
        elif kind is not typing.Any:  # PMEI's base: a fusion config of its own, on its own schema
            found.append((f"{prefix}{field.name}", kind))
    return found


def choice(kind: type) -> type[Enum] | None:
    """The value set of an enumerated option (or of a list of them), else None."""
    element = typing.get_args(kind)[0] if typing.get_origin(kind) is list else kind
    return element if isinstance(element, type) and issubclass(element, Enum) else None


ENUMERATED = [(f, key, kind) for f in FUSIONS for key, kind in options(OPTIONS[FAMILY[f]]) if choice(kind)]
TYPED = [(f, key, kind) for f in METHODS for key, kind in options(OPTIONS[f]) if not choice(kind)]


@pytest.mark.parametrize("fusion, key, kind", ENUMERATED, ids=[f"{f}-{k.split('.')[-1]}" for f, k, _ in ENUMERATED])
def test_a_value_outside_an_option_s_set_fails_at_composition_naming_the_set(fusion, key, kind):
    value = "[text,not_a_value]" if typing.get_origin(kind) is list else "not_a_value"
    message = composition_error([f"fusion={fusion}", f"{key}={value}"])
    valid = [member.value for member in choice(kind)]
    assert f"expected one of [{', '.join(valid)}]" in message


@pytest.mark.parametrize("fusion, key, kind", TYPED, ids=[f"{f}-{k.removeprefix('fusion.module.')}" for f, k, _ in TYPED])
def test_a_value_of_the_wrong_type_fails_at_composition_naming_the_type(fusion, key, kind):
    value, named = INVALID[kind]
    assert named in composition_error([f"fusion={fusion}", f"{key}={value}"])


@pytest.mark.parametrize("fusion", METHODS)
def test_an_unknown_option_fails_at_composition(fusion):
    assert "Key 'routingg' not in" in composition_error([f"fusion={fusion}", "fusion.module.routingg=gate"])


@pytest.mark.parametrize("fusion", FUSIONS)
def test_every_fusion_config_composes_onto_its_method_s_schema(fusion):
    cfg = compose([f"fusion={fusion}"])
    assert cfg.fusion.family == FAMILY[fusion] and issubclass(OmegaConf.get_type(cfg.fusion.module), OPTIONS[FAMILY[fusion]])


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes(experiment):
    cfg = compose([f"experiment={experiment}"])
    assert cfg.fusion.family in METHODS and method_declaration(cfg)["tasks"]


ALL = ["mner", "mre", "joint", "msa"]
TEXT = {"image_mode": "none", "load_aux": False, "target_pixels": None}
IMAGE = {"image_mode": "pixels", "load_aux": False, "target_pixels": None}
CROPS = {"image_mode": "pixels", "load_aux": True, "target_pixels": None}
GENERATED = {"image_mode": "pixels", "load_aux": False, "target_pixels": 32}
PROXY = {"proxy_encoder": "proxy"}
DECLARED = {  # fusion config -> (tasks, needs, encoders), as the methods' classes declared them before the schemas
    "text_only": (ALL, TEXT, {}), "concat": (ALL, IMAGE, {}),
    **{f: (ALL, CROPS, {}) for f in ("hvpnet", "hvpnet_1t3", "hvpnet_flat", "hvpnet_onlyobj")},
    **{f: (ALL, GENERATED, {}) for f in ("muse", "muse_only_t", "muse_only_task", "muse_wo_ct", "muse_wo_lit",
                                         "muse_wo_lti")},
    "muse_only_i": (["msa"], GENERATED, {}),
    **{f: (ALL, IMAGE, {}) for f in ("mase", "mase_wo_balance", "mase_wo_contrastive", "mase_wo_entity", "mpb")},
    **{f: (ALL, CROPS, {}) for f in ("pmei", "pmei_mtl", "pmei_mtl_sm", "pmei_wo_gru", "pmei_wo_interaction",
                                     "pmei_wo_sm")},
}
DECLARED_WITH_OPTIONS = [
    (["fusion=muse", "fusion.module.streams=image"], (["msa"], GENERATED, {})),
    (["fusion=muse_only_i", "fusion.module.streams=both"], (ALL, GENERATED, {})),
    (["fusion=muse", "fusion.module.beta=0"], (ALL, GENERATED, {})),
    (["fusion=mase", "fusion.module.modalities=[text,proxy]"], (ALL, TEXT, PROXY)),
    (["fusion=mase", "fusion.module.modalities=[text,image,proxy]"], (ALL, IMAGE, PROXY)),
    (["fusion=mpb", "fusion.module.modalities=[text]"], (ALL, TEXT, {})),
    (["fusion=pmei", "fusion/base=text_only"], (ALL, TEXT, {})),
    (["fusion=pmei_mtl", "fusion/base=concat", "fusion.base.module.stages=last"], (ALL, IMAGE, {})),
    (["experiment=mase_mnre"], (ALL, IMAGE, PROXY)),
    (["experiment=pmei_nyt"], (ALL, TEXT, {})),
    (["experiment=muse_mvsa_single"], (ALL, GENERATED, {})),
]


def test_every_fusion_config_has_its_declaration_asserted():
    assert set(DECLARED) == set(FUSIONS)


@pytest.mark.parametrize("overrides, expected", [*(([f"fusion={f}"], d) for f, d in DECLARED.items()),
                                                 *DECLARED_WITH_OPTIONS])
def test_the_declaration_follows_the_options(overrides, expected):
    tasks, needs, encoders = expected
    declared = method_declaration(compose(overrides))
    assert declared == {"tasks": tasks, "needs": needs, "encoders": encoders}
    assert all(type(value) is str for value in [*declared["tasks"], declared["needs"]["image_mode"]])  # no enums


PMEI_BASES = sorted(path.stem for path in (CONF / "fusion" / "base").glob("*.yaml"))  # the one list of them


def test_pmei_s_bases_are_the_fusion_base_group():
    assert PMEI_BASES == ["concat", "hvpnet", "text_only"]


@pytest.mark.parametrize("base", PMEI_BASES)
def test_pmei_declares_the_needs_of_each_base_as_the_base_declares_them(base):
    pmei = method_declaration(compose(["fusion=pmei", f"fusion/base={base}"]))
    assert pmei["needs"] == method_declaration(compose([f"fusion={base}"]))["needs"]


@pytest.mark.parametrize("base, option, named", [
    ("hvpnet", "fusion.base.module.routing=gat", "expected one of [gate, flat, groups]"),
    ("hvpnet", "fusion.base.module.mapping_dim=wide", "Integer"),
    ("hvpnet", "+fusion.base.module.stages=last", "Key 'stages' not in 'HVPNeTOptions'"),
    ("concat", "fusion.base.module.stages=first", "expected one of [all, last]"),
    ("text_only", "+fusion.base.module.routing=flat", "Key 'routing' not in 'TextOnlyOptions'"),
])
def test_pmei_base_options_are_checked_against_the_base_s_schema_before_any_data(base, option, named):
    with pytest.raises((ConfigCompositionException, ValueError)) as caught:  # while composing, or by the checks
        check_combination(compose(["fusion=pmei", "task=joint", f"fusion/base={base}", option]))
    assert named in f"{caught.value} {caught.value.__cause__}"


def test_pmei_base_options_that_fit_the_base_pass():
    check_combination(compose(["fusion=pmei", "task=joint", "fusion/base=concat", "fusion.base.module.stages=last"]))


@pytest.mark.parametrize("overrides, message", [
    (["fusion=muse", "task=mner", "fusion.module.streams=image"], "serves task msa, not 'mner'"),
    (["fusion=mase", "fusion.module.modalities=[image,text]"], "start with text"),
    (["fusion=mase", "fusion.module.modalities=[text,proxy,proxy]"], "at most once"),
    (["fusion=mase", "fusion.module.modalities=[text,proxy]", "~encoder.proxy"], "encoder.proxy"),
    (["fusion=muse", "fusion.module.theta=1.5"], r"in \[0, 1\]"),
])
def test_options_that_do_not_go_together_fail_before_any_data(overrides, message):
    with pytest.raises(ValueError, match=message):
        check_combination(compose(overrides))


def test_a_run_s_saved_config_declares_and_checks_as_the_composed_one():
    """predict and evaluate rebuild a run from its checkpoint's config: resolved, plain, no schema."""
    cfg = compose(["fusion=mase", "task=mre", "fusion.module.modalities=[text,proxy]"])
    saved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    check_combination(saved)
    assert method_declaration(saved) == method_declaration(cfg)


def test_the_config_a_checkpoint_keeps_holds_plain_values_and_loads_with_weights_only(tmp_path):
    cfg = compose(["fusion=hvpnet", "encoder=tiny", f"output_dir={tmp_path}/run"])
    kept = assemble(cfg, labels={"types": ["PER"]}, read_data=False).model.run_config
    assert type(kept["fusion"]["module"]["routing"]) is str  # not the schema's Choice member
    torch.save({"config": kept}, tmp_path / "saved.pt")
    assert torch.load(tmp_path / "saved.pt", weights_only=True)["config"]["fusion"]["module"]["routing"] == "gate"


@pytest.mark.parametrize("fusion", ["concat", "pmei", "muse_wo_ct"])
def test_an_option_added_past_the_schema_is_refused_before_any_data_naming_it(fusion):
    cfg = compose([f"fusion={fusion}", "+fusion.module.routingg=gate"])  # Hydra's + adds past a schema
    with pytest.raises(ValueError, match=r"fusion.module: Key 'routingg' not in '\w+Options'"):
        check_combination(cfg)
