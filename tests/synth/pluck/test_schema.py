"""The pluck parameter table, its schema, and the unit <-> physical maps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spinvae.synth.pluck.schema import (
    DEFAULT_STEPS,
    PARAMETER_NAMES,
    PLUCK_PARAMETERS,
    PLUCK_SCHEMA,
    steps_to_unit,
    to_physical,
    to_unit,
    unit_to_steps,
)


def test_every_parameter_is_continuous_on_a_128_step_grid():
    assert 20 <= PLUCK_SCHEMA.n_params == PLUCK_SCHEMA.n_learnable == len(PLUCK_PARAMETERS) <= 30
    assert PLUCK_SCHEMA.learnable_names == PARAMETER_NAMES
    for p, q in zip(PLUCK_SCHEMA.parameters, PLUCK_PARAMETERS):
        assert (p.name, p.kind, p.max, p.type_name) == (q.name, "continuous", 127, q.name)
        assert p.default == DEFAULT_STEPS[p.index]
        assert q.scale in ("linear", "log") and q.unit and q.meaning
    assert PLUCK_SCHEMA.is_continuous.all() and not PLUCK_SCHEMA.is_categorical.any()
    assert len(set(PLUCK_SCHEMA.type_ids)) == PLUCK_SCHEMA.n_params


def test_default_steps_are_nearest_to_the_default_values():
    for p, step in zip(PLUCK_PARAMETERS, DEFAULT_STEPS):
        assert abs(p.unit_value(p.default) * 127 - step) <= 0.5, p.name
    defaults = dict(zip(PARAMETER_NAMES, DEFAULT_STEPS))
    assert (defaults["level"], defaults["inharmonicity"], defaults["brightness"]) == (64, 0, 78)  # 78.49: ln 15 / ln 80


def test_token_round_trip():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 128, size=(50, PLUCK_SCHEMA.n_learnable)).astype(np.uint8)
    classes, numbers = PLUCK_SCHEMA.to_tokens(values)
    assert (classes == -1).all()
    np.testing.assert_allclose(numbers, steps_to_unit(values), rtol=0, atol=1e-7)
    assert np.array_equal(PLUCK_SCHEMA.from_tokens(classes, numbers), values)
    assert np.array_equal(PLUCK_SCHEMA.from_learnable(values), values)  # every parameter is learnable


def test_physical_map_known_values():
    unit = torch.tensor([[0.0] * len(PLUCK_PARAMETERS), [1.0] * len(PLUCK_PARAMETERS), [0.5] * len(PLUCK_PARAMETERS)],
                        dtype=torch.float64)
    physical = to_physical(unit).numpy()
    for i, p in enumerate(PLUCK_PARAMETERS):
        assert physical[0, i] == pytest.approx(p.low) and physical[1, i] == pytest.approx(p.high)
        middle = math.sqrt(p.low * p.high) if p.scale == "log" else (p.low + p.high) / 2
        assert physical[2, i] == pytest.approx(middle)
    brightness = PARAMETER_NAMES.index("brightness")
    assert physical[2, brightness] == pytest.approx(1788.854, abs=1e-3)  # sqrt(200 * 16000)


def test_to_unit_inverts_to_physical():
    unit = torch.rand(100, len(PLUCK_PARAMETERS), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(to_unit(to_physical(unit)), unit, rtol=0, atol=1e-12)
    assert to_physical(unit.float()).dtype == torch.float32
    steps = np.arange(128, dtype=np.uint8)[:, None].repeat(len(PLUCK_PARAMETERS), axis=1)
    assert np.array_equal(unit_to_steps(to_unit(to_physical(torch.from_numpy(steps_to_unit(steps)))).numpy()), steps)


def test_steps_to_unit():
    np.testing.assert_array_equal(steps_to_unit(np.array([[0, 127, 64]], dtype=np.uint8)), [[0.0, 1.0, 64 / 127]])
    assert np.array_equal(unit_to_steps(np.array([-0.5, 0.0, 0.5, 1.0, 1.5])), [0, 0, 64, 127, 127])
