"""fusionlab: multimodal fusion methods for information extraction, compared on equal terms.

The Python API (docs/guide.md, "Python API"): ``fusionlab.train(overrides=[...])``, ``fusionlab.evaluate(run_dir)``,
``fusionlab.load(run_dir).predict(texts)`` and ``fusionlab.report(runs=...)``, imported when first used, so that
``import fusionlab`` stays light. ``train``, ``evaluate`` and ``report`` are the entry modules of the commands,
callable as the API's functions (fusionlab.api.callable_module)."""

import importlib
from pathlib import Path

from fusionlab import schema  # noqa: F401  (the schemas conf/fusion/*.yaml names)
from fusionlab.config import resolvers  # noqa: F401  (the resolvers conf/*.yaml uses)

# The config tree every command composes from, shipped in the package (in the repository, a link to conf/),
# as an absolute path so that console scripts find it too
CONF = str(Path(__file__).resolve().parent / "conf")

__version__ = "0.1.0"

_COMMANDS = ("train", "evaluate", "report")  # entry modules, callable as the API's functions
_API = {"load": "fusionlab.api.loading", "LoadedRun": "fusionlab.api.loading", "RunResult": "fusionlab.api.results",
        "Evaluation": "fusionlab.api.results", "Report": "fusionlab.api.results"}
__all__ = ["CONF", *_COMMANDS, *_API]


def __getattr__(name: str):
    """The API's names, imported at their first use (PEP 562)."""
    if name in _COMMANDS:
        return importlib.import_module(f"fusionlab.{name}")  # which also binds it here
    if name in _API:
        value = globals()[name] = getattr(importlib.import_module(_API[name]), name)
        return value
    raise AttributeError(f"module 'fusionlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
