"""Paths between two presets, as sequences of T steps.

- :func:`latent_path`: between two latent codes, linear (default) or spherical.
- :func:`parameter_path`: the reference method, each synth parameter interpolated on its own.
- :func:`anchor_path`: a decoded path moved onto the exact presets at its ends.
- :func:`anchor_knob`: a timbre knob's decoded presets moved so its centre is the exact preset.

A path includes both ends: step 0 is the start, step T-1 the end, at u = linspace(0, 1, T). With
``extrapolate`` e > 0 it goes on beyond both ends at the same spacing (:func:`positions`), as far
as u = -e and 1 + e, with every parameter kept in its range.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from spinvae.presets.schema import ParameterSchema

LatentMethod = Literal["linear", "spherical"]
CategoricalRule = Literal["normalised", "switch"]


def positions(steps: int, extrapolate: float = 0.0) -> np.ndarray:
    """The path's positions u: ``steps`` from 0 to 1 (both ends included), then as many more at the same
    spacing as fit in ``extrapolate`` beyond each end (``floor(extrapolate * (steps - 1))`` each side)."""
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    if extrapolate < 0:
        raise ValueError(f"extrapolation must be 0 or more, got {extrapolate}")
    extra = int(np.floor(extrapolate * (steps - 1) + 1e-9))
    return np.arange(-extra, steps + extra) / (steps - 1)


def latent_path(start: torch.Tensor, end: torch.Tensor, steps: int, method: LatentMethod = "linear",
                extrapolate: float = 0.0) -> torch.Tensor:
    """Latent codes (len(positions), dim_z) from ``start`` to ``end`` (dim_z,), beyond them with
    ``extrapolate`` (:func:`positions`).

    ``spherical`` (slerp) keeps the norm profile of the two codes instead of cutting through the
    low-norm middle of the Gaussian prior; it falls back to linear for (anti-)parallel codes.
    """
    return latent_points(start, end, positions(steps, extrapolate), method)


def latent_points(start: torch.Tensor, end: torch.Tensor, u: np.ndarray, method: LatentMethod = "linear") -> torch.Tensor:
    """Latent codes (len(u), dim_z) at positions ``u`` (0: ``start``, 1: ``end``, beyond them outside [0, 1])
    on the linear or spherical path (:func:`latent_path`)."""
    u = torch.as_tensor(np.asarray(u, dtype=np.float64), dtype=start.dtype, device=start.device)[:, None]
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
                   categorical: CategoricalRule = "normalised", extrapolate: float = 0.0) -> np.ndarray:
    """The reference interpolation: learnable values (len(positions), n_learnable) uint8 from ``start``
    to ``end``, beyond them with ``extrapolate`` (:func:`positions`).

    A numerical parameter moves linearly and is rounded to its grid (ties to even), clamped to its
    range beyond the ends. A categorical parameter has no "between"; two rules:

    - ``normalised`` (default, the reference system's): its class scaled to [0, 1] as the plugin
      exposes it, interpolated, then snapped to the nearest class, so the path visits the classes
      in between (algorithm 3 -> 7 passes 4, 5, 6);
    - ``switch``: the start's class until half-way, then the end's.
    """
    return parameter_points(start, end, positions(steps, extrapolate), schema, categorical)


def parameter_points(start: np.ndarray, end: np.ndarray, u: np.ndarray, schema: ParameterSchema,
                     categorical: CategoricalRule = "normalised") -> np.ndarray:
    """The reference interpolation (:func:`parameter_path`) at positions ``u``: (len(u), n_learnable) uint8."""
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)[:, None]
    values = np.clip(np.rint((1 - u) * start + u * end), 0, schema.cardinalities - 1)  # (the normalised rule too)
    if categorical == "switch":
        values = np.where(schema.is_categorical, np.where(u < 0.5, start, end), values)
    elif categorical != "normalised":
        raise ValueError(f"unknown categorical rule {categorical!r}: normalised or switch")
    return values.astype(np.uint8)


def anchor_path(path: np.ndarray, start: np.ndarray, end: np.ndarray, schema: ParameterSchema,
                categorical: CategoricalRule = "normalised", u: np.ndarray | None = None) -> np.ndarray:
    """A decoded path (..., T, L) uint8 moved so it passes exactly through ``start`` at u = 0 and ``end``
    at u = 1 (..., L); ``u`` (T,) are the steps' positions, ``positions(T)`` (0 to 1) by default
    (:func:`positions` for an extrapolated path).

    A model decodes its ends with errors (a step off here, a wrong waveform there); a sound designer
    wants the morph to start on their preset. Each numerical parameter gets the straight line from
    its start error to its end error subtracted (continued beyond the ends when extrapolating), so
    the path keeps its own shape (its departures from its own straight line, which is what the
    latent space contributes) between the exact ends, rounded and kept in range. A categorical
    parameter takes the exact class at both ends; elsewhere it keeps the model's class where that is
    the start's or the end's class, and otherwise the reference's class at that step
    (``categorical`` rule): a class neither preset has is an error of the decoder, not part of the morph.
    """
    path = np.asarray(path)
    start = np.asarray(start)[..., None, :].astype(np.float64)
    end = np.asarray(end)[..., None, :].astype(np.float64)
    n_steps = path.shape[-2]
    if n_steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {n_steps}")
    u = positions(n_steps) if u is None else np.asarray(u, dtype=np.float64)
    at_start, at_end = np.flatnonzero(np.isclose(u, 0)), np.flatnonzero(np.isclose(u, 1))
    if len(u) != n_steps or not (len(at_start) and len(at_end)):
        raise ValueError(f"{n_steps} steps need {n_steps} positions u including 0 and 1, got {len(u)}")
    first, last = int(at_start[0]), int(at_end[0])
    values = path.astype(np.float64)
    shift = (1 - u[:, None]) * (start - values[..., first : first + 1, :]) + u[:, None] * (end - values[..., last : last + 1, :])
    numerical = np.clip(np.rint(values + shift), 0, schema.cardinalities - 1)
    ends = path.shape[:-2]
    reference = np.stack([parameter_points(a, b, u, schema, categorical)
                          for a, b in zip(start.reshape(-1, path.shape[-1]), end.reshape(-1, path.shape[-1]))])
    reference = reference.reshape(*ends, n_steps, -1).astype(np.float64)
    kept = (values == start) | (values == end)
    classes = np.where(kept, values, reference)
    classes[..., at_start, :], classes[..., at_end, :] = start, end  # every step at u = 0 or 1
    return np.where(schema.is_categorical, classes, numerical).astype(np.uint8)


def anchor_knob(path: np.ndarray, centre: np.ndarray, preset: np.ndarray, schema: ParameterSchema) -> np.ndarray:
    """A timbre knob's decoded presets (..., T, L) uint8 moved so that the preset decoded at the knob's
    centre, ``centre`` (L,), becomes ``preset`` (L,) exactly.

    The one-ended counterpart of :func:`anchor_path`: each numerical parameter is shifted by the centre's
    error (``preset - centre``), rounded and kept in range, so the knob keeps what it changes; a
    categorical parameter the knob leaves at the centre's class takes the preset's class, one it moves to
    another class keeps the model's.
    """
    path = np.asarray(path)
    centre = np.asarray(centre).astype(np.int64)
    preset = np.asarray(preset).astype(np.int64)
    values = path.astype(np.int64)
    numerical = np.clip(values + (preset - centre), 0, schema.cardinalities - 1)
    classes = np.where(values == centre, preset, values)
    return np.where(schema.is_categorical, classes, numerical).astype(np.uint8)
