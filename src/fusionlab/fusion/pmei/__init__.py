"""PMEI (Sun et al., AAAI 2021): the method and its stochastic map, one file each."""

from fusionlab.fusion.pmei.model import PMEI

__all__ = ["PMEI"]
