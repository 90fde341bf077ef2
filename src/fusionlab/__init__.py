"""fusionlab: multimodal fusion methods for information extraction, compared on equal terms."""

from pathlib import Path

from fusionlab import schema  # noqa: F401  (the schemas conf/fusion/*.yaml names)
from fusionlab.config import resolvers  # noqa: F401  (the resolvers conf/*.yaml uses)

# The config tree every command composes from, shipped in the package (in the repository, a link to conf/),
# as an absolute path so that console scripts find it too
CONF = str(Path(__file__).resolve().parent / "conf")

__version__ = "0.1.0"
