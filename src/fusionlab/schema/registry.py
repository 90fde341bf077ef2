"""The fusion schemas, each registered by its own file (``@fusion_schema("<method>")`` on its config): in
Hydra's ConfigStore as ``schema/fusion/<method>``, which conf/fusion/<method>.yaml names first in its
defaults, and by method for ``option_values``. Importing fusionlab.schema imports every schema file."""

from __future__ import annotations

from dataclasses import fields

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from fusionlab.schema.fusion import FusionConfig, Target

SCHEMA_GROUP = "schema/fusion"
CONFIGS: dict[str, type[FusionConfig]] = {}
OPTIONS: dict[str, type] = {}  # method -> its options: the dataclass whose fields are the method's keywords


def fusion_schema(method: str):
    """Register the decorated ``FusionConfig`` as ``method``'s schema; its ``module`` field's class is its
    options and ``Target`` (the ``_target_``)."""
    def register(config: type[FusionConfig]) -> type[FusionConfig]:
        module = next(f for f in fields(config) if f.name == "module").default_factory
        CONFIGS[method] = config
        OPTIONS[method] = next(base for base in module.__bases__ if base is not Target)
        ConfigStore.instance().store(group=SCHEMA_GROUP, name=method, node=config)
        return config
    return register


def option_values(method: str, options: dict | None = None) -> dict:
    """The keyword arguments that build ``method``: its schema's defaults (their one home) with ``options``
    merged on and checked against the schema, as plain values."""
    merged = OmegaConf.merge(OmegaConf.structured(OPTIONS[method]), options or {})
    return OmegaConf.to_container(merged, enum_to_str=True)
