"""The latent Gaussian: variance parameterisation, reparameterisation, KL with free bits."""

from __future__ import annotations

import torch
import torch.nn.functional as F

MIN_VARIANCE = 1e-4


def variance_from(pre_softplus: torch.Tensor) -> torch.Tensor:
    """Posterior variance (positive) from an encoder's raw output, as in the reference."""
    return F.softplus(pre_softplus) + MIN_VARIANCE


def reparameterize(mu: torch.Tensor, variance: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A sample z = mu + sqrt(variance) * eps (B, dim_z); ``generator`` makes eps reproducible."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + variance.sqrt() * eps


def kl_per_dimension(mu: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, variance) || N(0, 1)) per latent coordinate (B, dim_z), in nats."""
    return 0.5 * (variance + mu.square() - 1.0 - variance.log())


def kl_free_bits(mu: torch.Tensor, variance: torch.Tensor, free_bits: float) -> torch.Tensor:
    """KL summed over coordinates, each coordinate's batch mean floored at ``free_bits`` nats.

    The floor (Kingma et al. 2016) stops the optimiser from pushing coordinates below that KL,
    so they keep carrying information instead of collapsing to the prior. Returns a scalar.
    """
    per_dim = kl_per_dimension(mu, variance).mean(dim=0)
    return per_dim.clamp(min=free_bits).sum()
