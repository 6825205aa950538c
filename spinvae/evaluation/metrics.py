"""Interpolation metrics of the reference protocol (SPINVAE-2, Le Vaillant & Dutoit 2024).

A *sequence* is an interpolation of ``T`` equally spaced steps (``u = linspace(0, 1, T)``,
``h = 1 / (T - 1)``) between two presets; each step's rendered sound gives a vector of ``F``
normalised timbre features. Per sequence, method and feature:

* **smoothness** (lower is smoother): RMS over the ``T - 2`` interior steps of the second
  derivative ``(f[t+1] - 2 f[t] + f[t-1]) / h**2``;
* **non-linearity**: RMS over all ``T`` steps of ``f[t] - l[t]``, with ``l`` the straight line
  joining the *reference* method's first and last values on the same pair, so that a model's
  endpoint reconstruction error counts against it.

Per method, each metric is then compared with the reference method's, feature by feature over the
sequences both have (:func:`summarize`): relative change of the median and of the mean, and
one-sided Wilcoxon signed-rank tests paired by sequence. :func:`result_table` gives the paper-style
table. NaN values (a failed feature extraction) propagate into the per-sequence metrics and are
left out, pairwise, of the aggregation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

METRICS = ("smoothness", "nonlinearity")
METRIC_LABELS = {"smoothness": "smoothness", "nonlinearity": "non-linearity"}
KEY_COLUMNS = ("sequence", "method", "step")


def smoothness(values: np.ndarray) -> np.ndarray:
    """RMS second derivative of each trajectory: values (..., T, F) -> (..., F), T >= 3.

    Steps are taken equally spaced on u in [0, 1], so h = 1 / (T - 1).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim < 2 or values.shape[-2] < 3:
        raise ValueError(f"smoothness needs values of shape (..., T, F) with T >= 3, got {values.shape}")
    h = 1.0 / (values.shape[-2] - 1)
    second = np.diff(values, n=2, axis=-2) / h**2
    return np.sqrt(np.mean(second**2, axis=-2))


def nonlinearity(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """RMS distance to the reference's straight line: values, reference (..., T, F) -> (..., F).

    The line joins ``reference[..., 0, :]`` to ``reference[..., -1, :]`` (leading dimensions
    broadcast); pass ``reference=values`` for the reference method itself.
    """
    values = np.asarray(values, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if values.ndim < 2 or reference.ndim < 2 or values.shape[-2:] != reference.shape[-2:]:
        raise ValueError(
            f"values and reference must both be (..., T, F) with equal T, F: {values.shape}, {reference.shape}"
        )
    if values.shape[-2] < 2:
        raise ValueError(f"nonlinearity needs T >= 2 steps, got {values.shape[-2]}")
    u = np.linspace(0.0, 1.0, values.shape[-2])[:, None]  # (T, 1)
    start, end = reference[..., :1, :], reference[..., -1:, :]
    line = start + u * (end - start)
    return np.sqrt(np.mean((values - line) ** 2, axis=-2))


def nonlinearity_decomposition(values: np.ndarray, reference: np.ndarray) -> dict[str, np.ndarray]:
    """Split a method's non-linearity into what its ends cause and what its path's shape adds.

    values, reference (..., T, F) -> two arrays (..., F):

    * ``ends_only``: the non-linearity (against the reference's line, as in :func:`nonlinearity`)
      of the straight line between ``values``' own first and last steps: what the method would
      score with the ends it has and a perfectly straight path;
    * ``own_line``: the non-linearity of ``values`` against the line between its own ends: how
      straight the path is, whatever its ends.

    For the reference itself ``ends_only`` is 0 and ``own_line`` its non-linearity. Neither is the
    protocol's metric; they tell whether a model loses on reconstruction of the ends or on the path
    between them.
    """
    values = np.asarray(values, dtype=np.float64)
    u = np.linspace(0.0, 1.0, values.shape[-2])[:, None]
    straight = values[..., :1, :] + u * (values[..., -1:, :] - values[..., :1, :])
    return {"ends_only": nonlinearity(straight, reference), "own_line": nonlinearity(values, values)}


def sequence_metrics(trajectories: pd.DataFrame, reference_method: str = "reference") -> pd.DataFrame:
    """Per-sequence metrics of a long trajectories table (the evaluation's trajectories.csv).

    ``trajectories`` has columns ``sequence``, ``method``, ``step``, then one numeric column per
    feature; rows may come in any order (steps are sorted). Every (sequence, method) must have the
    same number T >= 3 of distinct steps, and every sequence the reference method.

    Returns the metrics.csv table, columns ``sequence``, ``method``, ``feature``, ``smoothness``,
    ``nonlinearity``: one row per sequence x method x feature (reference included), sorted by
    sequence then method, features in column order.
    """
    missing = [c for c in KEY_COLUMNS if c not in trajectories.columns]
    if missing:
        raise ValueError(f"trajectories lack column(s) {missing}")
    features = [c for c in trajectories.columns if c not in KEY_COLUMNS]
    if not features:
        raise ValueError("trajectories have no feature column")

    table = trajectories.sort_values(["sequence", "method", "step"], kind="stable")
    sizes = table.groupby(["sequence", "method"], sort=True).size()
    counts = sizes.value_counts()
    if len(counts) > 1:
        usual = counts.index[0]
        odd = sizes[sizes != usual]
        raise ValueError(f"inconsistent step counts: most sequences have {usual} steps, but {odd.to_dict()}")
    n_steps = int(sizes.iloc[0])
    if n_steps < 3:
        raise ValueError(f"sequences need at least 3 steps, got {n_steps}")
    steps = table["step"].to_numpy().reshape(len(sizes), n_steps)
    if (steps[:, 1:] == steps[:, :-1]).any():
        raise ValueError("a (sequence, method) has duplicate steps")
    if (steps != steps[:1]).any():
        raise ValueError("step values differ between sequences or methods")

    keys = sizes.index  # MultiIndex (sequence, method), same order as the sorted rows
    sequences = keys.get_level_values("sequence")
    methods = keys.get_level_values("method")
    have_reference = set(sequences[methods == reference_method])
    lacking = [s for s in pd.unique(sequences) if s not in have_reference]
    if lacking:
        raise ValueError(f"{len(lacking)} sequence(s) lack the reference method {reference_method!r}: {lacking[:10]}")

    values = table[features].to_numpy(dtype=np.float64).reshape(len(keys), n_steps, len(features))
    reference_row = {s: i for i, (s, m) in enumerate(keys) if m == reference_method}
    reference = values[[reference_row[s] for s in sequences]]

    n_features = len(features)
    return pd.DataFrame(
        {
            "sequence": np.repeat(sequences.to_numpy(), n_features),
            "method": np.repeat(methods.to_numpy(), n_features),
            "feature": np.tile(np.asarray(features, dtype=object), len(keys)),
            "smoothness": smoothness(values).ravel(),
            "nonlinearity": nonlinearity(values, reference).ravel(),
        }
    )


def _change_pct(value: float, reference: float) -> float:
    """100 (value - reference) / |reference|, NaN where the reference is 0 or anything is NaN."""
    if not np.isfinite(reference) or reference == 0 or not np.isfinite(value):
        return float("nan")
    return float(100.0 * (value - reference) / abs(reference))


def _one_sided_p(differences: np.ndarray) -> tuple[float, float]:
    """(p_improved, p_worse) of Wilcoxon signed-rank tests on method - reference differences (n,).

    NaN when no difference is non-zero: scipy's default zero_method drops zeros, leaving nothing
    to test (and it would divide by zero).
    """
    if not np.any(differences != 0):
        return float("nan"), float("nan")
    less = stats.wilcoxon(differences, alternative="less").pvalue
    greater = stats.wilcoxon(differences, alternative="greater").pvalue
    return float(less), float(greater)


def _feature_stats(values: np.ndarray) -> dict[str, float]:
    """Median and mean of finite values (n,), NaN if none."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"median": float("nan"), "mean": float("nan")}
    return {"median": float(np.median(finite)), "mean": float(np.mean(finite))}


def median_change_pct(values: np.ndarray, reference: np.ndarray) -> float:
    """The table's *median change %* of per-sequence values (n, F) against the reference's (m, F):
    per feature, the change of the median over finite values, then the average over features
    whose change is defined (NaN when none is)."""
    changes = [_change_pct(_feature_stats(v)["median"], _feature_stats(r)["median"])
               for v, r in zip(np.asarray(values, dtype=np.float64).T, np.asarray(reference, dtype=np.float64).T)]
    return float(pd.Series(changes, dtype=float).mean())


def summarize(metrics: pd.DataFrame, reference_method: str = "reference", alpha: float = 0.05) -> dict[str, Any]:
    """The summary.json content: each method compared with the reference, per metric and feature.

    ``metrics`` is :func:`sequence_metrics`' table. For each non-reference method, metric and
    feature, the method is paired with the reference by ``sequence`` (sequences one of them lacks,
    and pairs with a non-finite value, are left out). Returns, methods in order of appearance with
    the reference first::

        {method: {"is_reference": False, "n_sequences": int,   # sequences paired with the reference
                  "smoothness": {"improved_features": int, "worse_features": int, "n_features": int,
                                 "mean_change_pct": float, "median_change_pct": float,
                                 "per_feature": {feature: {"n_pairs", "median", "mean",
                                     "reference_median", "reference_mean", "median_change_pct",
                                     "mean_change_pct", "p_improved", "p_worse"}}},
                  "nonlinearity": {...same...}},
         reference_method: {"is_reference": True, "n_sequences": int,
                            "smoothness": {"per_feature": {feature: {"median", "mean"}}},
                            "nonlinearity": {...same...}}}

    A feature is improved when ``p_improved < alpha`` (Wilcoxon, method - reference, alternative
    "less"), worse when ``p_worse < alpha`` ("greater"); when all differences are zero both p are
    NaN and the feature counts as neither. Change % is ``100 (m - r) / |r|`` (NaN if r == 0); the
    overall change % are averages over features ignoring NaN. Plain floats and ints (NaN allowed).
    """
    missing = [c for c in ("sequence", "method", "feature", *METRICS) if c not in metrics.columns]
    if missing:
        raise ValueError(f"metrics lack column(s) {missing}")
    methods = list(pd.unique(metrics["method"]))
    if reference_method not in methods:
        raise ValueError(f"metrics have no row of the reference method {reference_method!r}")
    if metrics.duplicated(["sequence", "method", "feature"]).any():
        raise ValueError("metrics have duplicate (sequence, method, feature) rows")
    features = list(pd.unique(metrics["feature"]))

    # One (sequence x feature) matrix per method and metric; reindexing on the reference's
    # sequences aligns the pairs, and sequences (or features) a method lacks become NaN (left out below).
    columns = pd.MultiIndex.from_product([METRICS, features])
    wide = {
        m: metrics[metrics["method"] == m]
        .pivot(index="sequence", columns="feature", values=list(METRICS))
        .reindex(columns=columns)
        for m in methods
    }
    ref = wide[reference_method]
    ref_sequences = ref.index

    summary: dict[str, Any] = {
        reference_method: {
            "is_reference": True,
            "n_sequences": int(len(ref_sequences)),
            **{
                metric: {
                    "per_feature": {str(f): _feature_stats(ref[metric][f].to_numpy(dtype=np.float64)) for f in features}
                }
                for metric in METRICS
            },
        }
    }
    for method in methods:
        if method == reference_method:
            continue
        table = wide[method].reindex(index=ref_sequences)
        entry: dict[str, Any] = {
            "is_reference": False,
            "n_sequences": int(ref_sequences.isin(wide[method].index).sum()),
        }
        for metric in METRICS:
            per_feature: dict[str, dict[str, float]] = {}
            for f in features:
                m_values = table[metric][f].to_numpy(dtype=np.float64)
                r_values = ref[metric][f].to_numpy(dtype=np.float64)
                paired = np.isfinite(m_values) & np.isfinite(r_values)
                m_values, r_values = m_values[paired], r_values[paired]
                m_stats, r_stats = _feature_stats(m_values), _feature_stats(r_values)
                p_improved, p_worse = _one_sided_p(m_values - r_values)
                per_feature[str(f)] = {
                    "n_pairs": int(paired.sum()),
                    "median": m_stats["median"],
                    "mean": m_stats["mean"],
                    "reference_median": r_stats["median"],
                    "reference_mean": r_stats["mean"],
                    "median_change_pct": _change_pct(m_stats["median"], r_stats["median"]),
                    "mean_change_pct": _change_pct(m_stats["mean"], r_stats["mean"]),
                    "p_improved": p_improved,
                    "p_worse": p_worse,
                }
            results = per_feature.values()
            entry[metric] = {
                # NaN p-values compare False, so untestable features count as neither.
                "improved_features": int(sum(s["p_improved"] < alpha for s in results)),
                "worse_features": int(sum(s["p_worse"] < alpha for s in results)),
                "n_features": len(features),
                # pandas' mean skips NaN (and gives NaN, silently, when all are NaN).
                "mean_change_pct": float(pd.Series([s["mean_change_pct"] for s in results], dtype=float).mean()),
                "median_change_pct": float(pd.Series([s["median_change_pct"] for s in results], dtype=float).mean()),
                "per_feature": per_feature,
            }
        summary[str(method)] = entry
    return summary


def result_table(summary: dict[str, Any]) -> pd.DataFrame:
    """The paper-style table of a :func:`summarize` result: one row per non-reference method.

    Columns ``method``, then for smoothness and non-linearity: ``... improved`` ("35 / 46": features
    significantly improved / features), ``... average change %`` and ``... median change %``
    (averages over features of the mean and median change %; floats, to be rounded for display).
    """
    rows = []
    for method, entry in summary.items():
        if entry.get("is_reference", False):
            continue
        row: dict[str, Any] = {"method": method}
        for metric in METRICS:
            label, result = METRIC_LABELS[metric], entry[metric]
            row[f"{label} improved"] = f"{result['improved_features']} / {result['n_features']}"
            row[f"{label} average change %"] = result["mean_change_pct"]
            row[f"{label} median change %"] = result["median_change_pct"]
        rows.append(row)
    columns = ["method"] + [
        f"{METRIC_LABELS[m]} {suffix}"
        for m in METRICS
        for suffix in ("improved", "average change %", "median change %")
    ]
    return pd.DataFrame(rows, columns=columns)
