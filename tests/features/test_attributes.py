"""Attribute post-processing: median filling, data-chosen logs, z-scores, the Spearman filter."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spinvae.features.attributes import AttributeTransform, fit_attributes

NAMES = ("a_normal", "b_lognormal", "c_copy_of_a", "d_independent", "e_constant", "f_never_finite")


@pytest.fixture(scope="module")
def train() -> np.ndarray:
    rng = np.random.default_rng(0)
    n = 4000
    a = rng.normal(10.0, 2.0, n)
    b = rng.lognormal(0.0, 1.5, n)
    c = 3.0 * a + rng.normal(0.0, 0.01, n)  # |Spearman| with a close to 1
    d = rng.normal(0.0, 1.0, n)
    e = np.full(n, 7.0)
    f = np.full(n, np.nan)
    x = np.stack([a, b, c, d, e, f], axis=1)
    x[rng.choice(n, 200, replace=False), 0] = np.nan  # failures
    return x


def test_correlated_constant_and_never_finite_features_are_dropped(train):
    t = fit_attributes(train, NAMES)
    assert t.kept == ("a_normal", "b_lognormal", "d_independent")
    assert "a_normal" in t.dropped["c_copy_of_a"] and "Spearman" in t.dropped["c_copy_of_a"]
    assert "constant" in t.dropped["e_constant"]
    assert "finite" in t.dropped["f_never_finite"]


def test_logs_are_chosen_by_skewness(train):
    t = fit_attributes(train, NAMES)
    assert np.isnan(t.log_eps[0]) and np.isnan(t.log_eps[3])  # symmetric: no log
    assert t.log_eps[1] > 0  # lognormal: logged
    attrs = t.apply(train)
    # log of a lognormal is normal: its skewness is near 0 after the transform
    from scipy import stats

    assert abs(stats.skew(attrs[:, 1])) < 0.2


def test_training_attributes_are_z_scores_and_failures_become_the_median(train):
    t = fit_attributes(train, NAMES)
    attrs = t.apply(train)
    np.testing.assert_allclose(attrs.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(attrs.std(axis=0), 1.0, atol=1e-4)
    nan_rows = np.isnan(train[:, 0])
    expected = (np.nanmedian(train[:, 0]) - t.mean[0]) / t.std[0]
    np.testing.assert_allclose(attrs[nan_rows, 0], expected, rtol=1e-5)
    assert np.isfinite(t.apply(np.full((3, len(NAMES)), np.inf))).all()


def test_forced_list_and_unknown_names(train):
    t = fit_attributes(train, NAMES, forced=("d_independent", "c_copy_of_a"))
    assert t.kept == ("d_independent", "c_copy_of_a")
    assert t.apply(train).shape == (len(train), 2)
    with pytest.raises(ValueError, match="nope"):
        fit_attributes(train, NAMES, forced=("nope",))


def test_json_round_trip_gives_the_same_attributes(train):
    t = fit_attributes(train, NAMES)
    again = AttributeTransform.from_dict(json.loads(json.dumps(t.to_dict())))
    assert again.kept == t.kept and again.dropped == t.dropped
    np.testing.assert_array_equal(again.apply(train), t.apply(train))


def test_shape_errors(train):
    with pytest.raises(ValueError, match="shape"):
        fit_attributes(train[:, :3], NAMES)
