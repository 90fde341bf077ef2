"""What importing fusionlab.schema registers: each method's fusion schema in Hydra's ConfigStore, as
``schema/fusion/<method>``, which conf/fusion/<method>.yaml names first in its defaults."""

from __future__ import annotations

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from fusionlab.schema.concat import ConcatConfig, ConcatOptions
from fusionlab.schema.fusion import FusionConfig
from fusionlab.schema.hvpnet import HVPNeTConfig, HVPNeTOptions
from fusionlab.schema.mase import MASEConfig, MASEOptions
from fusionlab.schema.muse import MuSEConfig, MuSEOptions
from fusionlab.schema.pmei import PMEIConfig, PMEIOptions
from fusionlab.schema.text_only import TextOnlyConfig, TextOnlyOptions

SCHEMA_GROUP = "schema/fusion"
CONFIGS: dict[str, type[FusionConfig]] = {"text_only": TextOnlyConfig, "concat": ConcatConfig,
                                          "hvpnet": HVPNeTConfig, "muse": MuSEConfig, "mase": MASEConfig,
                                          "pmei": PMEIConfig}
OPTIONS: dict[str, type] = {"text_only": TextOnlyOptions, "concat": ConcatOptions, "hvpnet": HVPNeTOptions,
                            "muse": MuSEOptions, "mase": MASEOptions, "pmei": PMEIOptions}  # method -> its options


def register() -> None:
    store = ConfigStore.instance()
    for method, config in CONFIGS.items():
        store.store(group=SCHEMA_GROUP, name=method, node=config)


def option_values(method: str, options: dict | None = None) -> dict:
    """The keyword arguments that build ``method``: its schema's defaults (their one home) with ``options``
    merged on and checked against the schema, as plain values."""
    merged = OmegaConf.merge(OmegaConf.structured(OPTIONS[method]), options or {})
    return OmegaConf.to_container(merged, enum_to_str=True)
