"""The speed work computes what the code computed before (MuSE and HVPNeT under their paper configs):
channels-last convolutions give the losses and gradients of PyTorch's default layout, and the fused AdamW
the update of its per-tensor loop. bf16-mixed, which computes otherwise, keeps the loss and gradients to bf16
tolerance.

The layouts are compared in float64, where the two summation orders agree to ~1e-12: in float32 a rounding
difference may flip a ReLU or swap two near-tied tokens in MuSE's exchange, and move a gradient for real."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch
from lightning import Trainer
from lightning.pytorch.plugins.precision import MixedPrecision
from lightning.pytorch.utilities import GradClipAlgorithmType
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize

from fusionlab.encoders.layout import CONVOLUTION_LAYOUT, set_memory_format
from fusionlab.train import assemble
from tests.conftest import compose_config
from tests.fixtures import write_dataset

TINY = ["encoder=tiny", "encoder.text.name=tiny", "encoder.vision.name=tiny", "encoder.vision.freeze=false",
        "trainer=cpu", "logger=none", "data.batch_size=4", "data.num_workers=0"]
PAPER_RUNS = {
    "muse": ["experiment=muse_twitter2015", "fusion.module.image_decoder.filters=8",
             "fusion.module.image_decoder.blocks=1"],
    "hvpnet": ["experiment=hvpnet_twitter2015", "encoder.vision.weights=null"],
}
CONVOLVING = {"muse": ("method.vision.", "method.image_decoder."), "hvpnet": ("method.vision.",)}


@pytest.fixture(scope="module", params=sorted(PAPER_RUNS))
def paper_run(request, tmp_path_factory):
    """A paper config's model on tiny encoders (the vision encoder training, so its convolutions run every
    step), every dropout off, and one training batch, in float64."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    cfg = compose_config([*PAPER_RUNS[request.param], *TINY, f"data_root={tmp_path}/data",
                          f"output_dir={tmp_path}/run", f"cache_root={tmp_path}/cache"])
    write_dataset(cfg)
    torch.manual_seed(0)  # the same weights in every run: a failure here reproduces
    parts = assemble(cfg)
    for module in parts.model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    parts.model.train().double()
    batch = next(iter(parts.datamodule.train_dataloader()))
    generator = torch.Generator().manual_seed(0)
    # the fixture's images are flat colours, which BatchNorm would normalise into rounding noise: random pixels
    pixels = {key: torch.randn(value.shape, generator=generator, dtype=torch.float64) for key, value in batch.items()
              if "image" in key and isinstance(value, torch.Tensor) and value.dim() >= 4}
    doubled = {key: value.double() for key, value in batch.items() if torch.is_tensor(value) and value.is_floating_point()}
    return request.param, parts.model, {**batch, **doubled, **pixels}


def loss_and_gradients(model, batch, memory_format):
    set_memory_format(model, memory_format)
    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)  # MuSE's regularisers draw noise (Eq. 3-4): the same draws in both layouts
    loss = model.training_step(batch, 0)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_channels_last_gives_the_losses_and_gradients_of_the_default_layout(paper_run):
    method, model, batch = paper_run
    assert all(m.memory_format == CONVOLUTION_LAYOUT for m in model.modules() if hasattr(m, "memory_format"))
    convolutions = [m for m in model.method.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    layouts = []  # whether each convolution's input is channels-last (the weights keep the default layout)
    hooks = [m.register_forward_pre_hook(lambda m, args: layouts.append(
        args[0].is_contiguous(memory_format=torch.channels_last))) for m in convolutions]
    loss, gradients = loss_and_gradients(model, batch, CONVOLUTION_LAYOUT)
    for hook in hooks:
        hook.remove()
    assert convolutions and len(layouts) >= len(convolutions) and all(layouts)
    stored = [m.weight for m in convolutions if not parametrize.is_parametrized(m) and m.kernel_size != (1, 1)]
    assert stored and all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in stored)
    normed = [p for m in convolutions if parametrize.is_parametrized(m) for p in m.parameters() if p.dim() == 4]
    assert (method == "muse") == bool(normed) and all(p.is_contiguous() for p in normed)  # weight norm's v and g
    before_loss, before_gradients = loss_and_gradients(model, batch, torch.contiguous_format)
    set_memory_format(model, CONVOLUTION_LAYOUT)
    assert loss.dtype == torch.float64 and torch.isfinite(loss)
    assert torch.allclose(loss, before_loss, rtol=1e-10, atol=0)
    assert gradients.keys() == before_gradients.keys()
    for prefix in CONVOLVING[method]:  # the convolutions whose layout changed are among the compared gradients
        assert any(name.startswith(prefix) for name in gradients), prefix
    scale = max(g.abs().max() for g in before_gradients.values())  # a bias before BatchNorm: gradient 0 + noise
    for name, gradient in gradients.items():
        assert torch.allclose(gradient, before_gradients[name], rtol=1e-8, atol=1e-10 * scale), name


def test_the_fused_adamw_makes_the_update_of_the_per_tensor_loop(paper_run):
    _, model, batch = paper_run
    loss_and_gradients(model, batch, CONVOLUTION_LAYOUT)
    fused_model, loop_model = copy.deepcopy(model), copy.deepcopy(model)  # deepcopy leaves the gradients behind
    for copied in (fused_model, loop_model):
        for parameter, original in zip(copied.parameters(), model.parameters()):
            parameter.grad = None if original.grad is None else original.grad.clone()
    fused, loop = fused_model.optimizer(), torch.optim.AdamW(loop_model.parameter_groups(), foreach=False)
    assert all(group["fused"] for group in fused.param_groups)
    assert [g["lr"] for g in fused.param_groups] == [g["lr"] for g in loop.param_groups]
    for _ in range(2):
        fused.step()
        loop.step()
    changed = 0
    for (name, after), (_, loop_after), before in zip(fused_model.named_parameters(), loop_model.named_parameters(),
                                                      model.parameters()):
        assert torch.allclose(after, loop_after, rtol=1e-5, atol=1e-7), name
        changed += not torch.equal(after, before)
    assert changed > 0


def in_float32(model, batch):
    """A float32 copy of the fixture's float64 model, and its batch in float32."""
    return copy.deepcopy(model).float(), {key: value.float() if torch.is_tensor(value) and value.is_floating_point()
                                          else value for key, value in batch.items()}


def test_only_16_mixed_takes_the_multi_tensor_adamw_its_loss_scaler_needs(paper_run):
    _, model, _ = paper_run
    assert all(not group["fused"] and group["foreach"] for group in model.optimizer("16-mixed").param_groups)
    for precision in ("32-true", "bf16-mixed"):
        assert all(group["fused"] for group in model.optimizer(precision).param_groups)


@pytest.mark.parametrize("precision", ["bf16-mixed", "32-true"])
def test_gradients_are_clipped_through_the_fused_adamw(paper_run, precision):
    """Lightning's mixed-precision plugin refuses to clip for a fused optimiser; bf16 has no loss scale, so the
    model clips there as in fp32: the gradients' total norm comes out at the Trainer's gradient_clip_val."""
    _, model, batch = paper_run
    model, batch = in_float32(model, batch)
    optimizer = model.optimizer(precision)
    model.training_step(batch, 0).backward()
    model.trainer = Trainer(accelerator="cpu", precision=precision, gradient_clip_val=0.01, logger=False)
    gradients = [p.grad for p in model.parameters() if p.grad is not None]
    assert torch.nn.utils.get_total_norm(gradients) > 0.1
    if precision == "bf16-mixed":  # what the model's clipping goes around
        with pytest.raises(RuntimeError, match="fused"):
            model.trainer.precision_plugin.clip_gradients(optimizer, 0.01, GradClipAlgorithmType.NORM)
    model.configure_gradient_clipping(optimizer, 0.01, GradClipAlgorithmType.NORM)  # as the Trainer calls it
    assert torch.nn.utils.get_total_norm(gradients) == pytest.approx(0.01, rel=1e-4)


def test_bf16_mixed_gives_the_fp32_loss_and_gradients_to_bf16_tolerance(paper_run):
    """bf16-mixed (Lightning's CPU autocast, ``trainer.precision=bf16-mixed``) is not the same arithmetic: its
    matrix products and convolutions round their inputs to bf16 (8 bits of mantissa). It must still give the
    fp32 step's loss within a percent; every weight whose gradient is at least a hundredth of the largest
    points the same way (cosine > 0.97); and every smaller one, such as the first convolutions of the tiny CNN
    behind BatchNorm, where a gradient is the difference of near-equal terms and its direction is rounding,
    is within bf16's unit roundoff (2^-8) of the largest gradient and has not vanished (at least half its fp32
    norm). As the Trainer runs it: the forward pass under autocast, the backward pass outside. (Unseeded, the
    small weights' cosines fell well below the bound on some draws of the weights; their errors measured against
    the largest gradient did not.)"""
    _, model, batch = paper_run
    model, batch = in_float32(model, batch)
    set_memory_format(model, CONVOLUTION_LAYOUT)

    def step(bf16: bool):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(0)
        with MixedPrecision("bf16-mixed", "cpu").forward_context() if bf16 else contextlib.nullcontext():
            loss = model.training_step(batch, 0)
        loss.backward()
        return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    bf16_layers = []
    hook = nn.modules.module.register_module_forward_hook(
        lambda module, _, output: bf16_layers.append(module) if isinstance(module, (nn.Linear, nn.Conv2d))
        and torch.is_tensor(output) and output.dtype == torch.bfloat16 else None)
    try:
        bf16_loss, bf16_gradients = step(bf16=True)
    finally:
        hook.remove()
    loss, gradients = step(bf16=False)
    assert any(isinstance(m, nn.Conv2d) for m in bf16_layers) and any(isinstance(m, nn.Linear) for m in bf16_layers)
    assert bf16_loss.dtype == torch.float32 and bf16_loss != loss  # it did compute otherwise
    assert abs(bf16_loss - loss) <= 0.01 * abs(loss)
    assert bf16_gradients.keys() == gradients.keys()
    largest = max(g.norm() for g in gradients.values())
    weights = {name: g for name, g in gradients.items() if g.dim() > 1}  # matrices and kernels
    directed = [name for name, g in weights.items() if g.norm() > 1e-2 * largest]
    assert len(directed) >= 5 and len(weights) - len(directed) >= 3  # both kinds are checked
    for name, gradient in weights.items():
        if name in directed:
            assert F.cosine_similarity(gradient.flatten(), bf16_gradients[name].flatten(), dim=0) > 0.97, name
        else:
            assert (bf16_gradients[name] - gradient).norm() <= 2**-8 * largest, name
            assert bf16_gradients[name].norm() >= 0.5 * gradient.norm(), name
