"""Latent and parameter paths: ends, linearity, grids, categorical rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spinvae.interpolation.paths import anchor_knob, anchor_path, latent_path, parameter_path, positions
from spinvae.synth.dx7.schema import DX7_SCHEMA
from spinvae.synth.dx7.generator import generate_presets

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


def test_positions_go_on_beyond_the_ends_at_the_same_spacing():
    np.testing.assert_allclose(positions(5), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(positions(5, 0.5), [-0.5, -0.25, 0, 0.25, 0.5, 0.75, 1, 1.25, 1.5])
    np.testing.assert_allclose(positions(5, 0.3), [-0.25, 0, 0.25, 0.5, 0.75, 1, 1.25])  # whole steps only
    with pytest.raises(ValueError, match="at least 2 steps"):
        positions(1)
    with pytest.raises(ValueError, match="0 or more"):
        positions(5, -0.1)


def test_extrapolated_paths_continue_the_line_and_stay_in_range():
    start, end = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 3.0])
    z = latent_path(start, end, 3, extrapolate=1.0)
    torch.testing.assert_close(z, torch.tensor([[-1.0, -1.0], [-0.5, 0.0], [0.0, 1.0], [0.5, 2.0], [1.0, 3.0],
                                                [1.5, 4.0], [2.0, 5.0]]))
    presets, _ = generate_presets(2, seed=4)
    a, b = DX7_SCHEMA.learnable(presets)
    path = parameter_path(a, b, 9, DX7_SCHEMA, extrapolate=0.5)
    assert path.shape == (17, 144)
    np.testing.assert_array_equal(path[4:13], parameter_path(a, b, 9, DX7_SCHEMA))  # the same inside
    assert (path < DX7_SCHEMA.cardinalities).all()
    far = np.clip(np.rint(b + 0.5 * (b.astype(float) - a)), 0, DX7_SCHEMA.cardinalities - 1)
    np.testing.assert_array_equal(path[-1], far)


def test_anchored_paths_end_exactly_on_the_presets_and_keep_their_own_bend():
    presets, _ = generate_presets(2, seed=5)
    a, b = DX7_SCHEMA.learnable(presets)
    reference = parameter_path(a, b, 9, DX7_SCHEMA)
    np.testing.assert_array_equal(anchor_path(reference, a, b, DX7_SCHEMA), reference)  # nothing to move
    numerical = ~DX7_SCHEMA.is_categorical
    bent = reference.astype(int)
    bent[1:-1, numerical] += 2  # a path whose middle departs from its own line
    bent[:, numerical] += 1  # and whose ends are one step off
    bent = np.clip(bent, 0, DX7_SCHEMA.cardinalities - 1).astype(np.uint8)
    anchored = anchor_path(bent, a, b, DX7_SCHEMA)
    np.testing.assert_array_equal(anchored[0], a)
    np.testing.assert_array_equal(anchored[-1], b)
    inside = (reference[1:-1, numerical] + 2 < DX7_SCHEMA.cardinalities[numerical] - 2)  # away from clipping
    shift = anchored[1:-1, numerical].astype(int) - reference[1:-1, numerical]
    assert (shift[inside] == 2).mean() > 0.95  # the bend kept, the ends' offset gone (up to rounding)
    wrong = bent.copy()
    cat = np.flatnonzero(DX7_SCHEMA.is_categorical)
    wrong[:, cat] = (np.maximum(a[cat], b[cat]) + 1) % DX7_SCHEMA.cardinalities[cat]  # a class neither has
    fixed = anchor_path(wrong, a, b, DX7_SCHEMA)
    neither = (wrong[4, cat] != a[cat]) & (wrong[4, cat] != b[cat])
    np.testing.assert_array_equal(fixed[4, cat][neither], reference[4, cat][neither])  # the reference's class


def test_an_extrapolated_path_is_anchored_at_u_0_and_1_and_its_shift_goes_on_beyond_them():
    presets, _ = generate_presets(2, seed=7)
    a, b = DX7_SCHEMA.learnable(presets)
    u = positions(9, extrapolate=0.5)  # 4 steps beyond each end: the presets at steps 4 and 12
    reference = parameter_path(a, b, 9, DX7_SCHEMA, extrapolate=0.5)
    np.testing.assert_array_equal(anchor_path(reference, a, b, DX7_SCHEMA, u=u), reference)  # nothing to move
    numerical = ~DX7_SCHEMA.is_categorical
    off = reference.astype(int)
    off[:, numerical] += 1  # every step, ends included, one step off
    off = np.clip(off, 0, DX7_SCHEMA.cardinalities - 1).astype(np.uint8)
    anchored = anchor_path(off, a, b, DX7_SCHEMA, u=u)
    np.testing.assert_array_equal(anchored[4], a)
    np.testing.assert_array_equal(anchored[12], b)
    values, top = reference[:, numerical].astype(int), DX7_SCHEMA.cardinalities[numerical] - 1
    unclipped = ((values >= 1) & (values < top)).all(axis=0)  # parameters whose every step moved by one
    assert unclipped.sum() > 40
    np.testing.assert_array_equal(anchored[:, numerical][:, unclipped], values[:, unclipped])  # beyond the ends too
    with pytest.raises(ValueError, match="17 steps need 17 positions u including 0 and 1"):
        anchor_path(off, a, b, DX7_SCHEMA, u=u + 2)


def test_an_anchored_knob_has_the_preset_at_its_centre_and_keeps_what_the_knob_changes():
    presets, _ = generate_presets(3, seed=11)
    preset, centre, other = DX7_SCHEMA.learnable(presets)
    numerical, cat = ~DX7_SCHEMA.is_categorical, DX7_SCHEMA.is_categorical
    knob = np.stack([other, centre, centre])
    knob[2, numerical] = np.clip(centre[numerical].astype(int) + 1, 0, DX7_SCHEMA.cardinalities[numerical] - 1)
    anchored = anchor_knob(knob, centre, preset, DX7_SCHEMA)
    np.testing.assert_array_equal(anchored[1], preset)  # the decoded centre becomes the preset
    np.testing.assert_array_equal(anchored[2, cat], preset[cat])  # classes the knob leaves at the centre's
    moved = cat & (other != centre)
    np.testing.assert_array_equal(anchored[0, moved], other[moved])  # classes the knob changes: the model's
    room = numerical & (centre < DX7_SCHEMA.cardinalities - 1) & (preset < DX7_SCHEMA.cardinalities - 1)
    np.testing.assert_array_equal(anchored[2, room], preset[room] + 1)  # the knob's numerical change kept
    assert (anchor_knob(knob, centre, centre, DX7_SCHEMA) == knob).all()  # an exact centre: nothing moves
    top = np.where(numerical, DX7_SCHEMA.cardinalities - 1, preset).astype(np.uint8)
    assert (anchor_knob(top[None], np.zeros_like(top), top, DX7_SCHEMA) < DX7_SCHEMA.cardinalities).all()  # in range
