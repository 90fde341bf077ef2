"""MuSE (Zhu et al., ACL 2023): the method and its parts, one file each."""

from fusionlab.fusion.muse.model import MuSE

__all__ = ["MuSE"]
