"""The preset side: a transformer encoder of parameter tokens and a non-autoregressive decoder.

Encoder: token embeddings (:class:`~spinvae.model.tokens.PresetEmbedding`) followed by learned
extra tokens; after a pre-norm transformer encoder, the extra tokens' outputs give mu and the
pre-softplus variance (B, dim_z) each.

Decoder: learned query tokens (one per parameter, plus sinusoidal positions) attend to a memory
made from z: z cut into d_model-sized tokens, plus one token from an MLP of the whole z. Each
output token gives its parameter's distribution: logits of the classes of a categorical
parameter, or the 3 x n_components parameters of a discretised logistic mixture
(:mod:`spinvae.model.dlm`) for a numerical one.

With ``tokens="group"`` both transformers work on one token per parameter group instead
(:class:`~spinvae.model.tokens.GroupEmbedding` in, :class:`~spinvae.model.tokens.GroupHead` out); the
outputs have the same shape.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from typing import Literal

from spinvae.model.tokens import GroupEmbedding, GroupHead, PresetEmbedding, TokenLayout, sinusoidal_positions

Tokens = Literal["parameter", "group"]


def _encoder_stack(d_model: int, n_heads: int, d_ff: int, n_layers: int, dropout: float) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, activation="gelu", batch_first=True,
                                       norm_first=True)
    return nn.TransformerEncoder(layer, n_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)


class PresetEncoder(nn.Module):
    """Tokens ``classes``, ``numbers`` (B, n_tokens) -> mu, pre-softplus variance (B, dim_z) each."""

    def __init__(self, layout: TokenLayout, dim_z: int, d_model: int, n_heads: int, d_ff: int, n_layers: int,
                 dropout: float = 0.0, tokens: Tokens = "parameter"):
        super().__init__()
        self.embedding = PresetEmbedding(layout, d_model) if tokens == "parameter" else GroupEmbedding(layout, d_model)
        self.n_latent_tokens = math.ceil(dim_z / d_model)  # per output (mu, variance)
        self.extra_tokens = nn.Parameter(torch.randn(2 * self.n_latent_tokens, d_model) * 0.02)
        self.transformer = _encoder_stack(d_model, n_heads, d_ff, n_layers, dropout)
        self.to_mu = nn.Linear(self.n_latent_tokens * d_model, dim_z)
        self.to_variance = nn.Linear(self.n_latent_tokens * d_model, dim_z)

    def forward(self, classes: torch.Tensor, numbers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.embedding(classes, numbers)
        extra = self.extra_tokens.expand(len(tokens), -1, -1)
        out = self.transformer(torch.cat([tokens, extra], dim=1))[:, -2 * self.n_latent_tokens :]
        mu_tokens, variance_tokens = out.chunk(2, dim=1)
        return self.to_mu(mu_tokens.flatten(1)), self.to_variance(variance_tokens.flatten(1))


class PresetDecoder(nn.Module):
    """z (B, dim_z) -> per-token outputs (B, n_tokens, n_out).

    ``n_out = max(max_classes, 3 * n_components)``: the first ``cardinality`` columns of a
    categorical token are its class logits, the first ``3 * n_components`` of a numerical token
    its mixture parameters; the rest are unused.
    """

    def __init__(self, layout: TokenLayout, dim_z: int, d_model: int, n_heads: int, d_ff: int, n_layers: int,
                 n_components: int = 3, dropout: float = 0.0, tokens: Tokens = "parameter"):
        super().__init__()
        self.d_model = d_model
        self.n_memory_tokens = math.ceil(dim_z / d_model)
        self.z_to_tokens = nn.Linear(dim_z, self.n_memory_tokens * d_model)
        self.z_to_mlp_token = nn.Sequential(nn.Linear(dim_z, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        n_queries = layout.n_tokens if tokens == "parameter" else layout.n_groups
        self.queries = nn.Parameter(torch.randn(n_queries, d_model) * 0.02)
        self.register_buffer("positions", sinusoidal_positions(n_queries, d_model), persistent=False)
        layer = nn.TransformerDecoderLayer(d_model, n_heads, d_ff, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.transformer = nn.TransformerDecoder(layer, n_layers, norm=nn.LayerNorm(d_model))
        self.n_out = max(layout.max_classes, 3 * n_components)
        self.to_distributions = (nn.Linear(d_model, self.n_out) if tokens == "parameter"
                                 else GroupHead(layout, d_model, self.n_out))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        memory = torch.cat([self.z_to_tokens(z).view(len(z), self.n_memory_tokens, self.d_model),
                            self.z_to_mlp_token(z)[:, None]], dim=1)
        first, *others = self.transformer.layers
        queries = (self.queries + self.positions)[None]
        if self.training and first.dropout1.p > 0:  # a dropout mask per preset: no sharing
            x = first(queries.expand(len(z), -1, -1), memory)
        else:
            # The first layer's self-attention sees only the learned queries, the same for every preset:
            # computed once and broadcast over the batch instead of B times (the same values).
            h = first.norm1(queries)
            x = queries + first.dropout1(first.self_attn(h, h, h, need_weights=False)[0])
            x = x.expand(len(z), -1, -1)
            h = first.norm2(x)
            x = x + first.dropout2(first.multihead_attn(h, memory, memory, need_weights=False)[0])
            h = first.norm3(x)
            x = x + first.dropout3(first.linear2(first.dropout(first.activation(first.linear1(h)))))
        for layer in others:
            x = layer(x, memory)
        return self.to_distributions(self.transformer.norm(x))
