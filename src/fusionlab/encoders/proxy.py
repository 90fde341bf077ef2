"""Modality proxies (MASE, anonymous ACM MM 2024 submission, Sec. 3.1): the input text encoded by the text tower of a
multimodal contrastive model, whose embedding space is aligned with another modality's.

``clip`` is OpenAI's CLIP ViT-B/32 text tower (its image-aligned embedding is MASE's image
proxy); any Hugging Face CLIP-style name works where a network exists (AudioCLIP / CLIP-ViP
towers for the audio and video proxies of the paper). ``tiny_clip`` is a random two-layer
CLIP text tower on the packaged MiniLM tokenizer, for tests: it is a proxy in shape only.
The tower is frozen by default, as the paper uses the pretrained towers as fixed bridges.
"""

from __future__ import annotations

import torch
from huggingface_hub import constants
from torch import nn
from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModelWithProjection, PreTrainedTokenizerBase

from fusionlab.encoders.hub import explain_unavailable
from fusionlab.encoders.text import random_tokenizer_path

CLIP = "openai/clip-vit-base-patch32"
OFFLINE_PROXY = "tiny_clip (a random tower, for tests only)"


class ProxyEncoder(nn.Module):
    """``forward(texts)`` -> the tower's projected sentence embedding [B, P]."""

    def __init__(self, model: CLIPTextModelWithProjection, tokenizer: PreTrainedTokenizerBase, name: str,
                 freeze: bool = True):
        super().__init__()
        self.model, self.tokenizer, self.name, self.frozen = model, tokenizer, name, freeze
        self.model.requires_grad_(not freeze)
        self.max_length = model.config.max_position_embeddings

    @property
    def output_size(self) -> int:
        return self.model.config.projection_dim

    def train(self, mode: bool = True):
        return super().train(mode and not self.frozen)

    def forward(self, texts: list[str]) -> torch.Tensor:
        device = next(self.model.parameters()).device
        inputs = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                return_tensors="pt").to(device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return self.model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).text_embeds


def _tiny_clip() -> tuple[PreTrainedTokenizerBase, CLIPTextModelWithProjection]:
    tokenizer = AutoTokenizer.from_pretrained(random_tokenizer_path())
    config = CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                            num_attention_heads=2, max_position_embeddings=128, projection_dim=32,
                            bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
                            pad_token_id=tokenizer.pad_token_id)
    return tokenizer, CLIPTextModelWithProjection(config)


def proxy_encoder(name: str = "clip", freeze: bool = True) -> ProxyEncoder:
    """Registry entry: ``clip`` (= ``openai/clip-vit-base-patch32``), any Hugging Face CLIP-style
    name, or ``tiny_clip``. Fails fast, saying why, where a named tower cannot be downloaded."""
    if name == "tiny_clip":
        tokenizer, model = _tiny_clip()
    else:
        hub_name = CLIP if name == "clip" else name
        with explain_unavailable(f"proxy tower {hub_name!r}", constants.ENDPOINT, OFFLINE_PROXY):
            tokenizer = AutoTokenizer.from_pretrained(hub_name)
            model = CLIPTextModelWithProjection.from_pretrained(hub_name)
    return ProxyEncoder(model, tokenizer, name, freeze)
