"""MuSE: the vectorised exchange equals a plain loop, exchange-free settings equal ordinary layers,
the logistic mixture is a proper likelihood, the PixelCNN++ is causal and learns, the captioner
learns and ignores padding, and every variant trains."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from fusionlab.fusion.muse.cross_transformer import CrossTransformer
from fusionlab.fusion.muse.image_decoder import ConditionalPixelCNN, concat_elu, elu
from fusionlab.fusion.muse.logistic_mixture import log_likelihood, quantise
from fusionlab.fusion.muse.text_decoder import AttentionCaptioner
from fusionlab.train import assemble, run
from tests.conftest import compose_config

WIDTH, HEADS = 16, 4


def _streams(seed: int = 0):
    torch.manual_seed(seed)
    text, image = torch.randn(3, 9, WIDTH, requires_grad=True), torch.randn(3, 6, WIDTH, requires_grad=True)
    text_mask = torch.ones(3, 9, dtype=torch.bool)
    text_mask[1, 5:] = False
    text_mask[2, 7:] = False
    image_mask = torch.ones(3, 6, dtype=torch.bool)
    image_mask[2] = False  # a missing image
    return text, text_mask, image, image_mask


def _loop_exchange_layer(layer, text, text_mask, image, image_mask, theta):
    """Eq. 10-13 written plainly: per sample, per stream, per token."""
    text_attended, text_cls = layer.attend(text, text_mask, cls_attention=True)
    image_attended, image_cls = layer.attend(image, image_mask, cls_attention=True)
    streams = [(text_attended, text_mask, text_cls), (image_attended, image_mask, image_cls)]
    outputs = []
    for index, (x, mask, cls) in enumerate(streams):
        other, other_mask, _ = streams[1 - index]
        rows = []
        for b in range(x.size(0)):
            valid = [j for j in range(1, x.size(1)) if mask[b, j]]
            others = [other[b, j] for j in range(1, other.size(1)) if other_mask[b, j]]
            mean = torch.stack(others).mean(0) if others else torch.zeros(x.size(-1))
            chosen = sorted(valid, key=lambda j: (cls[b, j].item(), j))[: math.floor(theta * len(valid))]
            rows.append(torch.stack([x[b, j] + mean if j in chosen else x[b, j] for j in range(x.size(1))]))
        outputs.append(layer.feed_forward(torch.stack(rows)))
    return outputs


@pytest.mark.parametrize("theta", [0.3, 0.5])
def test_vectorised_exchange_equals_a_per_sample_per_token_loop(theta):
    # padded streams, as the loop runs them (packed ones give the padded states: tests/test_packed_tokens.py)
    model = CrossTransformer(WIDTH, HEADS, layers=3, dropout=0.0, theta=theta, mu=1, eta=3, pack_tokens=False).eval()
    text, text_mask, image, image_mask = _streams()
    text_out, image_out = model(text, text_mask, image, image_mask)
    (text_out.sum() + (image_out ** 2).sum()).backward()
    fast_grads = (text.grad.clone(), image.grad.clone())
    text.grad, image.grad = None, None

    t, tm = model.with_cls(model.text_cls, text, text_mask)
    i, im = model.with_cls(model.image_cls, image, image_mask)
    t, i = model.layers[0](t, tm), model.layers[0](i, im)
    for layer in model.layers[1:]:
        t, i = _loop_exchange_layer(layer, t, tm, i, im, theta)
    torch.testing.assert_close(text_out, t)
    torch.testing.assert_close(image_out, i)
    (t.sum() + (i ** 2).sum()).backward()
    torch.testing.assert_close(text.grad, fast_grads[0])
    torch.testing.assert_close(image.grad, fast_grads[1])
    assert not torch.allclose(text_out, model.layers[2](model.layers[1](model.layers[0](
        *model.with_cls(model.text_cls, text, text_mask)), tm), tm))  # the exchange did something


@pytest.mark.parametrize("settings", [{"theta": 0.0, "mu": 1, "eta": 3}, {"theta": 0.3, "mu": 3, "eta": 2}])
def test_without_exchange_every_layer_is_an_ordinary_shared_layer(settings):
    model = CrossTransformer(WIDTH, HEADS, layers=3, dropout=0.0, pack_tokens=False, **settings).eval()
    text, text_mask, image, image_mask = _streams()
    text_out, image_out = model(text, text_mask, image, image_mask)
    t, tm = model.with_cls(model.text_cls, text, text_mask)
    i, im = model.with_cls(model.image_cls, image, image_mask)
    for layer in model.layers:
        t, i = layer(t, tm), layer(i, im)
    torch.testing.assert_close(text_out, t)
    torch.testing.assert_close(image_out, i)


def _logistic_cdf(x, mean, scale):
    return torch.sigmoid((x - mean) / scale)


def test_logistic_mixture_matches_a_direct_computation():
    torch.manual_seed(0)
    components = 2
    params = torch.randn(1, 10 * components, 1, 2)
    pixels = quantise(torch.tensor([[[[-1.0, 0.3]], [[0.5, 1.0]], [[-0.2, 0.7]]]]))  # [1, 3, 1, 2]
    logits = params[0, :components, 0]
    means, log_scales, coefficients = params[0, components:].view(3, 3, components, 1, 2)
    coefficients = torch.tanh(coefficients)
    expected = 0.0
    for position in range(2):
        x = pixels[0, :, 0, position]
        mixture = 0.0
        for k in range(components):
            mu = [means[0, k, 0, position],
                  means[1, k, 0, position] + coefficients[0, k, 0, position] * x[0],
                  means[2, k, 0, position] + coefficients[1, k, 0, position] * x[0] + coefficients[2, k, 0, position] * x[1]]
            probability = torch.softmax(logits[:, position], 0)[k]
            for channel in range(3):
                scale = torch.exp(log_scales[channel, k, 0, position].clamp(min=-7))
                upper = 1.0 if x[channel] > 0.999 else _logistic_cdf(x[channel] + 1 / 255, mu[channel], scale)
                lower = 0.0 if x[channel] < -0.999 else _logistic_cdf(x[channel] - 1 / 255, mu[channel], scale)
                probability = probability * (upper - lower)
            mixture = mixture + probability
        expected = expected + torch.log(mixture)
    torch.testing.assert_close(log_likelihood(params, pixels)[0], expected, atol=1e-4, rtol=1e-4)


def _bin_mass(x, mean, log_scale):
    scale = math.exp(log_scale)
    upper = 1.0 if x > 0.999 else _logistic_cdf(x + 1 / 255, mean, scale)
    lower = 0.0 if x < -0.999 else _logistic_cdf(x - 1 / 255, mean, scale)
    return upper - lower


def test_logistic_mixture_sums_to_one_over_the_256_levels_of_a_channel():
    params = torch.zeros(1, 10, 1, 1)  # one component, coefficients 0: the channels are independent
    params[0, 1:4, 0, 0] = torch.tensor([0.1, 0.2, -0.3])  # means
    params[0, 4:7, 0, 0] = torch.tensor([-2.0, -1.0, -1.5])  # log-scales
    levels = quantise(torch.linspace(-1, 1, 256))
    green, blue = levels[150], levels[40]
    total = sum(log_likelihood(params, torch.stack([red, green, blue]).view(1, 3, 1, 1)).exp() for red in levels)
    expected = _bin_mass(green, 0.2, -1.0) * _bin_mass(blue, -0.3, -1.5)
    torch.testing.assert_close(total[0], expected, rtol=1e-3, atol=1e-6)


def test_pixelcnn_is_causal_in_raster_order():
    model = ConditionalPixelCNN(condition_dim=4, filters=8, blocks=1, components=2, dropout=0.0).eval()
    pixels = torch.zeros(1, 3, 8, 8, requires_grad=True)
    row, column = 4, 3
    model(pixels, torch.zeros(1, 4))[0, :, row, column].sum().backward()
    touched = pixels.grad[0].abs().sum(0) > 0
    for r in range(8):
        for c in range(8):
            if (r, c) >= (row, column):
                assert not touched[r, c], (r, c)
    assert touched[row - 1, column] and touched[row, column - 1]


def test_pixelcnn_overfits_one_image_and_samples_on_the_grid():
    torch.manual_seed(0)
    model = ConditionalPixelCNN(condition_dim=4, filters=8, blocks=1, components=2, dropout=0.0)
    image = torch.full((1, 3, 32, 32), 0.6)  # a 32 x 32 picture: a red square on a light background
    image[:, :, 8:20, 10:22] = torch.tensor([0.8, -0.8, -0.8]).view(1, 3, 1, 1)
    image, condition = quantise(image), torch.randn(1, 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = model.nll(image, condition).item()
    for _ in range(60):
        optimizer.zero_grad()
        loss = model.nll(image, condition).mean()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.6 * first
    samples = model.eval().generate(condition.expand(2, -1), size=4, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (2, 3, 4, 4) and samples.min() >= -1 and samples.max() <= 1
    torch.testing.assert_close(samples, quantise(samples))


def test_captioner_learns_one_pair_and_ignores_padding():
    torch.manual_seed(0)
    captioner = AttentionCaptioner(feature_dim=8, vocab_size=30, embed_dim=8, hidden_dim=16, attention_dim=8,
                                   dropout=0.0, penalty=1.0)
    features = torch.randn(1, 5, 8)
    tokens, mask = torch.tensor([[1, 7, 4, 9, 2]]), torch.ones(1, 5, dtype=torch.long)
    padded_tokens = torch.cat([tokens, torch.tensor([[13, 21, 5]])], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    torch.testing.assert_close(captioner.loss(features, tokens, mask), captioner.loss(features, padded_tokens, padded_mask))
    optimizer = torch.optim.Adam(captioner.parameters(), lr=1e-2)
    first = captioner.loss(features, tokens, mask).item()
    for _ in range(80):
        optimizer.zero_grad()
        loss = captioner.loss(features, tokens, mask)
        loss.backward()
        optimizer.step()
    logits, _ = captioner(features, tokens)
    assert loss.item() < 0.3 * first and logits.argmax(-1).tolist() == [[7, 4, 9, 2]]


def _captioner_step_by_step(captioner, features, tokens):
    """Show, Attend and Tell's recurrence written with the captioner's modules, one call each per step."""
    mean = features.mean(dim=1)
    h, c = torch.tanh(captioner.init_h(mean)), torch.tanh(captioner.init_c(mean))
    keys = captioner.attend_features(features)
    states, weights = [], []
    for step in range(tokens.size(1) - 1):
        scores = captioner.attention_score(torch.tanh(keys + captioner.attend_hidden(h).unsqueeze(1))).squeeze(-1)
        alpha = scores.softmax(-1)
        context = torch.sigmoid(captioner.gate(h)) * (alpha.unsqueeze(-1) * features).sum(dim=1)
        h, c = captioner.cell(torch.cat([captioner.embed(tokens[:, step]), context], dim=-1), (h, c))
        states.append(h)
        weights.append(alpha)
    return captioner.vocabulary(torch.stack(states, dim=1)), torch.stack(weights, dim=1)


def test_the_captioner_computes_the_step_by_step_recurrence_and_its_gradients():
    torch.manual_seed(0)
    captioner = AttentionCaptioner(feature_dim=6, vocab_size=30, embed_dim=5, hidden_dim=7, attention_dim=4,
                                   dropout=0.0, penalty=1.0).double()
    features = torch.randn(3, 4, 6, dtype=torch.float64, requires_grad=True)
    tokens = torch.randint(0, 30, (3, 6))
    outputs, expected = captioner(features, tokens), _captioner_step_by_step(captioner, features, tokens)
    weights = [torch.randn(out.shape, dtype=torch.float64) for out in outputs]
    gradients = []
    for result in (outputs, expected):
        captioner.zero_grad(set_to_none=True)
        features.grad = None
        sum((out * weight).sum() for out, weight in zip(result, weights)).backward()
        gradients.append({"features": features.grad, **{n: p.grad for n, p in captioner.named_parameters()}})
    for out, reference in zip(outputs, expected):
        torch.testing.assert_close(out, reference, rtol=1e-12, atol=1e-12)
    assert gradients[0].keys() == gradients[1].keys()
    for name, gradient in gradients[0].items():
        assert gradient is not None and gradient.abs().sum() > 0, name
        torch.testing.assert_close(gradient, gradients[1][name], rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("decoder", ["captioner", "pixelcnn"])
def test_the_decoders_under_torch_compile_give_the_eager_loss_and_gradients(decoder):
    """The GPU path compiles them: the captioner's step products and the concatenated ELU must trace to the same
    loss and gradients (aot_eager: autograd traced as inductor traces it, without a C++ compiler)."""
    torch.manual_seed(0)
    if decoder == "captioner":
        module = AttentionCaptioner(feature_dim=6, vocab_size=30, embed_dim=5, hidden_dim=7, attention_dim=4,
                                    dropout=0.0, penalty=1.0)
        inputs = (torch.randn(3, 4, 6), torch.randint(0, 30, (3, 6)), torch.ones(3, 6, dtype=torch.bool))
        loss = module.loss
    else:
        module = ConditionalPixelCNN(16, filters=8, blocks=1, components=2, dropout=0.0)
        inputs = (torch.rand(2, 3, 8, 8) * 2 - 1, torch.randn(2, 16))
        loss = module.nll
    results = []
    for compute in (loss, torch.compile(loss, backend="aot_eager")):
        module.zero_grad(set_to_none=True)
        value = compute(*inputs).mean()
        value.backward()
        results.append((value.detach(), {name: p.grad for name, p in module.named_parameters()}))
    (eager, eager_gradients), (compiled, compiled_gradients) = results
    torch.testing.assert_close(compiled, eager)
    for name, gradient in eager_gradients.items():
        assert gradient is not None and compiled_gradients[name] is not None, name
        torch.testing.assert_close(compiled_gradients[name], gradient, msg=name)


SMALL_DECODERS = ["fusion.module.image_decoder.filters=8", "fusion.module.text_decoder.hidden_dim=16",
                  "fusion.module.text_decoder.embed_dim=8", "fusion.module.text_decoder.attention_dim=8",
                  "fusion.module.layers=2", "fusion.module.mu=0", "fusion.module.eta=2", "fusion.module.theta=0.3"]


@pytest.mark.parametrize("variant, task", [("muse", "mner"), ("muse", "msa"), ("muse", "mre"), ("muse", "joint"),
                                           ("muse_only_t", "mner"), ("muse_only_i", "msa"), ("muse_wo_ct", "mner"),
                                           ("muse_only_task", "msa"), ("muse_wo_lit", "msa"), ("muse_wo_lti", "msa")])
def test_every_variant_trains_and_logs_its_loss_terms(tmp_path, tiny_overrides, variant, task):
    overrides = tiny_overrides + [f"fusion={variant}", f"task={task}", "logger=csv",
                                  "trainer.log_every_n_steps=1"] + SMALL_DECODERS
    results = run(compose_config(overrides))
    assert results["fusion"] == variant and results["metrics"]["test"]
    header = {name for path in (tmp_path / "run").rglob("metrics.csv")
              for name in path.read_text().splitlines()[0].split(",")}
    module = results["config"]["fusion"]["module"]
    alpha, beta = module["alpha"] * module["l_it"], module["beta"] * module["l_ti"]
    assert ("train/l_it" in header) == (alpha > 0) and ("train/alpha_l_it" in header) == (alpha > 0)
    assert ("train/l_ti" in header) == (beta > 0) and ("train/beta_l_ti" in header) == (beta > 0)


def test_muse_only_i_refuses_token_tasks(tiny_overrides):
    with pytest.raises(ValueError, match="task msa"):
        run(compose_config(tiny_overrides + ["fusion=muse_only_i", "task=mner"]))


def test_gradient_reaches_every_part_of_muse(tiny_overrides):
    parts = assemble(compose_config(tiny_overrides + ["fusion=muse", "encoder.vision.freeze=false"] + SMALL_DECODERS))
    model, batch = parts.model, next(iter(parts.datamodule.train_dataloader()))
    assert batch["image_target"].shape[-2:] == (32, 32) and -1 <= batch["image_target"].min()
    model.training_step(batch, 0).backward()
    for name in ("vision", "image_projection", "cross", "text_regulariser", "image_decoder", "image_regulariser",
                 "text_decoder", "output"):
        grads = [p.grad for p in getattr(model.method, name).parameters() if p.requires_grad]
        assert grads and all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0, name


@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-7), (torch.float64, 1e-15)])
def test_the_exp_elu_is_pytorchs_elu_to_one_rounding_with_its_gradient(dtype, tolerance):
    x = torch.cat([torch.linspace(-30, 30, 2001, dtype=dtype), torch.tensor([0.0, -1e-9, 1e-9, 80.0], dtype=dtype)])
    x = x.view(1, 5, 401, 1).contiguous(memory_format=torch.channels_last).requires_grad_()
    reference = x.detach().clone().requires_grad_()
    output, expected = elu(x), F.elu(reference)
    assert output.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(output, expected, rtol=0, atol=tolerance)
    weights = torch.randn(x.shape, dtype=dtype)
    (output * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(x.grad, reference.grad, rtol=0, atol=4 * tolerance)


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-7), (torch.float64, 1e-15)])
def test_the_concatenated_elu_is_pytorchs_elu_of_x_and_minus_x_with_its_gradient(layout, dtype, tolerance):
    values = torch.cat([torch.linspace(-30, 30, 1996, dtype=dtype), torch.tensor([0.0, -1e-9, 1e-9, 80.0], dtype=dtype)])
    x = values[torch.randperm(values.numel(), generator=torch.Generator().manual_seed(0))].view(2, 4, 25, 10)
    x = x.contiguous(memory_format=layout).requires_grad_()
    reference = x.detach().clone().requires_grad_()
    output, expected = concat_elu(x), F.elu(torch.cat([reference, -reference], dim=1))
    assert output.shape == (2, 8, 25, 10) and output.is_contiguous(memory_format=layout)
    cropped = concat_elu(x[:, :, 1:, 2:])  # a view, as PixelCNN++'s transposed convolutions leave: the layout holds
    assert cropped.is_contiguous(memory_format=layout) and torch.equal(cropped, output[:, :, 1:, 2:])
    torch.testing.assert_close(output, expected, rtol=0, atol=tolerance)
    weights = torch.randn(output.shape, dtype=dtype)
    (output * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(x.grad, reference.grad, rtol=0, atol=4 * tolerance * weights.abs().max().item())
