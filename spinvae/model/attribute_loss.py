"""Attribute regularisation of the latent space: each attribute owns a chunk of latent coordinates.

Attribute a (column a of ``attributes`` (B, n_attributes), z-scored) owns coordinates
``a * chunk .. (a + 1) * chunk - 1`` of z_mu (B, dim_z); every coordinate of the chunk is pushed to
follow the attribute.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def attribute_chunks(z: torch.Tensor, n_attributes: int, chunk: int) -> torch.Tensor:
    """The regularised coordinates of z (B, dim_z) as (B, n_attributes, chunk)."""
    if n_attributes * chunk > z.shape[-1]:
        raise ValueError(f"{n_attributes} attributes x {chunk} coordinates exceed dim_z={z.shape[-1]}")
    return z[:, : n_attributes * chunk].view(len(z), n_attributes, chunk)


def ar_vae_loss(z: torch.Tensor, attributes: torch.Tensor, chunk: int, delta: float,
                min_difference: float = 0.0) -> torch.Tensor:
    """AR-VAE attribute loss (Pati & Lerch 2021): scalar.

    Over all ordered pairs (i, j) of the minibatch and every regularised coordinate r of attribute
    a: mean |tanh(delta * (z_i^r - z_j^r)) - sign(a_i - a_j)|. Pairs whose attribute values differ
    by at most ``min_difference`` are left out (their order is noise); with 0 only equal values
    (including i = j) are.
    """
    chunks = attribute_chunks(z, attributes.shape[1], chunk)  # (B, A, C)
    dz = chunks[:, None] - chunks[None, :]  # (B, B, A, C)
    da = attributes[:, None] - attributes[None, :]  # (B, B, A)
    keep = (da.abs() > min_difference).to(z.dtype)[..., None].expand_as(dz)
    error = (torch.tanh(delta * dz) - torch.sign(da)[..., None]).abs()
    return (error * keep).sum() / keep.sum().clamp(min=1.0)


def s2_vae_loss(z: torch.Tensor, attributes: torch.Tensor, chunk: int, low: torch.Tensor,
                high: torch.Tensor) -> torch.Tensor:
    """S2-VAE attribute loss (Locatello et al. 2019): scalar.

    Mean binary cross-entropy between sigmoid(z^r) and the attribute scaled to [0, 1] with its
    training-split range (``low``, ``high`` (n_attributes,)), clipped to [0, 1].
    """
    chunks = attribute_chunks(z, attributes.shape[1], chunk)
    target = ((attributes - low) / (high - low).clamp(min=1e-8)).clamp(0.0, 1.0)
    return F.binary_cross_entropy_with_logits(chunks, target[..., None].expand_as(chunks))
