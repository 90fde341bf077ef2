"""MuSE (seeds/003): the LightningModule and its parts, one file each."""

from fusionlab.fusion.muse.model import MuSE

__all__ = ["MuSE"]
