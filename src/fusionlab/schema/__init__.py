"""Typed schemas of the fusion configs: one per method, registered in Hydra's ConfigStore on import.

conf/fusion/<method>.yaml names its schema first in its defaults list (``/schema/fusion/<method>@_here_``),
so Hydra merges the yaml, its variants, experiments and command-line overrides onto it: an option of
the wrong type, an unknown one, or a value outside an option's fixed set (a ``Choice``) fails while the
config is composed, and the message lists the values that fit. Each config also declares what its
method serves and needs (``FusionConfig.declaration``), read by fusionlab.config.checks.
"""

from fusionlab.schema.registry import OPTIONS, option_values, register

register()

__all__ = ["OPTIONS", "option_values"]
