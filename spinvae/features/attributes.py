"""From raw timbre features to the attributes a model is regularised with.

As in the reference system, fitted on the training split only:

1. failures (NaN, inf) are replaced by the feature's training median;
2. skewed non-negative features are log-scaled, ``log(eps + x)``: a feature is log-scaled when
   that lowers the absolute skewness of its training distribution, with ``eps`` its 1st
   percentile of positive training values (the reference chose by hand: ``log(1 + x)`` for
   frequencies and ratios, ``log(eps + x)`` for energies, flatness, kurtosis, variation and
   inharmonicity; here the data decide, and docs/features.md compares the two);
3. z-score with the training mean and standard deviation;
4. features are kept greedily, in :data:`~spinvae.features.extract.FEATURE_NAMES` order, unless
   their |Spearman| with an already kept feature exceeds 0.9 on the training split (constant
   or never-finite features are dropped too). A fixed list can be forced instead.

Everything fitted is plain data (:meth:`AttributeTransform.to_dict`), saved in the dataset
manifest and later in model checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

MAX_ABS_SPEARMAN = 0.9


@dataclass(frozen=True)
class AttributeTransform:
    """Raw features (..., n_features) -> attributes (..., n_kept).

    ``feature_names`` name the raw columns; ``log_eps[i]`` is the eps of ``log(eps + x)`` for a
    log-scaled feature, NaN otherwise; ``median``, ``mean``, ``std`` (n_features,) are training
    statistics (median of raw values; mean and std after the log); ``kept`` names the attributes;
    ``dropped`` maps each dropped feature to the reason.
    """

    feature_names: tuple[str, ...]
    log_eps: np.ndarray
    median: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    kept: tuple[str, ...]
    dropped: dict[str, str]

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        """All features (..., n_features) after median filling, logs and z-scoring."""
        x = np.asarray(raw, dtype=np.float64)
        x = np.where(np.isfinite(x), x, self.median)
        logged = ~np.isnan(self.log_eps)
        x = np.where(logged, np.log(np.where(logged, self.log_eps, 1.0) + np.maximum(x, 0.0)), x)
        return (x - self.mean) / self.std

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Attributes (..., n_kept) float32 of raw features (..., n_features)."""
        index = [self.feature_names.index(name) for name in self.kept]
        return self.standardise(raw)[..., index].astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        def floats(a: np.ndarray) -> list[float | None]:
            return [None if np.isnan(v) else float(v) for v in a]

        return {
            "feature_names": list(self.feature_names),
            "log_eps": floats(self.log_eps),
            "median": floats(self.median),
            "mean": floats(self.mean),
            "std": floats(self.std),
            "kept": list(self.kept),
            "dropped": dict(self.dropped),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AttributeTransform:
        def array(values: list[float | None]) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

        return cls(
            tuple(d["feature_names"]),
            array(d["log_eps"]),
            array(d["median"]),
            array(d["mean"]),
            array(d["std"]),
            tuple(d["kept"]),
            dict(d["dropped"]),
        )


def _log_eps(x: np.ndarray) -> float:
    """The eps of ``log(eps + x)`` if that lowers the skewness of ``x`` (finite values), else NaN."""
    if len(x) < 3 or x.min() < 0 or not (x > 0).any() or np.ptp(x) == 0:
        return np.nan
    eps = float(np.percentile(x[x > 0], 1))
    before = abs(stats.skew(x))
    after = abs(stats.skew(np.log(eps + x)))
    return eps if after < before else np.nan


def fit_attributes(
    raw_train: np.ndarray,
    feature_names: tuple[str, ...],
    forced: tuple[str, ...] | None = None,
    max_abs_spearman: float = MAX_ABS_SPEARMAN,
) -> AttributeTransform:
    """Fit the transform on training features (n, n_features); ``forced`` fixes the attributes."""
    raw_train = np.asarray(raw_train, dtype=np.float64)
    n_features = len(feature_names)
    if raw_train.ndim != 2 or raw_train.shape[1] != n_features:
        raise ValueError(f"expected training features of shape (n, {n_features}), got {raw_train.shape}")
    if forced is not None:
        unknown = [name for name in forced if name not in feature_names]
        if unknown:
            raise ValueError(f"unknown attributes {unknown}; known features: {', '.join(feature_names)}")

    median = np.full(n_features, np.nan)
    log_eps = np.full(n_features, np.nan)
    mean = np.zeros(n_features)
    std = np.ones(n_features)
    dropped: dict[str, str] = {}
    for j, name in enumerate(feature_names):
        finite = raw_train[:, j][np.isfinite(raw_train[:, j])]
        if len(finite) == 0:
            dropped[name] = "no finite value on the training split"
            continue
        median[j] = np.median(finite)
        filled = np.where(np.isfinite(raw_train[:, j]), raw_train[:, j], median[j])
        log_eps[j] = _log_eps(filled)
        scaled = filled if np.isnan(log_eps[j]) else np.log(log_eps[j] + filled)
        mean[j], std[j] = scaled.mean(), scaled.std()
        if std[j] == 0:
            dropped[name] = "constant on the training split"
            std[j] = 1.0
    median = np.where(np.isnan(median), 0.0, median)
    transform = AttributeTransform(tuple(feature_names), log_eps, median, mean, std, (), dropped)

    if forced is not None:
        return AttributeTransform(tuple(feature_names), log_eps, median, mean, std, tuple(forced), {})

    standardised = transform.standardise(raw_train)
    candidates = [j for j, name in enumerate(feature_names) if name not in dropped]
    rho = np.abs(stats.spearmanr(standardised[:, candidates]).statistic) if len(candidates) > 1 else np.ones((1, 1))
    rho = np.atleast_2d(rho)
    kept: list[int] = []  # positions in candidates
    for c, j in enumerate(candidates):
        if kept and rho[c, kept].max() > max_abs_spearman:
            partner = candidates[kept[int(np.argmax(rho[c, kept]))]]
            dropped[feature_names[j]] = f"|Spearman| {rho[c, kept].max():.3f} with {feature_names[partner]}"
        else:
            kept.append(c)
    return AttributeTransform(
        tuple(feature_names), log_eps, median, mean, std, tuple(feature_names[candidates[c]] for c in kept), dropped
    )
