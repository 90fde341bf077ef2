"""PMEI: progressive multitask learning with explicit interactions (Sun et al., AAAI 2021), on a multimodal base.

PMEI is not multimodal by itself: the shared representation H comes from a base fusion method
(``fusion/base=text_only|concat|hvpnet``: that fusion's config, a ``FusionMethod`` it composes; optionally a
BiLSTM over it, as in the paper), and PMEI puts its maps between H and the task head:

1. early classifiers C' (the task's own head architecture, Eq. 10-11) give y' from H and
   their supervised loss L';
2. one stochastic map per task output (``StochasticMap``, Eq. 5-7) turns [h; y'] into a
   task-specific t. With ``interaction`` every map reads all early predictions,
   y' = [y'_e ; maxpool_j y'_r] (Eq. 5-6); without, each reads only its own;
3. the final classifiers C (the task's head) read t_e and t_r (Eq. 8-11);
4. L_total = beta_e L_ICe + beta_r L_ICr + alpha L' + L (Eq. 15).

For joint extraction the outputs are ``entity`` (BIOES) and ``relation`` (word pairs); any
other task has one output and one map conditioned on its own early prediction (Fig. 1C);
its KL weight is beta_r for relations and beta_e otherwise. L_IC is Eq. 14 per sentence: the KL
summed over t's width and the sentence's tokens, averaged over the batch's sentences like L and
L' (as the reference), so beta is the paper's beta. The maps run at every token (with a sub-word
encoder: every sub-token, [CLS] and [SEP] too, and all enter the sum; the paper's GloVe
sentences are words); word-level early predictions sit at each word's first sub-token,
sentence-level ones at every token.

Ablations (Table 6) are options: ``map=none`` (MTL: H straight into the classifiers),
``early=false`` (MTL_SM: maps on H alone, prior N(0, I)), ``map=deterministic`` (w/o SM),
``interaction=false`` and ``cell=mlp`` (w/o GRU; ``cell=linear`` is the reference code's form).
``sigma`` picks how the maps make sigma positive (``StochasticMap``).
"""

from __future__ import annotations

import lightning as L
import torch
from hydra.utils import instantiate
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from fusionlab.fusion.base import Fused, FusionMethod
from fusionlab.fusion.pmei.stochastic_map import StochasticMap
from fusionlab.tasks.head import EvidenceHead, token_count


class PMEI(FusionMethod):
    def __init__(self, task, text_encoder, vision_encoder=None, *, base: dict, bilstm: bool,
                 early: bool, interaction: bool, map: str, cell: str, sigma: str, alpha: float, beta_e: float,
                 beta_r: float):
        super().__init__(task, text_encoder, vision_encoder)
        self.base = instantiate(base, task, text_encoder, vision_encoder, _convert_="all")  # its module config
        self.base.states_go_to_head = False  # the BiLSTM and the maps read every token
        hidden = self.base.output_size
        self.lstm = nn.LSTM(hidden, hidden // 2, batch_first=True, bidirectional=True) if bilstm else None
        hidden = 2 * (hidden // 2) if bilstm else hidden
        self.alpha, self.beta = alpha, {"entity": beta_e, "label": beta_e, "relation": beta_r}
        self.interaction = interaction
        outputs = task.outputs()
        self.early = task.head(hidden) if early and map != "none" else None  # C'_e, C'_r
        if self.early is not None and not isinstance(self.early, EvidenceHead):
            raise ValueError(f"PMEI's early classifiers give its maps their predictions y', but the {task.name} head "
                             f"gives none (fusionlab.tasks.head.EvidenceHead); use fusion.module.early=false")
        widths = {name: 0 if self.early is None else sum(outputs.values()) if interaction else outputs[name]
                  for name in outputs}  # the width of the y' each map reads
        self.maps = None if map == "none" else nn.ModuleDict(
            {name: StochasticMap(hidden, widths[name], cell, map == "stochastic", sigma) for name in outputs})
        self.output_size = hidden  # the task head on t_e, t_r: C_e, C_r

    def shared(self, batch: dict) -> Fused:
        """H: the base fusion's states (and its own losses), through the optional BiLSTM."""
        fused = self.base.fuse(batch)
        if self.lstm is None:
            return fused
        lengths = batch["attention_mask"].sum(-1).cpu()
        packed = pack_padded_sequence(fused.states, lengths, batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=fused.states.size(1))
        return Fused(states, fused.losses, fused.logs)

    def map_inputs(self, evidence: dict[str, torch.Tensor], h: torch.Tensor) -> dict[str, torch.Tensor]:
        """The y' each map reads: all early predictions (interaction), its own, or nothing (MTL_SM)."""
        if not evidence:
            return {name: h.new_zeros(*h.shape[:-1], 0) for name in self.maps}
        if self.interaction:
            joined = torch.cat(list(evidence.values()), dim=-1)
            return {name: joined for name in self.maps}
        return evidence

    def task_representations(self, h: torch.Tensor, evidence: dict[str, torch.Tensor]):
        """t per task output and its KL per token [B, n] ({} for deterministic maps)."""
        representations, kls = {}, {}
        for (name, stochastic_map), y in zip(self.maps.items(), self.map_inputs(evidence, h).values()):
            representations[name], kl = stochastic_map(h, y)
            if kl is not None:
                kls[name] = kl
        return representations, kls

    def callbacks(self) -> list[L.Callback]:
        return self.base.callbacks()  # its base's outputs (HVPNeT's gate maps)

    def early_evidence(self, h: torch.Tensor, batch: dict, outputs=None) -> dict[str, torch.Tensor]:
        """y': the early classifiers' predictions at every token (from ``outputs``, their forward pass on h,
        when given: one pass, one dropout mask, so L' supervises the very y' the maps read, Eq. 10-11, 15)."""
        return self.early.evidence_of(self.early(h, batch) if outputs is None else outputs, batch, token_count(h))

    def fuse(self, batch):
        shared = self.shared(batch)
        h, losses, logs = shared.states, dict(shared.losses), dict(shared.logs)
        if self.maps is None:  # MTL: H straight into the classifiers
            return Fused(h, losses, logs)
        evidence = {}
        if self.early is not None and self.training:  # one pass: L' supervises the y' the maps read
            outputs = self.early(h, batch)
            logs["l_early"], evidence = self.early.loss_of(outputs, batch), self.early_evidence(h, batch, outputs)
            losses["alpha_l_early"] = self.alpha * logs["l_early"]
        elif self.early is not None:
            evidence = self.early_evidence(h, batch)
        representations, kls = self.task_representations(h, evidence)
        if self.training:
            size = len(batch["examples"])
            for name, kl in kls.items():
                logs[f"l_ic_{name}"] = (kl * batch["attention_mask"]).sum() / size  # Eq. 14 per sentence, batch mean
                losses[f"beta_l_ic_{name}"] = self.beta[name] * logs[f"l_ic_{name}"]
        states = tuple(representations.values())
        return Fused(states if len(states) > 1 else states[0], losses, logs)
