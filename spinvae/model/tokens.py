"""Presets as token sequences: the token layout of a schema, token embeddings, positions.

One token per learnable synth parameter (144 for the DX7). A numerical token carries its value
scaled to [0, 1]; a categorical token its class. Both come from
:meth:`spinvae.presets.schema.ParameterSchema.to_tokens`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from spinvae.presets.schema import ParameterSchema


@dataclass(frozen=True)
class TokenLayout:
    """What the model needs to know of a schema, as tuples (one entry per token).

    ``cardinalities``: discrete steps of a numerical token, classes of a categorical one;
    ``type_ids``: parameter type (shared by the six DX7 operators' "op level", ...).
    """

    is_categorical: tuple[bool, ...]
    cardinalities: tuple[int, ...]
    type_ids: tuple[int, ...]

    @classmethod
    def from_schema(cls, schema: ParameterSchema) -> TokenLayout:
        return cls(
            tuple(bool(c) for c in schema.is_categorical),
            tuple(int(c) for c in schema.cardinalities),
            tuple(int(t) for t in schema.type_ids),
        )

    @property
    def n_tokens(self) -> int:
        return len(self.is_categorical)

    @property
    def n_types(self) -> int:
        return max(self.type_ids) + 1

    @property
    def numerical(self) -> torch.Tensor:
        """Indices of the numerical tokens (n_numerical,) int64."""
        return torch.tensor([i for i, c in enumerate(self.is_categorical) if not c], dtype=torch.long)

    @property
    def categorical(self) -> torch.Tensor:
        """Indices of the categorical tokens (n_categorical,) int64."""
        return torch.tensor([i for i, c in enumerate(self.is_categorical) if c], dtype=torch.long)

    @property
    def max_classes(self) -> int:
        return max((k for k, c in zip(self.cardinalities, self.is_categorical) if c), default=0)


def sinusoidal_positions(n: int, dim: int) -> torch.Tensor:
    """The transformer's sinusoidal position encodings (n, dim)."""
    position = torch.arange(n, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table


class PresetEmbedding(nn.Module):
    """Token embeddings (B, n_tokens, d_model) from ``classes`` and ``numbers`` (B, n_tokens).

    A numerical token is ``w_t * x + b_t`` with x its value scaled to [-1, 1] and (w_t, b_t)
    learned per parameter type t; a categorical token is a learned vector per (type, class).
    Sinusoidal positions are added, so two operators' parameters of one type differ.
    """

    def __init__(self, layout: TokenLayout, d_model: int):
        super().__init__()
        n_types = layout.n_types
        self.weight = nn.Parameter(torch.randn(n_types, d_model) * 0.5)
        self.bias = nn.Parameter(torch.zeros(n_types, d_model))
        # categorical tables flattened: row = offset of the token's type + class
        offsets, sizes = {}, 0
        for t, k, c in zip(layout.type_ids, layout.cardinalities, layout.is_categorical):
            if c and t not in offsets:
                offsets[t], sizes = sizes, sizes + k
        self.classes = nn.Embedding(max(sizes, 1), d_model)
        nn.init.normal_(self.classes.weight, std=0.5)
        self.register_buffer("type_ids", torch.tensor(layout.type_ids), persistent=False)
        self.register_buffer("is_categorical", torch.tensor(layout.is_categorical), persistent=False)
        self.register_buffer(
            "class_offsets", torch.tensor([offsets.get(t, 0) for t in layout.type_ids]), persistent=False
        )
        self.register_buffer("positions", sinusoidal_positions(layout.n_tokens, d_model), persistent=False)

    def forward(self, classes: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
        x = (2 * numbers - 1)[..., None]
        numerical = self.weight[self.type_ids] * x + self.bias[self.type_ids]
        categorical = self.classes(self.class_offsets + classes.clamp(min=0))
        tokens = torch.where(self.is_categorical[:, None], categorical, numerical)
        return tokens + self.positions
