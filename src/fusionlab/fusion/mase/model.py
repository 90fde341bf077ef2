"""MASE: self-balanced EM over modality features and proxies (anonymous ACM MM 2024 submission), for extraction tasks.

Modalities (``modalities``, text first): ``text`` (the PLM's token states h^T), ``image`` (the pooled
stage pyramid projected to the text width) and ``proxy`` (the input text through a contrastive model's
text tower, Sec. 3.1, projected to the text width).

- Eq. 1: h* = sum_m z^m h^m, z a buffer initialised uniform; token tasks get it at every token, the
  sentence-level image and proxy vectors broadcast (sentence heads read it at [CLS]: the paper's h*).
- E-step (Eq. 5, 10-11, ``allocation.py``, ``expectation.py``): at ``em_iterations`` evenly spaced points
  of training, with the parameters frozen, z^m = I(h^m; y) / sum I over the first ``estimation_samples``
  training sentences; h^T is read where the task head reads (``Task.sentence_vector``), y is the
  sentence's label (its targets' ``sentence_labels``), both before the entity injection.
- E-step entity injection (Eq. 12-14, ``scene_graph.py``, ``hgat.py``): a heterogeneous GAT over the
  sentence's MSSG entity nodes, its output added back to the features of each modality (a residual).
- M-step (Eq. 6-9): L_M = mean_i(L_ce + alpha L_cc), L_cc the cross-modal InfoNCE (``contrastive.py``).

Variants (Table 6) are options: ``alpha=0`` (w/o contrastive), ``balance=false`` (z stays uniform),
``entity=false`` (no MSSG/HGAT), ``combine=concat`` (MPB). Outputs: z and the estimates per round
(``z/<modality>``, ``mi/<modality>``), ``allocation.png`` (Figure 4). Every choice where the paper is
silent: docs/reproducing.md, MASE.
"""

from __future__ import annotations

import math
import time

import lightning as L
import torch
from torch import nn

from fusionlab.fusion.base import Fused, FusionMethod
from fusionlab.fusion.mase.allocation import allocation, mutual_information
from fusionlab.fusion.mase.allocation_plot import AllocationPlot
from fusionlab.fusion.mase.contrastive import cross_modal_infonce
from fusionlab.fusion.mase.expectation import ExpectationStep
from fusionlab.fusion.mase.hgat import HeterogeneousGAT
from fusionlab.fusion.mase.scene_graph import EDGE_TYPES, batch_graphs, graph_builder
from fusionlab.fusion.pooled_image import PooledImage
from fusionlab.tasks.targets import SentenceLabels


class MASE(FusionMethod):
    def __init__(self, task, text_encoder, vision_encoder=None, proxy_encoder=None, *, modalities: list[str],
                 combine: str, balance: bool, entity: bool, em_iterations: int, estimation_samples: int | None,
                 alpha: float, temperature: float, heads: int, graph_builder_kind: str, max_entities: int,
                 image_stages: str, dropout: float):
        super().__init__(task, text_encoder, vision_encoder)
        self.modalities, self.combine = list(modalities), combine
        self.balance, self.entity = balance and combine == "weighted", entity and combine == "weighted"
        if self.balance and not isinstance(task.data, SentenceLabels):
            raise ValueError(f"MASE's E-step estimates I(h^m; y) against a label per sentence, which the {task.name} "
                             f"task does not give (fusionlab.tasks.targets.SentenceLabels); use fusion.module.balance="
                             f"false")
        self.alpha = alpha if combine == "weighted" else 0.0
        self.em_iterations, self.estimation_samples, self.temperature = em_iterations, estimation_samples, temperature
        width = text_encoder.hidden_size
        if "image" in self.modalities:
            self.image = PooledImage(vision_encoder.stage_channels, width, image_stages)
        if "proxy" in self.modalities:
            if proxy_encoder is None:
                raise ValueError("MASE modality 'proxy' needs a proxy tower (encoder.proxy, e.g. name=clip)")
            self.proxy = proxy_encoder
            self.proxy_projection = nn.Linear(proxy_encoder.output_size, width)
        self.dropout = nn.Dropout(dropout)
        count = len(self.modalities)
        if self.entity:
            self.graphs = graph_builder(graph_builder_kind, max_entities)
            self.hgat = HeterogeneousGAT(count * width, len(EDGE_TYPES), heads)
        if combine == "concat":
            self.mix = nn.Linear(count * width, width)
        self.register_buffer("z", torch.full((count,), 1.0 / count))
        self.register_buffer("trajectory", torch.full((em_iterations, count), float("nan")))
        self.register_buffer("information", torch.full((em_iterations, count), float("nan")))
        self.trajectory[0] = self.z
        self.estep_seconds = 0.0  # wall time spent in E-steps (this process)
        self.output_size = width

    # --- modality features -----------------------------------------------------------------
    def modality_features(self, batch: dict) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """h^T [B, n, D], the other modalities' sentence vectors [B, D] and their presence masks [B]."""
        text = self.encode_text(batch)
        others, present = [], []
        for name in self.modalities[1:]:
            if name == "image":
                mask = batch["image_mask"]
                vector = self.image(self.visual_features(batch["image"], mask)) * mask[:, None].to(text.dtype)
            else:
                mask = torch.ones(text.size(0), dtype=torch.bool, device=text.device)
                vector = self.proxy_projection(self.proxy([" ".join(e.words) for e in batch["examples"]]))
            others.append(self.dropout(vector))
            present.append(mask.bool())
        return text, others, present

    def inject_entities(self, text: torch.Tensor, others: list[torch.Tensor], batch: dict):
        """Eq. 12-14 on the batch's MSSGs: the graph's per-modality output added to each feature."""
        graphs = batch_graphs([self.graphs(self.task.data.words(e)) for e in batch["examples"]],
                              batch["word_index"], batch["word_mask"], text.size(1))
        nodes = torch.cat([graphs.pooling.to(text.dtype) @ text,
                           *[o[:, None].expand(-1, graphs.node_mask.size(1), -1) for o in others]], dim=-1)
        enhanced = self.hgat(nodes, graphs.adjacency) * graphs.node_mask[..., None].to(text.dtype)
        blocks = enhanced.split(text.size(-1), dim=-1)
        text = text + graphs.injection.transpose(1, 2).to(text.dtype) @ blocks[0]
        others = [o + block[:, 0] for o, block in zip(others, blocks[1:])]  # the sentence node's block
        return text, others

    def features(self, batch: dict):
        text, others, present = self.modality_features(batch)
        if self.entity:
            text, others = self.inject_entities(text, others, batch)
        others = [o * p[:, None].to(o.dtype) for o, p in zip(others, present)]
        return text, others, present

    # --- Eq. 1 and the M-step loss ---------------------------------------------------------
    def fuse(self, batch):
        text, others, present = self.features(batch)
        if self.combine == "concat":
            broadcast = [o[:, None].expand(-1, text.size(1), -1) for o in others]
            return Fused(self.mix(torch.cat([text, *broadcast], dim=-1)))
        fused = self.z[0] * text + sum(z * o[:, None] for z, o in zip(self.z[1:], others))
        losses = {}
        if self.training and self.alpha > 0 and others:
            l_cc = cross_modal_infonce([text[:, 0], *others], [torch.ones_like(present[0]), *present],
                                       self.temperature).mean()
            losses["alpha_l_cc"] = self.alpha * l_cc
            return Fused(fused, losses, {"l_cc": l_cc})
        return Fused(fused, losses)

    # --- E-step ----------------------------------------------------------------------------
    def callbacks(self) -> list[L.Callback]:
        return [ExpectationStep(self), AllocationPlot(self)] if self.balance else []

    @torch.no_grad()
    def expectation_step(self, batches, round_index: int, broadcast=lambda z: z) -> dict[str, torch.Tensor]:
        """Eq. 10-11 with the parameters frozen: estimate I(h^m; y) over ``batches`` (on this module's
        device) and set z; ``broadcast`` makes every process take the first one's z. Returns z and the
        estimates per modality (``z/<modality>``, ``mi/<modality>``)."""
        started, was_training = time.perf_counter(), self.training
        self.eval()
        collected, labels = [[] for _ in self.modalities], []
        for batch in batches:
            text, others, present = self.modality_features(batch)
            others = [o * p[:, None].to(o.dtype) for o, p in zip(others, present)]
            for store, vector in zip(collected, [self.task.sentence_vector(text, batch), *others]):
                store.append(vector.float().cpu())
            labels.append(self.task.data.sentence_labels(batch).cpu())
        self.train(was_training)
        targets = torch.cat(labels)
        information = torch.tensor([mutual_information(torch.cat(f), targets) for f in collected])
        z = broadcast(allocation(information).to(self.z))
        self.z.copy_(z)
        self.trajectory[round_index] = z
        self.information[round_index] = information.to(self.z)
        self.estep_seconds += time.perf_counter() - started
        return {**{f"z/{name}": weight for name, weight in zip(self.modalities, z)},
                **{f"mi/{name}": estimate for name, estimate in zip(self.modalities, information)}}

    # --- outputs ---------------------------------------------------------------------------
    def allocation_history(self) -> dict:
        rounds = ~self.trajectory.isnan().any(-1)
        estimates = [[None if math.isnan(v) else v for v in row] for row in self.information[rounds].tolist()]
        return {"z_trajectory": self.trajectory[rounds].tolist(), "mutual_information": estimates}  # round 0: none

    def summary(self) -> dict:
        """z as tested (the best checkpoint's) and the whole trajectory of the fit."""
        history = getattr(self, "fit_history", None) or self.allocation_history()
        return {"modalities": self.modalities, "z": self.z.tolist(), **history, "estep_seconds": self.estep_seconds,
                **({"graph_builder": self.graphs.name} if self.entity else {})}
