"""How well a latent space encodes the attributes: Spearman per chunk, interpretability, MIG.

``mu`` (N, dim_z) are latent means of N presets, ``attributes`` (N, A) their normalised attributes;
attribute a was regularised on the chunk ``a * chunk .. (a + 1) * chunk - 1``.

- Spearman: rank correlation between each attribute and the mean of its chunk.
- Interpretability (Adel et al. 2018, as used by Pati & Lerch): for each attribute, the R^2 of a
  one-dimensional linear regression of the attribute on the single latent coordinate that
  predicts it best (any coordinate, not only its own chunk), and which coordinate that is.
- MIG, the mutual information gap (Chen et al. 2018): for each attribute, the difference between
  the two largest mutual informations with single latent coordinates, divided by the attribute's
  entropy; both discretised into ``bins`` equal-count bins. 1 when one coordinate alone carries the
  attribute, 0 when two carry it equally.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mutual_info_score

from spinvae.training.metrics import attribute_spearman


def _discretise(x: np.ndarray, bins: int) -> np.ndarray:
    """Equal-count bins of each column of x (N, k) -> int labels (N, k)."""
    edges = np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1], axis=0)  # (bins - 1, k)
    return np.stack([np.searchsorted(edges[:, j], x[:, j], side="right") for j in range(x.shape[1])], axis=1)


def interpretability(mu: np.ndarray, attributes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best single-coordinate R^2 (A,) and that coordinate (A,) int for each attribute.

    The R^2 of a one-dimensional least-squares fit is the squared Pearson correlation, so the best
    coordinate is found from all correlations at once; its regression is then fitted for the R^2.
    """
    r2 = np.empty(attributes.shape[1])
    best = np.argmax(np.nan_to_num(_correlations(mu, attributes) ** 2), axis=0)
    for a, d in enumerate(best):
        r2[a] = LinearRegression().fit(mu[:, [d]], attributes[:, a]).score(mu[:, [d]], attributes[:, a])
    return r2, best


def _correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlations (kx, ky) between the columns of x (N, kx) and y (N, ky); NaN for a constant column."""
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x.T @ y) / np.outer(np.linalg.norm(x, axis=0), np.linalg.norm(y, axis=0))


def mutual_information_gap(mu: np.ndarray, attributes: np.ndarray, bins: int = 20) -> np.ndarray:
    """MIG (A,) of each attribute over the latent coordinates."""
    z = _discretise(mu, bins)
    v = _discretise(attributes, bins)
    n_dims = z.shape[1]
    offsets = np.arange(n_dims) * bins * bins
    gaps = np.empty(attributes.shape[1])
    for a in range(attributes.shape[1]):
        # every coordinate's contingency table with the attribute in one count
        tables = np.bincount((v[:, [a]] * bins + z + offsets).ravel(), minlength=n_dims * bins * bins)
        tables = tables.reshape(n_dims, bins, bins)
        information = np.sort([mutual_info_score(None, None, contingency=t) for t in tables])[::-1]
        entropy = mutual_info_score(v[:, a], v[:, a])
        gaps[a] = (information[0] - information[1]) / entropy if entropy > 0 else np.nan
    return gaps


def latent_quality(mu: np.ndarray, attributes: np.ndarray, names: list[str], chunk: int,
                   bins: int = 20) -> dict[str, dict[str, float]]:
    """Per attribute: ``spearman`` (own chunk), ``interpretability`` (R^2), ``best_dimension`` and
    whether it lies in the attribute's own chunk, ``mig``; plus their means under ``"mean"``."""
    rho = attribute_spearman(mu, attributes, chunk)
    r2, best = interpretability(mu, attributes)
    mig = mutual_information_gap(mu, attributes, bins)
    out = {
        name: {"spearman": float(rho[a]), "interpretability": float(r2[a]), "best_dimension": int(best[a]),
               "best_in_own_chunk": bool(a * chunk <= best[a] < (a + 1) * chunk), "mig": float(mig[a])}
        for a, name in enumerate(names)
    }
    out["mean"] = {"spearman": float(np.nanmean(rho)), "interpretability": float(np.mean(r2)),
                   "best_in_own_chunk": float(np.mean([out[n]["best_in_own_chunk"] for n in names])),
                   "mig": float(np.nanmean(mig))}
    return out
