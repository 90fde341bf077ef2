"""Swapping a model's submodules in place: the speed settings put their own module where PyTorch's stood."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn


def swap_modules(model: nn.Module, replacement: Callable[[nn.Module], nn.Module | None]) -> nn.Module:
    """Put ``replacement(child)`` in place of every submodule of ``model`` for which it is not None, under the
    same name (so parameter names and checkpoint keys stay)."""
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            swapped = replacement(child)
            if swapped is not None:
                setattr(parent, name, swapped)
    return model
