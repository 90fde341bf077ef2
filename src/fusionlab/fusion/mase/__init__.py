"""MASE (anonymous ACM MM 2024 submission): self-balanced EM over modality features and proxies, with the MSSG."""

from fusionlab.fusion.mase.model import MASE

__all__ = ["MASE"]
