"""Generic run outputs as Lightning callbacks, chosen by the ``callbacks`` config group (``conf/callbacks``):
test prediction dumps and W&B media. A method's own outputs and what its training needs (HVPNeT's gate
maps, MASE's E-step and allocation plot) come with the method (``FusionMethod.callbacks``)."""

from fusionlab.callbacks.predictions import PredictionDump
from fusionlab.callbacks.wandb_media import WandbMedia

__all__ = ["PredictionDump", "WandbMedia"]
