"""Loading the first layers of a pretrained text encoder: the later layers go unused quietly, other gaps are told.
Gradient checkpointing recomputes the layers and changes no gradient, HVPNeT's visual prefix included."""

from __future__ import annotations

import logging

import torch
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertModel
from transformers.utils import logging as hf_logging

from fusionlab.encoders.text import _load_model, text_encoder
from fusionlab.train import assemble
from tests.conftest import compose_config


def test_first_layers_of_minilm_load_its_weights_without_a_report(capfd):
    full = text_encoder("minilm").model
    capfd.readouterr()
    verbosity = hf_logging.get_verbosity()
    short = text_encoder("minilm", layers=2).model
    assert "LOAD REPORT" not in capfd.readouterr().err
    assert hf_logging.get_verbosity() == verbosity
    assert len(short.encoder.layer) == 2
    for name, weight in short.state_dict().items():
        assert torch.equal(weight, full.state_dict()[name]), name


def test_first_layers_of_a_checkpoint_missing_a_kept_weight_are_loaded_with_a_warning(tmp_path, caplog):
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=32)
    BertModel(config, add_pooling_layer=False).save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    del weights["encoder.layer.0.output.dense.bias"]
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    with caplog.at_level(logging.WARNING, logger="fusionlab.encoders.text"):
        model = _load_model(str(tmp_path), layers=2)
    assert len(model.encoder.layer) == 2
    assert "missing: ['encoder.layer.0.output.dense.bias', 'pooler.dense.bias', 'pooler.dense.weight']" in caplog.text
    assert "unexpected" not in caplog.text  # layer 2, dropped on purpose, is not reported


def _gradients(model, loss) -> dict[str, torch.Tensor]:
    loss.backward()
    return {name: p.grad for name, p in model.named_parameters() if p.grad is not None}


def _layer_calls(model) -> list[int]:
    """A counter of the first layer's feed-forward runs (a checkpointed layer runs again in the backward pass)."""
    calls = [0]
    model.encoder.layer[0].intermediate.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_gradient_checkpointing_recomputes_the_layers_and_leaves_the_gradients_as_they_were():
    plain = text_encoder("tiny")
    checkpointed = text_encoder("tiny", gradient_checkpointing=True)
    checkpointed.load_state_dict(plain.state_dict())
    ids, mask = torch.randint(1000, 2000, (3, 12)), torch.ones(3, 12, dtype=torch.long)
    mask[1, 7:] = 0
    grads, calls = {}, {}
    for label, encoder in (("plain", plain), ("checkpointed", checkpointed)):
        encoder.train()  # dropout on: the recomputed layer must draw the same masks
        calls[label] = _layer_calls(encoder.model)
        torch.manual_seed(0)
        grads[label] = _gradients(encoder, encoder(ids, mask).square().mean())
    assert calls == {"plain": [1], "checkpointed": [2]}
    assert grads["plain"].keys() == grads["checkpointed"].keys() and len(grads["plain"]) > 10
    for name, grad in grads["plain"].items():
        torch.testing.assert_close(grads["checkpointed"][name], grad, msg=name)


def test_gradient_checkpointing_keeps_hvpnet_prefix_gradients(tiny_overrides):
    """The visual prefix reaches each layer as a keyword argument: its gradient (to the vision encoder and the
    stage maps) must survive the recomputation, as it would not under reentrant checkpointing."""
    grads, calls = {}, {}
    for label in ("false", "true"):
        torch.manual_seed(0)
        parts = assemble(compose_config(tiny_overrides + ["fusion=hvpnet", "task=mner",
                                                          f"encoder.text.gradient_checkpointing={label}"]))
        model, batch = parts.model, next(iter(parts.datamodule.train_dataloader()))
        calls[label] = _layer_calls(model.method.text.model)
        torch.manual_seed(1)
        grads[label] = _gradients(model, model.training_step(batch, 0))
    assert calls == {"false": [1], "true": [2]}
    assert grads["true"].keys() == grads["false"].keys()
    assert any(name.startswith("method.mapping.") and grad.abs().sum() > 0 for name, grad in grads["true"].items())
    assert any(name.startswith("method.vision.") and grad.abs().sum() > 0 for name, grad in grads["true"].items())
    for name, grad in grads["false"].items():
        torch.testing.assert_close(grads["true"][name], grad, msg=name)
