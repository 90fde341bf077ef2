"""Loading the first layers of a pretrained text encoder: the later layers go unused quietly, other gaps are told."""

from __future__ import annotations

import logging

import torch
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertModel
from transformers.utils import logging as hf_logging

from fusionlab.encoders.text import _load_model, text_encoder


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
