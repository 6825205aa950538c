"""Tests of the train-time preset augmentation (spinvae.synth.dx7.variations)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from dexed import algorithms

from spinvae.synth.dx7.variations import (
    N_VARIATIONS,
    add_parameter_noise,
    similar_algorithms,
    swap_similar_algorithm,
    vary_preset,
)
from spinvae.synth.dx7.schema import DX7_SCHEMA, KEYBOARD_CURVES, LFO_WAVEFORMS

NAMES = DX7_SCHEMA.learnable_names
CARD = DX7_SCHEMA.cardinalities
N_LEARNABLE = DX7_SCHEMA.n_learnable
TYPES = np.array([p.type_name for p in DX7_SCHEMA.learnable_parameters])
ALGORITHM = NAMES.index("algorithm")
LOW_CARD = np.flatnonzero(~DX7_SCHEMA.is_categorical & (CARD < 100))
HUNDRED = np.flatnonzero(~DX7_SCHEMA.is_categorical & (CARD == 100))
FIXED = np.flatnonzero(np.isin(TYPES, ["algorithm", "frequency_mode", "osc_key_sync"]))
CURVES = np.flatnonzero(np.isin(TYPES, ["left_curve", "right_curve"]))
N_DRAWS = 20_000


def random_presets(n: int, seed: int = 0) -> np.ndarray:
    """(n, 144) uint8 learnable values uniform over every parameter's range."""
    return np.random.default_rng(seed).integers(0, CARD, size=(n, N_LEARNABLE)).astype(np.uint8)


def repeated(value_per_param: np.ndarray, n: int) -> np.ndarray:
    return np.broadcast_to(value_per_param.astype(np.uint8), (n, N_LEARNABLE)).copy()


def assert_in_range(values: np.ndarray) -> None:
    assert values.dtype == np.uint8
    assert values.shape[-1] == N_LEARNABLE
    assert (values.astype(np.int64) < CARD).all()
    DX7_SCHEMA.from_learnable(values)  # range-checks the full presets


# --- variations ---------------------------------------------------------------------------------
def test_variation_zero_is_an_identical_copy():
    presets = random_presets(50)
    out = vary_preset(presets, 0, np.random.default_rng(0))
    assert out.dtype == np.uint8 and out.shape == presets.shape
    np.testing.assert_array_equal(out, presets)
    out[:] = 0
    assert presets.any()  # a copy, not a view


@pytest.mark.parametrize("variation", range(N_VARIATIONS))
def test_shapes_dtype_and_no_in_place_change(variation):
    presets = random_presets(64, seed=variation)
    before = presets.copy()
    presets.flags.writeable = False  # any in-place write would raise
    batch = vary_preset(presets, variation, np.random.default_rng(1))
    single = vary_preset(presets[3], variation, np.random.default_rng(1))
    np.testing.assert_array_equal(presets, before)
    assert batch.shape == (64, N_LEARNABLE) and batch.dtype == np.uint8
    assert single.shape == (N_LEARNABLE,) and single.dtype == np.uint8
    assert vary_preset(presets[:0], variation, np.random.default_rng(1)).shape == (0, N_LEARNABLE)


@pytest.mark.parametrize("variation", range(N_VARIATIONS))
def test_outputs_always_in_range(variation):
    rng = np.random.default_rng(123)
    # uniform presets plus presets at both ends of every range, where clipping matters
    presets = np.concatenate([random_presets(N_DRAWS // 2), repeated(np.zeros(N_LEARNABLE), 2000),
                              repeated(CARD - 1, 2000)])
    assert_in_range(vary_preset(presets, variation, rng))


@pytest.mark.parametrize("variation", [-1, 4, 10, 1.0, "1", True, None])
def test_invalid_variation_raises(variation):
    with pytest.raises(ValueError):
        vary_preset(random_presets(2), variation, np.random.default_rng(0))


def test_invalid_values_raise():
    rng = np.random.default_rng(0)
    bad = random_presets(2)
    bad[1, ALGORITHM] = 32
    with pytest.raises(ValueError):
        add_parameter_noise(bad, rng)
    with pytest.raises(ValueError):
        swap_similar_algorithm(np.zeros((2, N_LEARNABLE - 1), dtype=np.uint8), rng)
    with pytest.raises(ValueError):
        vary_preset(np.zeros(N_LEARNABLE, dtype=np.float32), 0, rng)


@pytest.mark.parametrize("variation", range(N_VARIATIONS))
def test_deterministic_with_same_seed(variation):
    presets = random_presets(200, seed=5)
    a = vary_preset(presets, variation, np.random.default_rng(42))
    b = vary_preset(presets, variation, np.random.default_rng(42))
    np.testing.assert_array_equal(a, b)
    if variation >= 2:
        c = vary_preset(presets, variation, np.random.default_rng(43))
        assert (a != c).any()


# --- similar algorithms ---------------------------------------------------------------------------
def test_similar_algorithms_relation():
    similar = similar_algorithms()
    assert sorted(similar) == list(range(32))
    for a, partners in similar.items():
        assert a not in partners
        assert list(partners) == sorted(set(partners))
        for b in partners:
            assert a in similar[b]  # symmetric
            assert set(algorithms[a].carriers) == set(algorithms[b].carriers)
            diff = np.abs(algorithms[a].mod_matrix.astype(int) - algorithms[b].mod_matrix.astype(int)).sum()
            assert diff <= 1
    # measured: 25 algorithms have a partner; DX7 18, 19, 22, 28, 29, 30, 32 have none
    assert sum(bool(p) for p in similar.values()) == 25
    assert [a + 1 for a, p in similar.items() if not p] == [18, 19, 22, 28, 29, 30, 32]
    # spot checks (0-based): DX7 1 <-> 2 (feedback edge only), DX7 7/8/9 all alike
    assert similar[0] == (1,)
    assert similar[6] == (7, 8)
    similar[0] = ()  # a fresh dict: the cached relation is not affected
    assert similar_algorithms()[0] == (1,)


def test_swap_similar_algorithm():
    rng = np.random.default_rng(7)
    similar = similar_algorithms()
    presets = random_presets(N_DRAWS, seed=2)
    out = swap_similar_algorithm(presets, rng)
    others = np.arange(N_LEARNABLE) != ALGORITHM
    np.testing.assert_array_equal(out[:, others], presets[:, others])
    seen: dict[int, set[int]] = {a: set() for a in range(32)}
    for old, new in zip(presets[:, ALGORITHM].tolist(), out[:, ALGORITHM].tolist()):
        if similar[old]:
            assert new in similar[old]
            assert set(algorithms[new].carriers) == set(algorithms[old].carriers)
        else:
            assert new == old
        seen[old].add(new)
    for a, partners in similar.items():  # every partner gets drawn
        assert seen[a] == (set(partners) if partners else {a})


# --- noise ----------------------------------------------------------------------------------------
def test_noise_never_changes_fixed_parameters():
    presets = random_presets(N_DRAWS, seed=3)
    out = add_parameter_noise(presets, np.random.default_rng(0))
    assert len(FIXED) == 1 + 6 + 1
    np.testing.assert_array_equal(out[:, FIXED], presets[:, FIXED])


def test_low_cardinality_step_noise_statistics():
    rng = np.random.default_rng(11)
    interior = repeated(np.ones(N_LEARNABLE), N_DRAWS)  # 1 is an interior value of every such parameter
    assert (CARD[LOW_CARD] >= 3).all()
    delta = add_parameter_noise(interior, rng)[:, LOW_CARD].astype(np.int64) - 1
    assert set(np.unique(delta).tolist()) == {-1, 0, 1}
    moved, down, up = (delta != 0).mean(), (delta == -1).mean(), (delta == 1).mean()
    assert abs(moved - 0.10) < 0.005  # pooled over 32 parameters x 20,000 draws
    assert abs(down - 0.05) < 0.004 and abs(up - 0.05) < 0.004
    per_param = (delta != 0).mean(axis=0)  # each parameter alone, 20,000 draws: sd ~ 0.0021
    assert (np.abs(per_param - 0.10) < 0.012).all()
    # at the ends of the range only the inward move remains (5%)
    low = add_parameter_noise(repeated(np.zeros(N_LEARNABLE), N_DRAWS), rng)[:, LOW_CARD]
    high = add_parameter_noise(repeated(CARD - 1, N_DRAWS), rng)[:, LOW_CARD].astype(np.int64)
    assert abs((low != 0).mean() - 0.05) < 0.004
    assert abs((high != CARD[LOW_CARD] - 1).mean() - 0.05) < 0.004


def _rounded_gaussian_moments(sigma: float) -> tuple[float, float]:
    """P(round(X) != 0) and std of round(X) for X ~ N(0, sigma^2)."""
    phi = lambda x: 0.5 * (1.0 + math.erf(x / (sigma * math.sqrt(2.0))))  # noqa: E731
    p = {k: phi(k + 0.5) - phi(k - 0.5) for k in range(-10, 11)}
    return 1.0 - p[0], math.sqrt(sum(k * k * pk for k, pk in p.items()))


def test_hundred_step_gaussian_noise_statistics():
    assert len(HUNDRED) == 90
    p_moved, expected_std = _rounded_gaussian_moments(0.5)  # 0.3173, 0.5704
    assert 0.56 < expected_std < 0.58
    mid = repeated(np.minimum(50, CARD - 1), N_DRAWS)
    delta = add_parameter_noise(mid, np.random.default_rng(3))[:, HUNDRED].astype(np.int64) - 50
    assert abs(delta.mean()) < 0.005
    assert abs(delta.std() - expected_std) < 0.005  # 1.8M pooled samples
    assert abs((delta != 0).mean() - p_moved) < 0.003
    assert np.abs(delta).max() <= 4
    per_param = delta.std(axis=0)  # 20,000 draws each
    assert (np.abs(per_param - expected_std) < 0.02).all()
    # clipped at the ends of the range, and only inward moves there
    low = add_parameter_noise(repeated(np.zeros(N_LEARNABLE), N_DRAWS), np.random.default_rng(4))[:, HUNDRED]
    assert abs((low != 0).mean() - p_moved / 2) < 0.003


def test_lfo_waveform_and_key_sync_randomised_uniformly():
    presets = repeated(np.zeros(N_LEARNABLE), N_DRAWS)
    out = add_parameter_noise(presets, np.random.default_rng(5))
    wave = out[:, NAMES.index("lfo_waveform")]
    freq = np.bincount(wave, minlength=len(LFO_WAVEFORMS)) / N_DRAWS
    assert len(freq) == len(LFO_WAVEFORMS)
    assert (np.abs(freq - 1 / len(LFO_WAVEFORMS)) < 0.015).all()
    sync = out[:, NAMES.index("lfo_key_sync")]
    assert abs(sync.mean() - 0.5) < 0.015


def test_curve_flips_keep_the_sign():
    presets = random_presets(N_DRAWS, seed=9)
    out = add_parameter_noise(presets, np.random.default_rng(6))
    before, after = presets[:, CURVES], out[:, CURVES]
    names = np.array(KEYBOARD_CURVES)
    assert (np.char.startswith(names[after], "-") == np.char.startswith(names[before], "-")).all()
    flipped = before != after
    # a flip swaps lin and exp, so the shape always changes
    assert (np.char.endswith(names[before[flipped]], "lin") != np.char.endswith(names[after[flipped]], "lin")).all()
    assert abs(flipped.mean() - 0.5) < 0.01
    for c in range(len(KEYBOARD_CURVES)):  # every curve flips, about half the time
        assert abs(flipped[before == c].mean() - 0.5) < 0.02
