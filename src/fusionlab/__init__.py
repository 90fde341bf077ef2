"""fusionlab: multimodal fusion methods for information extraction, compared on equal terms."""

from pathlib import Path

from fusionlab import resolvers, schema  # noqa: F401  (the resolvers and schemas conf/*.yaml uses)

# The config tree every command composes from (an absolute path, so console scripts find it too)
CONF = str(Path(__file__).resolve().parents[2] / "conf")

__version__ = "0.1.0"
