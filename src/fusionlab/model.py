"""The one LightningModule: a fusion method, the task head on its states, and everything around them.

``FusionModel`` owns what every method shares: the task head and its loss, the training loss
(task loss weighted as the method asks, plus the method's extra losses), validation and test
metrics (and one per evaluation group), optimiser groups (AdamW with weight decay 0.01 except
biases and norms, one learning rate each for pretrained encoders, the method's own layers and the
task heads, warm-up then a linear decay or a constant rate), and checkpoints that describe themselves. The method
(``fusionlab.fusion.base.FusionMethod``) only fuses; run outputs are callbacks (``conf/callbacks``).
"""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.utilities import GradClipAlgorithmType
from torch import nn
from transformers import get_constant_schedule_with_warmup, get_linear_schedule_with_warmup

from fusionlab.data.dataset import ExampleBatch
from fusionlab.encoders.dropout import use_random_bits_dropout
from fusionlab.fusion.base import FusionMethod
from fusionlab.tasks.base import Task
from fusionlab.tasks.head import TaskHead


class FusionModel(L.LightningModule):
    def __init__(self, method: FusionMethod, task: Task, lr: float = 1e-3, encoder_lr: float = 5e-5,
                 head_lr: float = 1e-3, weight_decay: float = 0.01, warmup_ratio: float = 0.1,
                 schedule: str = "linear"):
        super().__init__()
        self.method, self.task = method, task
        self.head = task.head(method.output_size)
        self.val_metric, self.test_metric = task.output.metric(), task.output.metric()
        self.lr, self.encoder_lr, self.head_lr = lr, encoder_lr, head_lr
        self.weight_decay, self.warmup_ratio, self.schedule = weight_decay, warmup_ratio, schedule
        self.run_config: dict | None = None  # the resolved run config, set by ``train.assemble``
        self.run_fingerprint: dict | None = None  # what the run's result depends on (fusionlab.run.fingerprint)
        use_random_bits_dropout(self)  # dropout masks cheaper to draw on CPU (encoders/dropout.py)
        # from_pretrained leaves encoders in eval mode, and Lightning keeps submodule modes: train
        # everything here (a frozen vision encoder stays in eval mode by itself).
        self.train()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Every checkpoint describes itself: the label vocabulary its heads are sized by and the run's
        config, so ``fusionlab.predict`` rebuilds the model from the checkpoint alone, and the fingerprint
        it was trained under, so a resume from it is checked also when ``run.json`` is lost."""
        checkpoint["fusionlab"] = {"labels": self.task.data.vocabulary(), "config": self.run_config,
                                   "fingerprint": self.run_fingerprint}

    def configure_callbacks(self) -> list[L.Callback]:
        return self.method.callbacks()

    def summary(self) -> dict:
        return self.method.summary()

    # --- steps -----------------------------------------------------------------------------
    def decode(self, batch: dict) -> list:
        """The task head's predictions for ``batch`` (what testing and per-epoch tests read)."""
        return self.head.decode(self.method(batch).states, batch)

    def decode_with_confidence(self, batch: dict) -> tuple[list, list]:
        """The predictions and the probabilities they are read with (what predict reports)."""
        return self.head.decode_with_confidence(self.method(batch).states, batch)

    def training_step(self, batch, batch_idx):
        fused = self.method(batch)
        task_loss = self.head.loss(fused.states, batch)
        loss = self.method.task_loss_weight() * task_loss + sum(fused.losses.values())
        size = len(batch["examples"])
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        self.log("train/task_loss", task_loss, batch_size=size)
        for name, value in {**fused.losses, **fused.logs}.items():
            self.log(f"train/{name}", value, batch_size=size)
        return loss

    def _evaluate(self, batch, metric, stage: str) -> list:
        outputs = self.head(self.method(batch).states, batch)
        self.log(f"{stage}/loss", self.head.loss_of(outputs, batch), batch_size=len(batch["examples"]))
        predictions = self.head.decode_of(outputs, batch)
        self.task.output.score(metric, predictions, batch)
        return predictions

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch, self.val_metric, "val")

    def on_validation_epoch_end(self):
        self.log_dict({f"val/{k}": v for k, v in self.val_metric.compute().items()})
        self.val_metric.reset()

    def on_test_start(self):
        """One extra metric per evaluation group the datamodule names (e.g. irrelevant-image samples)."""
        groups = getattr(self.trainer.datamodule, "groups", [])
        self.group_metrics = nn.ModuleDict({g: self.task.output.metric() for g in groups}).to(self.device)

    def test_step(self, batch, batch_idx) -> list:
        """Scores the batch and returns its predictions (what the prediction dump writes)."""
        predictions = self._evaluate(batch, self.test_metric, "test")
        examples = batch["examples"]
        for group, metric in self.group_metrics.items():
            members = [i for i, e in enumerate(examples) if e.group == group]
            if members:
                self.task.output.score(metric, [predictions[i] for i in members], select(batch, members, len(examples)))
        return predictions

    def on_test_epoch_end(self):
        self.log_dict({f"test/{k}": v for k, v in self.test_metric.compute().items()})
        self.test_metric.reset()
        for group, metric in self.group_metrics.items():
            self.log_dict({f"test_group/{group}/{k}": v for k, v in metric.compute().items()})
            metric.reset()

    # --- optimisation ----------------------------------------------------------------------
    def parameter_groups(self) -> list[dict]:
        """AdamW groups: (encoder | method layer | task head) x (decayed | bias and norm weights).

        Task heads (every ``TaskHead``, CRF included, PMEI's early classifiers too) share one rate
        across methods, so that a method whose own layers need a small rate (HVPNeT's prefix, MuSE)
        does not also slow its heads. ``head_lr=0`` keeps the heads at their initialisation: they join no
        group (HVPNeT's reference trains no RE classifier).
        """
        no_decay = {id(p) for m in self.modules() if isinstance(m, (nn.LayerNorm, nn.BatchNorm2d, nn.Embedding))
                    for p in m.parameters(recurse=False)}
        no_decay |= {id(p) for n, p in self.named_parameters() if n.endswith("bias")}
        encoders = {id(p) for enc in (self.method.text, self.method.vision) if enc is not None for p in enc.parameters()}
        heads = {id(p) for m in self.modules() if isinstance(m, TaskHead) for p in m.parameters()}
        rates = {"encoder": self.encoder_lr, "head": self.head_lr, "method": self.lr}
        groups = {}
        for param in self.parameters():
            role = "encoder" if id(param) in encoders else "head" if id(param) in heads else "method"
            if not param.requires_grad or rates[role] == 0:
                continue
            groups.setdefault((role, id(param) in no_decay), []).append(param)
        return [{"params": params, "lr": rates[role], "weight_decay": 0.0 if exempt else self.weight_decay}
                for (role, exempt), params in groups.items()]

    @staticmethod
    def adamw_kernel(precision: str = "32-true") -> dict[str, bool | None]:
        """AdamW's ``fused`` and ``foreach`` under ``precision``: fused (one kernel for all tensors: the same
        update to float rounding, several times faster than PyTorch's per-tensor loop on CPU); under 16-mixed,
        whose loss scaler Lightning will not let a fused optimiser's step unscale before clipping, the
        multi-tensor one."""
        scaled = str(precision).startswith("16")
        return {"fused": None if scaled else True, "foreach": True if scaled else None}

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """Lightning's clipping, except that under bf16-mixed, which has no loss scaler and so nothing a fused
        step would unscale, gradients are clipped through the fused AdamW as in fp32 (Lightning's mixed-precision
        plugin refuses every fused optimiser)."""
        plugin = self.trainer.precision_plugin
        if isinstance(plugin, MixedPrecision) and plugin.scaler is None:
            Precision.clip_gradients(plugin, optimizer, gradient_clip_val or 0.0,
                                     GradClipAlgorithmType(gradient_clip_algorithm or "norm"))
        else:
            super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def optimizer(self, precision: str = "32-true") -> torch.optim.AdamW:
        """AdamW over ``parameter_groups``, its kernel as ``adamw_kernel`` chooses for ``precision``."""
        return torch.optim.AdamW(self.parameter_groups(), **self.adamw_kernel(precision))

    def configure_optimizers(self):
        optimizer = self.optimizer(self.trainer.precision)
        total = self.trainer.estimated_stepping_batches
        warmup = int(self.warmup_ratio * total)
        schedule = (get_linear_schedule_with_warmup(optimizer, warmup, total) if self.schedule == "linear"
                    else get_constant_schedule_with_warmup(optimizer, warmup))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def select(batch, members: list[int], size: int):
    """The rows ``members`` of a batch of ``size`` samples (tensors, lists and feature dicts alike)."""
    if isinstance(batch, dict):
        return {k: select(v, members, size) for k, v in batch.items()}
    if isinstance(batch, torch.Tensor) and batch.dim() and batch.size(0) == size:
        return batch[members]
    if isinstance(batch, (list, ExampleBatch)) and len(batch) == size:
        return type(batch)([batch[i] for i in members])
    return batch
