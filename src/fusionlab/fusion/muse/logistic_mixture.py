"""The discretised mixture of logistics over RGB pixels (Salimans et al., 2017, PixelCNN++ Sec. 2.1-2.2).

Pixels are in [-1, 1] with 256 levels (bin half-width 1/255). Per pixel the network gives,
for each of K mixture components, a logit, three means, three log-scales and three
coefficients that make the channels autoregressive: mu_g += c_0 x_r, mu_b += c_1 x_r + c_2 x_g.
Layout of the parameters: [B, 10 K, H, W] = logits (K), means (3 K), log-scales (3 K),
coefficients (3 K).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

BIN = 1.0 / 255.0
MIN_LOG_SCALE = -7.0


def split_parameters(params: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """[B, 10K, H, W] -> logits [B, K, H, W] and means, log-scales, coefficients [B, 3, K, H, W]."""
    components = params.size(1) // 10
    logits, rest = params[:, :components], params[:, components:]
    means, log_scales, coefficients = rest.unflatten(1, (3, 3, components)).unbind(1)
    return logits, means, log_scales.clamp(min=MIN_LOG_SCALE), torch.tanh(coefficients)


def channel_means(means: torch.Tensor, coefficients: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """Means conditioned on the previous channels' values [B, 3, H, W] -> [B, 3, K, H, W]."""
    red, green = pixels[:, 0:1], pixels[:, 1:2]
    return torch.stack([means[:, 0],
                        means[:, 1] + coefficients[:, 0] * red,
                        means[:, 2] + coefficients[:, 1] * red + coefficients[:, 2] * green], dim=1)


def log_likelihood(params: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """log p(pixels) per image [B], summed over channels and positions (nats)."""
    logits, means, log_scales, coefficients = split_parameters(params)
    x = pixels.unsqueeze(2)  # [B, 3, 1, H, W]
    centred = x - channel_means(means, coefficients, pixels)
    inverse_scale = torch.exp(-log_scales)
    upper, lower = inverse_scale * (centred + BIN), inverse_scale * (centred - BIN)
    log_cdf_upper = upper - F.softplus(upper)  # log sigmoid(upper): the bin of x = -1 (-inf, -1 + 1/255]
    log_survival_lower = -F.softplus(lower)  # log (1 - sigmoid(lower)): the bin of x = 1 [1 - 1/255, inf)
    bin_mass = torch.sigmoid(upper) - torch.sigmoid(lower)
    middle = inverse_scale * centred  # density at the centre times the bin width, where the mass underflows
    log_density = middle - log_scales - 2.0 * F.softplus(middle) + math.log(2 * BIN)
    interior = torch.where(bin_mass > 1e-5, torch.log(bin_mass.clamp(min=1e-12)), log_density)
    per_channel = torch.where(x < -0.999, log_cdf_upper, torch.where(x > 0.999, log_survival_lower, interior))
    per_component = per_channel.sum(dim=1) + F.log_softmax(logits, dim=1)  # [B, K, H, W]
    return torch.logsumexp(per_component, dim=1).flatten(1).sum(dim=1)


def sample(params: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw per pixel given the parameters [B, 10K, H, W] -> [B, 3, H, W] on the 256-level grid."""
    logits, means, log_scales, coefficients = split_parameters(params)
    gumbel = -torch.log(-torch.log(torch.rand(logits.shape, generator=generator, device=logits.device)
                                   .clamp(1e-5, 1 - 1e-5)))
    choice = F.one_hot((logits + gumbel).argmax(dim=1), logits.size(1)).permute(0, 3, 1, 2).unsqueeze(1)  # [B,1,K,H,W]
    pick = lambda t: (t * choice).sum(dim=2)  # noqa: E731  the chosen component: [B, 3, H, W]
    u = torch.rand(pick(means).shape, generator=generator, device=params.device).clamp(1e-5, 1 - 1e-5)
    noise = pick(means) + torch.exp(pick(log_scales)) * (torch.log(u) - torch.log1p(-u))
    coefficient = pick(coefficients)
    red = noise[:, 0].clamp(-1, 1)
    green = (noise[:, 1] + coefficient[:, 0] * red).clamp(-1, 1)
    blue = (noise[:, 2] + coefficient[:, 1] * red + coefficient[:, 2] * green).clamp(-1, 1)
    return quantise(torch.stack([red, green, blue], dim=1))


def quantise(pixels: torch.Tensor) -> torch.Tensor:
    """Snap [-1, 1] values to the 256-level grid."""
    return torch.round((pixels + 1) * 127.5) / 127.5 - 1
