"""Run outputs as Lightning callbacks, chosen by the ``callbacks`` config group (``conf/callbacks``):
test prediction dumps, HVPNeT's gate maps, MASE's allocation plot, W&B media. A method's training
itself never depends on them (what it needs, such as MASE's E-step, it brings itself)."""

from fusionlab.callbacks.allocation import AllocationPlot
from fusionlab.callbacks.gate_maps import GateMaps
from fusionlab.callbacks.predictions import PredictionDump
from fusionlab.callbacks.wandb_media import WandbMedia

__all__ = ["AllocationPlot", "GateMaps", "PredictionDump", "WandbMedia"]
