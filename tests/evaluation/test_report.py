"""Sequence-end errors of the report, on constructed trajectories and presets with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spinvae.evaluation.report import endpoint_errors
from spinvae.synth.dx7.schema import DX7_SCHEMA

T = 9
U = np.linspace(0.0, 1.0, T)


def constructed_evaluation(tmp_path, offset: float, bump: float) -> tuple[pd.DataFrame, list[str]]:
    """Two sequences, one attribute: the reference bends (u^2, non-linearity known); the model is
    straight but ``offset`` too high with a sine ``bump``; its presets are the true ones except one
    numerical parameter 3 steps off at the start."""
    n, length = 2, DX7_SCHEMA.n_learnable
    start = np.zeros((n, length), dtype=np.int64)
    end = np.ones((n, length), dtype=np.int64)
    model = np.repeat(start[:, None], T, axis=1)
    model[:, -1] = end
    numerical = int(np.flatnonzero(~DX7_SCHEMA.is_categorical)[0])
    model[:, 0, numerical] += 3
    np.savez(tmp_path / "presets.npz", start=start, end=end, model=model)
    rows = []
    for sequence in range(n):
        for step, u in enumerate(U):
            rows.append({"sequence": sequence, "method": "reference", "note": "56:75", "step": step, "a": u * u})
            rows.append({"sequence": sequence, "method": "model", "note": "56:75", "step": step,
                         "a": u + offset + bump * np.sin(np.pi * u)})
    return pd.DataFrame(rows), ["a"]


def test_endpoint_errors_known_answers(tmp_path):
    trajectories, attributes = constructed_evaluation(tmp_path, offset=0.3, bump=0.5)
    errors = endpoint_errors(tmp_path, trajectories, attributes, DX7_SCHEMA)["model"]
    n_numerical = int((~DX7_SCHEMA.is_categorical).sum())
    assert errors["categorical_accuracy"] == 1.0
    assert errors["numerical_error_steps"] == pytest.approx(3 / (2 * n_numerical))
    assert errors["feature_error"] == pytest.approx(0.3)
    reference = np.sqrt(np.mean((U * U - U) ** 2))
    # A straight path between the model's ends sits 0.3 from the reference's line everywhere.
    assert errors["nonlinearity_ends_only_median_change_pct"] == pytest.approx(100 * (0.3 - reference) / reference)
    own = np.sqrt(np.mean((0.5 * np.sin(np.pi * U)) ** 2))
    assert errors["nonlinearity_own_line_median_change_pct"] == pytest.approx(100 * (own - reference) / reference)


def test_a_perfect_straight_model_gains_everything(tmp_path):
    trajectories, attributes = constructed_evaluation(tmp_path, offset=0.0, bump=0.0)
    errors = endpoint_errors(tmp_path, trajectories, attributes, DX7_SCHEMA)["model"]
    assert errors["feature_error"] == pytest.approx(0.0, abs=1e-12)
    assert errors["nonlinearity_ends_only_median_change_pct"] == pytest.approx(-100.0)
    assert errors["nonlinearity_own_line_median_change_pct"] == pytest.approx(-100.0)
