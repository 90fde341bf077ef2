"""fusionlab: multimodal fusion methods for information extraction, compared on equal terms."""

from fusionlab import resolvers  # noqa: F401  (the resolvers conf/*.yaml uses)

__version__ = "0.1.0"
