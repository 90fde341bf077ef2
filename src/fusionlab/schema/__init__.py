"""Typed schemas of the fusion configs: one per method, registered in Hydra's ConfigStore on import.

conf/fusion/<method>.yaml names its schema first in its defaults list (``/schema/fusion/<method>@_here_``),
so Hydra merges the yaml, its variants, experiments and command-line overrides onto it: an option of
the wrong type, an unknown one, or a value outside an option's fixed set (a ``Choice``) fails while the
config is composed, and the message lists the values that fit. Each config also declares what its
method serves and needs (``FusionConfig.declaration``), read by fusionlab.config.checks.
"""

import importlib
import pkgutil

from fusionlab.schema.registry import OPTIONS, option_values

for _schema in pkgutil.iter_modules(__path__):  # each method's schema registers itself as it is imported
    importlib.import_module(f"{__name__}.{_schema.name}")

__all__ = ["OPTIONS", "option_values"]
