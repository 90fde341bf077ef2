"""A BERT-family encoder's last layer computed for the tokens a task head reads, not for every token.

A head reads few of the final states: MNER's CRF the first sub-token of each word, MRE the two entity
markers, MSA [CLS] (``Task.positions_read``). In the last layer, each token's self-attention needs every token's
key and value, but its attention output projection, feed-forward network and LayerNorms need only its own
state; the states no head reads need none of them. ``states_at_rows`` runs the embeddings and every layer but
the last as ``BertModel`` runs them, the last layer's self-attention over all tokens, and the rest of that
layer (``BertSelfOutput``, ``BertIntermediate``, ``BertOutput``) at the rows read only. Those rows' states are
the full encoder's, to float rounding; the gradients of every parameter are the same, since the unread states
reach no loss.

It is part of packed tokens (``encoders/packing.py``, ``encoder.text.pack_tokens``): the tokens arrive packed
[1, T] with the ``padding_mask``, which ``BertModel`` would pass to its layers unchanged. The last layer runs
without gradient checkpointing (its rows are few); every other layer as configured.
"""

from __future__ import annotations

import torch
from transformers import BertModel
from transformers.pytorch_utils import apply_chunking_to_forward


def states_at_rows(model: BertModel, input_ids: torch.Tensor, position_ids: torch.Tensor, rows: torch.Tensor,
                   attention_mask: torch.Tensor, **attention_options) -> torch.Tensor:
    """The final states [1, R, d] of the packed tokens at ``rows`` of [1, T] ``input_ids``."""
    hidden = model.embeddings(input_ids=input_ids, position_ids=position_ids)
    *layers, last = model.encoder.layer
    for layer in layers:
        hidden = layer(hidden, attention_mask, **attention_options)
    context, _ = last.attention.self(hidden, attention_mask, **attention_options)
    attended = last.attention.output(context[:, rows], hidden[:, rows])
    return apply_chunking_to_forward(last.feed_forward_chunk, last.chunk_size_feed_forward, last.seq_len_dim,
                                     attended)
