"""HVPNeT (Chen et al., Findings of NAACL 2022): hierarchical visual prefix fusion, with its gate maps."""

from fusionlab.fusion.hvpnet.model import HVPNeT

__all__ = ["HVPNeT"]
