"""Presets as token sequences: the token layout of a schema, token embeddings, positions.

One token per learnable synth parameter (144 for the DX7). A numerical token carries its value
scaled to [0, 1]; a categorical token its class. Both come from
:meth:`spinvae.presets.schema.ParameterSchema.to_tokens`.

With ``VAEConfig.tokens = "group"`` the transformers see one token per parameter group instead (the
DX7's six operators and its global parameters: 7 tokens), the group's parameters as features of its
token (:class:`GroupEmbedding` in, :class:`GroupHead` out); attention, whose cost grows with the square
of the tokens' count, becomes about 100x cheaper (BENCHMARKS.md, "Where a step's time goes").
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
    ``type_ids``: parameter type (shared by the six DX7 operators' "op level", ...);
    ``group_ids``: the parameter's group (a DX7 operator; the parameters of no group share one), in
    order of first appearance; empty: every parameter in one group.
    """

    is_categorical: tuple[bool, ...]
    cardinalities: tuple[int, ...]
    type_ids: tuple[int, ...]
    group_ids: tuple[int, ...] = ()

    @classmethod
    def from_schema(cls, schema: ParameterSchema) -> TokenLayout:
        groups = [p.group for p in schema.learnable_parameters]
        order = list(dict.fromkeys(groups))
        return cls(
            tuple(bool(c) for c in schema.is_categorical),
            tuple(int(c) for c in schema.cardinalities),
            tuple(int(t) for t in schema.type_ids),
            tuple(order.index(g) for g in groups),
        )

    @property
    def groups(self) -> tuple[int, ...]:
        """Each token's group id (n_tokens,)."""
        return self.group_ids or (0,) * self.n_tokens

    @property
    def n_groups(self) -> int:
        return max(self.groups) + 1

    def group_slots(self) -> torch.Tensor:
        """(n_groups, max group size) int64: the tokens of each group in order, padded with -1."""
        members = [[i for i, g in enumerate(self.groups) if g == k] for k in range(self.n_groups)]
        width = max(len(m) for m in members)
        return torch.tensor([m + [-1] * (width - len(m)) for m in members], dtype=torch.long)

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


class GroupEmbedding(nn.Module):
    """Group tokens (B, n_groups, d_model) from ``classes`` and ``numbers`` (B, n_tokens): each parameter
    embedded in ``width`` features (:class:`PresetEmbedding`), a group's embeddings concatenated in order
    (zeros past a smaller group's end) and projected by the group's own linear map, plus the group's
    sinusoidal position."""

    def __init__(self, layout: TokenLayout, d_model: int, width: int = 16):
        super().__init__()
        self.parameters_embedding = PresetEmbedding(layout, width)
        slots = layout.group_slots()
        self.register_buffer("slots", slots.clamp(min=0), persistent=False)
        self.register_buffer("present", (slots >= 0)[..., None].float(), persistent=False)
        n_groups, size = slots.shape
        self.weight = nn.Parameter(torch.randn(n_groups, size * width, d_model) / math.sqrt(size * width))
        self.bias = nn.Parameter(torch.zeros(n_groups, d_model))
        self.register_buffer("positions", sinusoidal_positions(n_groups, d_model), persistent=False)

    def forward(self, classes: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
        tokens = self.parameters_embedding(classes, numbers)  # (B, T, width)
        grouped = tokens[:, self.slots] * self.present  # (B, G, size, width)
        return torch.einsum("bgi,gid->bgd", grouped.flatten(2), self.weight) + self.bias + self.positions


class GroupHead(nn.Module):
    """Per-parameter outputs (B, n_tokens, n_out) from group tokens (B, n_groups, d_model): each group's
    own linear map to its parameters' outputs, put back in the parameters' order."""

    def __init__(self, layout: TokenLayout, d_model: int, n_out: int):
        super().__init__()
        slots = layout.group_slots()
        n_groups, size = slots.shape
        self.n_out, self.size = n_out, size
        self.weight = nn.Parameter(torch.randn(n_groups, d_model, size * n_out) / math.sqrt(d_model))
        self.bias = nn.Parameter(torch.zeros(n_groups, size * n_out))
        flat = torch.arange(n_groups * size).view(n_groups, size)  # where each token sits in the flat output
        where = torch.empty(layout.n_tokens, dtype=torch.long)
        where[slots[slots >= 0]] = flat[slots >= 0]
        self.register_buffer("where", where, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("bgd,gdo->bgo", x, self.weight) + self.bias  # (B, G, size * n_out)
        return out.reshape(len(x), -1, self.n_out)[:, self.where]
