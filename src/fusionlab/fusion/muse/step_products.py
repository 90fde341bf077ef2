"""Products with one weight inside a recurrence, the weight's gradient formed once for all steps.

A recurrence multiplies every step's input by the same weight. Autograd forms that weight's gradient at each
step: the outer product of the step's [B, out] output gradient and [B, in] input, as large as the weight, added
into the weight's gradient; for a small batch, that is memory traffic, not arithmetic. ``StepProducts`` records
each step's input and output gradient instead and, once the backward pass has gone through every step, forms
the weight's gradient as one product over all of them: the same sum, in another order.
"""

from __future__ import annotations

import torch


class StepProducts:
    """``x @ weight.T`` for inputs arriving one step at a time. Make one per forward pass: it keeps that pass's
    records."""

    def __init__(self, weight: torch.Tensor):
        self.records: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.weight = _GradientOverSteps.apply(weight, self.records)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _StepProduct.apply(x, self.weight, self.records)


class _GradientOverSteps(torch.autograd.Function):
    """The weight, passed on to the steps. Its backward runs after every step's (each one reads its output) and
    forms the weight's gradient from their records."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, records: list) -> torch.Tensor:
        ctx.records, ctx.dtype = records, weight.dtype
        ctx.set_materialize_grads(False)
        return weight.view_as(weight)

    @staticmethod
    def backward(ctx, _):
        if not ctx.records:
            return None, None
        inputs, gradients = zip(*ctx.records)
        ctx.records.clear()
        return torch.cat(gradients).to(ctx.dtype).T @ torch.cat(inputs).to(ctx.dtype), None


class _StepProduct(torch.autograd.Function):
    """One step's product; its backward gives the input's gradient and records what the weight's needs."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, records: list) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.records = records
        return x @ weight.T  # under autocast, in its dtype

    @staticmethod
    def backward(ctx, gradient: torch.Tensor):
        x, weight = ctx.saved_tensors
        ctx.records.append((x, gradient))
        return gradient @ weight.to(gradient.dtype) if ctx.needs_input_grad[0] else None, None, None
