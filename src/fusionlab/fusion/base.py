"""What every fusion method shares: task head, metrics, optimiser groups, logging, dumps.

A method subclasses ``FusionModule`` and implements ``fuse(batch) -> Fused``: the fused
token states the task head reads, plus any extra losses of the method. Everything else
(AdamW with weight decay 0.01 except biases and norms, one learning rate each for pretrained
encoders, the method's own layers and the task heads, linear warm-up and decay, metrics and
prediction dumps) lives here.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
from torch import nn
from transformers import get_linear_schedule_with_warmup

from fusionlab.data.datamodule import ExampleBatch
from fusionlab.encoders.text import TextEncoder
from fusionlab.encoders.vision import VisionEncoder
from fusionlab.tasks.base import Task, TaskHead

ALL_TASKS = ("mner", "mre", "joint", "msa")


@dataclass
class Fused:
    states: torch.Tensor  # [B, n, D] token states the task head reads
    losses: dict[str, torch.Tensor] = field(default_factory=dict)  # the method's extra (weighted) losses


class FusionModule(L.LightningModule, ABC):
    supported_tasks: tuple[str, ...] = ALL_TASKS
    image_mode = "pixels"  # "none" for text-only methods
    uses_aux = False  # whether object crops are loaded
    target_pixels: int | None = None  # the size of the image as a generation target, if the method has one

    def __init__(self, task: Task, text_encoder: TextEncoder, vision_encoder: VisionEncoder | None = None,
                 lr: float = 1e-3, encoder_lr: float = 5e-5, head_lr: float = 1e-3, weight_decay: float = 0.01, warmup_ratio: float = 0.1,
                 predictions_file: str | None = "test_predictions.jsonl", representation_only: bool = False):
        super().__init__()
        self.check_task(task.name)
        self.task, self.text, self.vision = task, text_encoder, vision_encoder
        self.representation_only = representation_only  # another method (PMEI) puts its own heads on top
        self.lr, self.encoder_lr, self.head_lr = lr, encoder_lr, head_lr
        self.weight_decay, self.warmup_ratio = weight_decay, warmup_ratio
        self.predictions_file = predictions_file
        self.save_hyperparameters(ignore=["task", "text_encoder", "vision_encoder", "proxy_encoder"])
        self.run_config: dict | None = None  # the resolved run config, set by ``train.assemble``
        self._rows: list[dict] = []

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Every checkpoint describes itself: the label vocabulary its heads are sized by and the run's
        config, so ``fusionlab.predict`` rebuilds the model from the checkpoint alone."""
        checkpoint["fusionlab"] = {"labels": self.task.vocabulary(), "config": self.run_config}

    @classmethod
    def check_task(cls, task: str, options: dict | None = None) -> None:
        """Raise unless this method (configured with ``options``) serves ``task``."""
        if task not in cls.supported_tasks:
            raise ValueError(f"{cls.__name__} serves tasks {list(cls.supported_tasks)}, not {task!r}")

    @classmethod
    def data_needs(cls, options: dict | None = None) -> dict:
        """What the datamodule must load for this method (configured with ``options``)."""
        return {"image_mode": cls.image_mode, "load_aux": cls.uses_aux, "target_pixels": cls.target_pixels}

    @classmethod
    def extra_encoders(cls, options: dict | None = None) -> dict[str, str]:
        """Encoders beyond text and vision this method takes: constructor argument -> the key of
        the ``encoder`` config that builds it (MASE's proxy tower)."""
        return {}

    def summary(self) -> dict:
        """What the method learned beyond its metrics, for ``results.json`` (MASE's z trajectory)."""
        return {}

    def build_head(self, hidden: int) -> None:
        """Called by a subclass once it knows its output width (``output_size``)."""
        self.output_size = hidden
        if not self.representation_only:
            self.head = self.task.head(hidden)
            self.val_metric, self.test_metric = self.task.metric(), self.task.metric()
        # from_pretrained leaves encoders in eval mode, and Lightning keeps submodule modes: train
        # everything here (a frozen vision encoder stays in eval mode by itself).
        self.train()

    # --- the method ------------------------------------------------------------------------
    @abstractmethod
    def fuse(self, batch: dict) -> Fused:
        """The method itself: fused token states (and its extra losses) for ``batch``."""

    def visual_features(self, images, mask=None) -> dict[str, torch.Tensor]:
        """Features of [*, 3, H, W] pixels (running the encoder) or cached features, masked to zero."""
        if isinstance(images, dict):
            features = images
        else:
            lead = images.shape[:-3]
            features = self.vision(images.flatten(0, len(lead) - 1))
            features = {k: v.view(*lead, *v.shape[1:]) for k, v in features.items()}
        if mask is not None:
            features = {k: v * mask.view(*mask.shape, *([1] * (v.dim() - mask.dim()))).to(v.dtype)
                        for k, v in features.items()}
        return features

    def encode_text(self, batch: dict) -> torch.Tensor:
        return self.text(batch["input_ids"], batch["attention_mask"])

    # --- steps -----------------------------------------------------------------------------
    def task_loss_weight(self) -> float:
        """What the task loss is multiplied by in the training loss (a method's weighting may rescale it)."""
        return 1.0

    def training_step(self, batch, batch_idx):
        fused = self.fuse(batch)
        task_loss = self.head.loss(fused.states, batch)
        loss = self.task_loss_weight() * task_loss + sum(fused.losses.values())
        size = len(batch["examples"])
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        self.log("train/task_loss", task_loss, batch_size=size)
        for name, value in fused.losses.items():
            self.log(f"train/{name}", value, batch_size=size)
        return loss

    def decode(self, batch: dict) -> list:
        """The task head's predictions for ``batch`` (what testing, per-epoch tests and predict read)."""
        return self.head.decode(self.fuse(batch).states, batch)

    def _evaluate(self, batch, metric, stage: str):
        fused = self.fuse(batch)
        self.log(f"{stage}/loss", self.head.loss(fused.states, batch), batch_size=len(batch["examples"]))
        predictions = self.head.decode(fused.states, batch)
        self.task.score(metric, predictions, batch)
        return predictions

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch, self.val_metric, "val")

    def on_validation_epoch_end(self):
        self.log_dict({f"val/{k}": v for k, v in self.val_metric.compute().items()})
        self.val_metric.reset()

    def on_test_start(self):
        """One extra metric per evaluation group the datamodule names (e.g. irrelevant-image samples)."""
        groups = getattr(self.trainer.datamodule, "groups", [])
        self.group_metrics = nn.ModuleDict({g: self.task.metric() for g in groups}).to(self.device)

    def test_step(self, batch, batch_idx):
        predictions = self._evaluate(batch, self.test_metric, "test")
        examples = batch["examples"]
        for group, metric in self.group_metrics.items():
            members = [i for i, e in enumerate(examples) if e.group == group]
            if members:
                self.task.score(metric, [predictions[i] for i in members], select(batch, members, len(examples)))
        self._rows += [{"image": e.image, **({"group": e.group} if e.group else {}), **self.task.readable(e, p)}
                       for e, p in zip(examples, predictions)]

    def on_test_epoch_end(self):
        self.log_dict({f"test/{k}": v for k, v in self.test_metric.compute().items()})
        self.test_metric.reset()
        for group, metric in self.group_metrics.items():
            self.log_dict({f"test_group/{group}/{k}": v for k, v in metric.compute().items()})
            metric.reset()
        if self.predictions_file and self.trainer.log_dir:
            rank = f".rank{self.global_rank}" if self.trainer.world_size > 1 else ""
            path = Path(self.trainer.default_root_dir) / self.predictions_file.replace(".jsonl", f"{rank}.jsonl")
            path.write_text("".join(json.dumps(row) + "\n" for row in self._rows))
        self._rows = []

    # --- optimisation ----------------------------------------------------------------------
    def parameter_groups(self) -> list[dict]:
        """AdamW groups: (encoder | method layer | task head) x (decayed | bias and norm weights).

        Task heads (every ``TaskHead``, CRF included) share one rate across methods, so that a
        method whose own layers need a small rate (HVPNeT's prefix, MuSE) does not also slow its
        heads: at HVPNeT's 1e-4 the joint head found no relation in 6 laptop epochs.
        """
        no_decay = {id(p) for m in self.modules() if isinstance(m, (nn.LayerNorm, nn.BatchNorm2d, nn.Embedding))
                    for p in m.parameters(recurse=False)}
        no_decay |= {id(p) for n, p in self.named_parameters() if n.endswith("bias")}
        encoders = {id(p) for enc in (self.text, self.vision) if enc is not None for p in enc.parameters()}
        heads = {id(p) for m in self.modules() if isinstance(m, TaskHead) for p in m.parameters()}
        rates = {"encoder": self.encoder_lr, "head": self.head_lr, "method": self.lr}
        groups = {}
        for param in self.parameters():
            if not param.requires_grad:
                continue
            role = "encoder" if id(param) in encoders else "head" if id(param) in heads else "method"
            groups.setdefault((role, id(param) in no_decay), []).append(param)
        return [{"params": params, "lr": rates[role], "weight_decay": 0.0 if exempt else self.weight_decay}
                for (role, exempt), params in groups.items()]

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameter_groups())
        total = self.trainer.estimated_stepping_batches
        schedule = get_linear_schedule_with_warmup(optimizer, int(self.warmup_ratio * total), total)
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
