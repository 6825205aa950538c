"""Latent and parameter paths: ends, linearity, grids, categorical rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spinvae.interpolation.paths import latent_path, parameter_path
from spinvae.presets.dx7 import DX7_SCHEMA
from spinvae.presets.generator import generate_presets

LEARNABLE = list(DX7_SCHEMA.learnable_names)


def test_linear_latent_path_has_equal_steps_and_exact_ends():
    a, b = torch.randn(16), torch.randn(16)
    path = latent_path(a, b, 9)
    assert path.shape == (9, 16)
    torch.testing.assert_close(path[0], a)
    torch.testing.assert_close(path[-1], b)
    steps = path[1:] - path[:-1]
    torch.testing.assert_close(steps, (b - a).expand(8, -1) / 8)


def test_spherical_path_keeps_the_norm_between_codes_of_equal_norm():
    a = torch.tensor([3.0, 0.0, 0.0])
    b = torch.tensor([0.0, 3.0, 0.0])
    path = latent_path(a, b, 5, "spherical")
    torch.testing.assert_close(path.norm(dim=1), torch.full((5,), 3.0))
    torch.testing.assert_close(path[2], torch.tensor([3 / 2**0.5, 3 / 2**0.5, 0.0]))
    assert latent_path(a, b, 5).norm(dim=1)[2] < 2.2  # the linear path cuts through the middle
    torch.testing.assert_close(latent_path(a, 2 * a, 3, "spherical"), latent_path(a, 2 * a, 3))  # parallel


def test_parameter_path_moves_on_each_parameter_grid():
    presets, _ = generate_presets(2, seed=4)
    start, end = DX7_SCHEMA.learnable(presets)
    path = parameter_path(start, end, 9, DX7_SCHEMA)
    assert path.shape == (9, 144) and path.dtype == np.uint8
    assert np.array_equal(path[0], start) and np.array_equal(path[-1], end)
    assert ((path >= np.minimum(start, end)) & (path <= np.maximum(start, end))).all()
    k = LEARNABLE.index("op1_output_level")
    expected = np.rint(start[k] + (end[k].astype(float) - start[k]) * np.linspace(0, 1, 9))
    assert np.array_equal(path[:, k], expected)


def test_categorical_rules():
    start = np.zeros(144, dtype=np.uint8)
    end = start.copy()
    k = LEARNABLE.index("algorithm")
    start[k], end[k] = 2, 6  # algorithms 3 and 7
    normalised = parameter_path(start, end, 5, DX7_SCHEMA)[:, k]
    assert normalised.tolist() == [2, 3, 4, 5, 6]
    switch = parameter_path(start, end, 5, DX7_SCHEMA, categorical="switch")[:, k]
    assert switch.tolist() == [2, 2, 6, 6, 6]
    with pytest.raises(ValueError, match="normalised or switch"):
        parameter_path(start, end, 5, DX7_SCHEMA, categorical="nearest")
    with pytest.raises(ValueError, match="at least 2 steps"):
        parameter_path(start, end, 1, DX7_SCHEMA)
