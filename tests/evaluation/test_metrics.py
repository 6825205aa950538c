"""Interpolation metrics: per-sequence values checked by hand, aggregation on constructed data."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from spinvae.evaluation.metrics import (median_change_pct, nonlinearity, nonlinearity_decomposition, result_table,
                                        sequence_metrics, smoothness, summarize)

T = 9
U = np.linspace(0.0, 1.0, T)


def test_straight_line_is_smooth_and_linear():
    line = np.stack([2.0 - 3.0 * U, 0.5 + U], axis=-1)  # (T, 2)
    np.testing.assert_allclose(smoothness(line), [0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(nonlinearity(line, line), [0.0, 0.0], atol=1e-12)


def test_parabola():
    parabola = (U**2)[:, None]  # (T, 1)
    # Second difference of u^2 is exactly 2 h^2, so the scaled second derivative is 2 everywhere.
    np.testing.assert_allclose(smoothness(parabola), [2.0], rtol=1e-9)
    # Its own line joins (0, 0) to (1, 1): l = u.
    expected = math.sqrt(sum((u * u - u) ** 2 for u in U) / T)
    assert nonlinearity(parabola, parabola)[0] == pytest.approx(expected, rel=1e-12)
    assert expected > 0.1  # the check above is not a trivial 0 == 0


def test_nonlinearity_uses_reference_endpoints():
    reference = np.stack([U, np.full(T, 3.0)], axis=-1)  # line 0 -> 1, and a constant 3
    model = np.stack([U + 0.2, np.full(T, 1.0)], axis=-1)  # straight itself, but offset from the reference
    # Own endpoints would give 0; against the reference's line the offsets are 0.2 and -2 at every step.
    np.testing.assert_allclose(nonlinearity(model, model), [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(nonlinearity(model, reference), [0.2, 2.0], rtol=1e-12)
    # A model that matches only the reference's endpoints: f = [0, 1, ..., 1, 1] vs line u.
    bent = np.ones(T)
    bent[0] = 0.0
    expected = math.sqrt(sum((1.0 - u) ** 2 for u in U[1:]) / T)
    assert nonlinearity(bent[:, None], reference[:, :1])[0] == pytest.approx(expected, rel=1e-12)


def test_nonlinearity_decomposition_separates_the_ends_from_the_path():
    reference = (U**2)[:, None]  # bent, line u from (0, 0) to (1, 1)
    # A model whose ends are 0.3 too high and whose path bends by a known bump in between.
    bump = 0.5 * np.sin(np.pi * U)
    model = (U + 0.3 + bump)[:, None]
    parts = nonlinearity_decomposition(model, reference)
    # Ends only: the straight line between the model's ends is u + 0.3, 0.3 from the reference line.
    np.testing.assert_allclose(parts["ends_only"], [0.3], rtol=1e-12)
    # Own line: the bump alone.
    assert parts["own_line"][0] == pytest.approx(math.sqrt(np.mean(bump**2)), rel=1e-12)
    # The protocol's metric sees both (here they add up: the bump and the offset have the same sign).
    assert nonlinearity(model, reference)[0] > parts["ends_only"][0] + 0.2
    # For the reference itself: its ends are the line's, all its non-linearity is the path's.
    own = nonlinearity_decomposition(reference, reference)
    np.testing.assert_allclose(own["ends_only"], [0.0], atol=1e-12)
    np.testing.assert_allclose(own["own_line"], nonlinearity(reference, reference), rtol=1e-12)


def test_median_change_pct_skips_features_without_a_defined_change():
    values = np.array([[1.0, 5.0, np.nan], [3.0, 5.0, 2.0], [np.inf, 5.0, 4.0]])  # medians 2, 5, 3
    reference = np.array([[4.0, 0.0, 1.0], [4.0, 0.0, 1.0]])  # medians 4, 0 (no change %), 1
    assert median_change_pct(values, reference) == pytest.approx((-50.0 + 200.0) / 2)
    assert math.isnan(median_change_pct(values[:, 1:2], reference[:, 1:2]))


def test_batch_shapes():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(4, 3, T, 5))
    reference = rng.normal(size=(4, 3, T, 5))
    assert smoothness(values).shape == (4, 3, 5)
    assert nonlinearity(values, reference).shape == (4, 3, 5)
    # Each batch element is computed independently.
    np.testing.assert_allclose(smoothness(values)[2, 1], smoothness(values[2, 1]))
    np.testing.assert_allclose(
        nonlinearity(values, reference)[3, 0], nonlinearity(values[3, 0], reference[3, 0])
    )
    # Leading dimensions of the reference broadcast (one reference for several methods).
    np.testing.assert_allclose(
        nonlinearity(values, reference[:, :1])[:, 2], nonlinearity(values[:, 2], reference[:, 0])
    )


def test_shape_errors():
    with pytest.raises(ValueError, match="T >= 3"):
        smoothness(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="equal T"):
        nonlinearity(np.zeros((5, 2)), np.zeros((4, 2)))


def _long_table() -> pd.DataFrame:
    """2 sequences x {reference, model} x 3 steps, features a and b, rows shuffled."""
    rows = []
    trajectories = {
        ("s0", "reference"): ([0.0, 0.5, 1.0], [0.0, 0.0, 1.0]),
        ("s0", "model"): ([0.1, 0.6, 1.1], [0.0, 0.5, 1.0]),
        ("s1", "reference"): ([1.0, 1.0, 1.0], [2.0, 0.0, 2.0]),
        ("s1", "model"): ([1.0, 2.0, 1.0], [2.0, 2.0, 2.0]),
    }
    for (sequence, method), (a, b) in trajectories.items():
        for step in range(3):
            rows.append({"sequence": sequence, "method": method, "step": step, "a": a[step], "b": b[step]})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=1).reset_index(drop=True)


def test_sequence_metrics_rows():
    table = sequence_metrics(_long_table())
    assert list(table.columns) == ["sequence", "method", "feature", "smoothness", "nonlinearity"]
    assert len(table) == 2 * 2 * 2
    got = table.set_index(["sequence", "method", "feature"])
    # T = 3: h = 0.5, one interior step, so smoothness = |f0 - 2 f1 + f2| / 0.25.
    # Non-linearity: RMS over 3 steps of f - line(reference endpoints).
    expected = {
        ("s0", "reference", "a"): (0.0, 0.0),
        ("s0", "reference", "b"): (4.0, math.sqrt(0.25 / 3)),  # line 0, .5, 1 vs 0, 0, 1
        ("s0", "model", "a"): (0.0, 0.1),  # offset 0.1 from the reference line
        ("s0", "model", "b"): (0.0, 0.0),  # exactly the reference's line
        ("s1", "reference", "a"): (0.0, 0.0),
        ("s1", "reference", "b"): (16.0, math.sqrt(4.0 / 3)),  # line 2, 2, 2 vs 2, 0, 2
        ("s1", "model", "a"): (8.0, math.sqrt(1.0 / 3)),  # 1, 2, 1 vs line 1, 1, 1
        ("s1", "model", "b"): (0.0, 0.0),
    }
    for key, (smooth, nonlin) in expected.items():
        assert got.loc[key, "smoothness"] == pytest.approx(smooth, abs=1e-12), key
        assert got.loc[key, "nonlinearity"] == pytest.approx(nonlin, abs=1e-12), key


def test_sequence_metrics_errors():
    table = _long_table()
    no_reference = table[~((table["sequence"] == "s1") & (table["method"] == "reference"))]
    with pytest.raises(ValueError, match="lack the reference method 'reference'"):
        sequence_metrics(no_reference)
    with pytest.raises(ValueError, match="lack the reference method 'linear'"):
        sequence_metrics(table, reference_method="linear")
    short = table.drop(index=table[(table["sequence"] == "s0") & (table["method"] == "model")].index[0])
    with pytest.raises(ValueError, match="inconsistent step counts"):
        sequence_metrics(short)
    with pytest.raises(ValueError, match="lack column"):
        sequence_metrics(table.drop(columns="step"))


def _constructed_metrics(n: int = 30) -> pd.DataFrame:
    """Reference values r_s = 1 + s / 10 (s < n); the model, per feature: A = r - 1, B = 2 r, C = r."""
    rows = []
    for s in range(n):
        r = 1.0 + s / 10.0
        model = {"A": r - 1.0, "B": 2.0 * r, "C": r}
        for feature in "ABC":
            # Non-linearity: the reference is 0 on A (change % undefined) and the model is 0.5 there.
            rows.append({"sequence": s, "method": "reference", "feature": feature, "smoothness": r,
                         "nonlinearity": 0.0 if feature == "A" else r})
            rows.append({"sequence": s, "method": "model", "feature": feature, "smoothness": model[feature],
                         "nonlinearity": 0.5 if feature == "A" else r})
    return pd.DataFrame(rows)


def test_summarize_counts_and_changes():
    summary = summarize(_constructed_metrics())
    assert list(summary) == ["reference", "model"]
    assert summary["reference"]["is_reference"] and summary["reference"]["n_sequences"] == 30
    # r_s = 1 + s/10, s = 0..29: mean = median = 1 + 14.5 / 10 = 2.45.
    assert summary["reference"]["smoothness"]["per_feature"]["A"]["median"] == pytest.approx(2.45)

    model = summary["model"]
    assert model["n_sequences"] == 30 and not model["is_reference"]
    smooth = model["smoothness"]
    assert (smooth["improved_features"], smooth["worse_features"], smooth["n_features"]) == (1, 1, 3)
    a, b, c = (smooth["per_feature"][f] for f in "ABC")
    assert a["p_improved"] < 1e-6 and a["p_worse"] > 0.5
    assert b["p_worse"] < 1e-6 and b["p_improved"] > 0.5
    assert math.isnan(c["p_improved"]) and math.isnan(c["p_worse"])  # all differences zero: not tested
    # A: 1.45 vs 2.45; B: 4.9 vs 2.45; C: unchanged.
    assert a["mean_change_pct"] == pytest.approx(-100.0 / 2.45)
    assert a["median_change_pct"] == pytest.approx(-100.0 / 2.45)
    assert b["mean_change_pct"] == pytest.approx(100.0)
    assert c["median_change_pct"] == pytest.approx(0.0)
    assert a["reference_mean"] == pytest.approx(2.45) and a["mean"] == pytest.approx(1.45)
    assert smooth["mean_change_pct"] == pytest.approx((-100.0 / 2.45 + 100.0 + 0.0) / 3)
    assert smooth["median_change_pct"] == pytest.approx((-100.0 / 2.45 + 100.0 + 0.0) / 3)

    nonlin = model["nonlinearity"]
    # A is worse (0.5 > 0 everywhere) though its change % is NaN (reference 0); B, C are unchanged.
    assert (nonlin["improved_features"], nonlin["worse_features"]) == (0, 1)
    assert math.isnan(nonlin["per_feature"]["A"]["mean_change_pct"])
    assert nonlin["mean_change_pct"] == pytest.approx(0.0)  # the average skips the NaN

    json.loads(json.dumps(summary))  # plain, serialisable types


def test_summarize_pairs_by_sequence():
    metrics = _constructed_metrics()
    # The model lacks sequences 0..9; its rows are shuffled, so pairing must go by `sequence`.
    metrics = metrics[~((metrics["method"] == "model") & (metrics["sequence"] < 10))]
    metrics = metrics.sample(frac=1.0, random_state=2)
    smooth = summarize(metrics)["model"]
    assert smooth["n_sequences"] == 20
    a = smooth["smoothness"]["per_feature"]["A"]
    assert a["n_pairs"] == 20
    # Sequences 10..29: reference mean 1 + 19.5 / 10 = 2.95, model (A = r - 1) mean 1.95.
    assert a["reference_mean"] == pytest.approx(2.95) and a["mean"] == pytest.approx(1.95)
    assert smooth["smoothness"]["improved_features"] == 1


def test_summarize_alpha_and_missing_reference():
    # With only 3 pairs, the exact one-sided p-value of all-negative differences is 1/8.
    metrics = _constructed_metrics(n=3)
    assert summarize(metrics)["model"]["smoothness"]["improved_features"] == 0
    assert summarize(metrics, alpha=0.2)["model"]["smoothness"]["improved_features"] == 1
    with pytest.raises(ValueError, match="reference method 'linear'"):
        summarize(metrics, reference_method="linear")


def test_result_table_format():
    table = result_table(summarize(_constructed_metrics()))
    assert list(table.columns) == [
        "method",
        "smoothness improved",
        "smoothness average change %",
        "smoothness median change %",
        "non-linearity improved",
        "non-linearity average change %",
        "non-linearity median change %",
    ]
    assert table["method"].tolist() == ["model"]  # the reference has no row
    row = table.iloc[0]
    assert row["smoothness improved"] == "1 / 3"
    assert row["non-linearity improved"] == "0 / 3"
    assert row["smoothness average change %"] == pytest.approx((-100.0 / 2.45 + 100.0) / 3)
