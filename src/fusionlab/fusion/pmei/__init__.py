"""PMEI (seeds/002): the method and its stochastic map, one file each."""

from fusionlab.fusion.pmei.model import PMEI

__all__ = ["PMEI"]
