"""A differentiable stand-in for "render the preset, then measure its timbre": an attribute proxy.

The DX7 (Dexed) is not differentiable, so no loss can ask the decoder what a decoded preset sounds
like. The proxy is a small network from a preset's parameters, given as distributions, to the
dataset's timbre attributes (z-scored, as the attribute regularisation and the evaluation see them):
trained on the dataset's real presets and the attributes of their real renders, then frozen, it lets a
loss reach the decoder through the timbre of what it decodes (:func:`spinvae.training.objective.morph_term`).

Its input (:func:`token_features`) is one row per preset, ``n_numerical + n_categorical * max_classes``
wide: each numerical token's value as a number in [0, 1], then each categorical token's class
probabilities (padded with zeros past its classes). A real preset gives exact numbers and one-hot
classes; a decoded one the decoder's expected numbers and class probabilities
(:meth:`spinvae.model.vae.SpinVAE.token_distributions`), the same layout. The proxy is a judge of the
loss only: every figure of a morph is measured on real renders.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from spinvae.model.tokens import TokenLayout


@dataclass(frozen=True)
class ProxyConfig:
    """The proxy's architecture: an MLP of ``layers`` hidden layers of ``hidden`` units (GELU, LayerNorm,
    dropout ``dropout``), one output per attribute."""

    hidden: int = 512
    layers: int = 3
    dropout: float = 0.1


def token_features(layout: TokenLayout, classes: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
    """Proxy inputs (B, F) of real presets given as tokens: ``classes`` (B, T) int64 and ``numbers``
    (B, T) float in [0, 1] (:meth:`spinvae.presets.schema.ParameterSchema.to_tokens`)."""
    parts = [numbers[:, layout.numerical].float()]
    if len(layout.categorical):
        parts.append(F.one_hot(classes[:, layout.categorical], layout.max_classes).float().flatten(1))
    return torch.cat(parts, dim=1)


def n_token_features(layout: TokenLayout) -> int:
    """F, the width of :func:`token_features`' rows."""
    return len(layout.numerical) + len(layout.categorical) * layout.max_classes


class AttributeProxy(nn.Module):
    """Proxy inputs (B, F) -> attributes (B, n_attributes), z-scored like the dataset's."""

    def __init__(self, n_features: int, n_attributes: int, config: ProxyConfig = ProxyConfig()):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = n_features
        for _ in range(config.layers):
            layers += [nn.Linear(width, config.hidden), nn.LayerNorm(config.hidden), nn.GELU(), nn.Dropout(config.dropout)]
            width = config.hidden
        layers.append(nn.Linear(width, n_attributes))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)
