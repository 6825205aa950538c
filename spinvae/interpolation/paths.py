"""Paths between two presets, as sequences of T steps.

- :func:`latent_path`: between two latent codes, linear (default) or spherical.
- :func:`parameter_path`: the reference method, each synth parameter interpolated on its own.

A path includes both ends: step 0 is the start, step T-1 the end, at u = linspace(0, 1, T).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from spinvae.presets.schema import ParameterSchema

LatentMethod = Literal["linear", "spherical"]
CategoricalRule = Literal["normalised", "switch"]


def latent_path(start: torch.Tensor, end: torch.Tensor, steps: int, method: LatentMethod = "linear") -> torch.Tensor:
    """Latent codes (steps, dim_z) from ``start`` to ``end`` (dim_z,).

    ``spherical`` (slerp) keeps the norm profile of the two codes instead of cutting through the
    low-norm middle of the Gaussian prior; it falls back to linear for (anti-)parallel codes.
    """
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    u = torch.linspace(0, 1, steps, dtype=start.dtype, device=start.device)[:, None]
    if method == "linear":
        return (1 - u) * start + u * end
    if method != "spherical":
        raise ValueError(f"unknown latent interpolation {method!r}: linear or spherical")
    cosine = torch.dot(start, end) / (start.norm() * end.norm()).clamp(min=1e-12)
    omega = torch.arccos(cosine.clamp(-1.0, 1.0))
    if omega.abs() < 1e-4 or (torch.pi - omega).abs() < 1e-4:
        return (1 - u) * start + u * end
    return (torch.sin((1 - u) * omega) * start + torch.sin(u * omega) * end) / torch.sin(omega)


def parameter_path(start: np.ndarray, end: np.ndarray, steps: int, schema: ParameterSchema,
                   categorical: CategoricalRule = "normalised") -> np.ndarray:
    """The reference interpolation: learnable values (steps, n_learnable) uint8 from ``start`` to ``end``.

    A numerical parameter moves linearly and is rounded to its grid (ties to even). A categorical
    parameter has no "between"; two rules:

    - ``normalised`` (default, the reference system's): its class scaled to [0, 1] as the plugin
      exposes it, interpolated, then snapped to the nearest class, so the path visits the classes
      in between (algorithm 3 -> 7 passes 4, 5, 6);
    - ``switch``: the start's class until half-way, then the end's.
    """
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    u = np.linspace(0.0, 1.0, steps)[:, None]
    values = np.rint((1 - u) * start + u * end)  # for a categorical, this is the normalised rule too
    if categorical == "switch":
        values = np.where(schema.is_categorical, np.where(u < 0.5, start, end), values)
    elif categorical != "normalised":
        raise ValueError(f"unknown categorical rule {categorical!r}: normalised or switch")
    return values.astype(np.uint8)
