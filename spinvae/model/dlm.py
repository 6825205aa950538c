"""Discretised logistic mixtures over each numerical parameter's own discrete support.

A numerical parameter with K steps takes values x_k = 2k/(K-1) - 1 in [-1, 1] (k = 0..K-1).
A mixture of logistics (weights pi_m, means mu_m, scales s_m) gives step k the probability mass
of the bin [x_k - 1/(K-1), x_k + 1/(K-1)], with the first and last bins reaching to -inf and +inf
(PixelCNN++, Salimans et al. 2017), so the masses of the K steps sum to 1 exactly.

Shapes: ``params`` (..., 3 * n_components) holds the mixture logits, means and log-scales;
``cardinalities`` (...,) the K of each parameter; masses come over the padded support
(..., max_K), with -inf log-mass beyond each parameter's K.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MIN_LOG_SCALE = -7.0


def split_mixture(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits, means and log-scales (..., n_components) of raw mixture parameters."""
    logits, means, log_scales = params.chunk(3, dim=-1)
    return logits, means, log_scales.clamp(min=MIN_LOG_SCALE)


def log_bin_mass(upper: torch.Tensor, lower: torch.Tensor, first: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """log(sigmoid(upper) - sigmoid(lower)) of standardised bin edges, stably.

    ``first`` / ``last`` (bool, broadcastable) mark the edge bins, whose lower / upper edge is
    -inf / +inf: their masses are sigmoid(upper) and sigmoid(-lower). Interior bins use
    sigmoid(a) - sigmoid(b) = sigmoid(a) * sigmoid(-b) * (1 - exp(b - a)), whose three factors
    have exact logs deep in the tails, where the direct difference rounds to 0. Edges are kept
    finite (the selection is done after) so that no gradient meets an infinity.
    """
    interior = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))
    return torch.where(first, F.logsigmoid(upper), torch.where(last, F.logsigmoid(-lower), interior))


def _log_mass(steps: torch.Tensor, last: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Log-mass of ``steps`` (..., S) float under mixtures ``params`` (..., 3M); ``last`` (..., 1) = K-1."""
    logits, means, log_scales = split_mixture(params)
    centre = 2 * steps / last - 1
    half = 1.0 / last
    inv_scale = torch.exp(-log_scales)[..., None, :]  # (..., 1, M)
    mu = means[..., None, :]
    upper = (centre + half)[..., None]
    lower = (centre - half)[..., None]
    first = (steps <= 0)[..., None]
    final = (steps >= last)[..., None]
    per_component = log_bin_mass((upper - mu) * inv_scale, (lower - mu) * inv_scale, first, final)
    return torch.logsumexp(per_component + F.log_softmax(logits, dim=-1)[..., None, :], dim=-1)


def log_pmf(params: torch.Tensor, cardinalities: torch.Tensor, max_steps: int) -> torch.Tensor:
    """Log-masses (..., max_steps) of every step of each parameter; -inf past its cardinality."""
    k = torch.arange(max_steps, device=params.device, dtype=params.dtype)
    last = (cardinalities - 1).to(params.dtype)[..., None]
    steps = k.expand(*cardinalities.shape, max_steps)
    return _log_mass(steps, last, params).masked_fill(k > last, float("-inf"))


def nll(params: torch.Tensor, cardinalities: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood (...,) of the integer ``steps`` (...,) under each mixture."""
    last = (cardinalities - 1).to(params.dtype)[..., None]
    return -_log_mass(steps.to(params.dtype)[..., None], last, params)[..., 0]


def mixture_mean(params: torch.Tensor) -> torch.Tensor:
    """The mixture's expected value (...,) on [-1, 1] (the means weighted by the component weights):
    a differentiable stand-in for a parameter's value, between its steps."""
    logits, means, _ = split_mixture(params)
    return (F.softmax(logits, dim=-1) * means).sum(-1).clamp(-1.0, 1.0)


def most_probable_step(params: torch.Tensor, cardinalities: torch.Tensor, max_steps: int) -> torch.Tensor:
    """The step of largest mass (...,) int64: always inside 0..K-1."""
    return log_pmf(params, cardinalities, max_steps).argmax(dim=-1)
