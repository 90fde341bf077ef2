"""fusionlab: multimodal fusion methods for information extraction, compared on equal terms."""

__version__ = "0.1.0"
