"""MASE (seed 004): self-balanced EM over modality features and proxies, with the MSSG."""

from fusionlab.fusion.mase.model import MASE

__all__ = ["MASE"]
