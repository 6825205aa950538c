"""Validation and test metrics of a preset VAE."""

from __future__ import annotations

import numpy as np
import scipy.stats
import torch

from spinvae.model.attribute_loss import attribute_chunks


def preset_accuracy(predicted: torch.Tensor, target: torch.Tensor, categorical: torch.Tensor,
                    numerical: torch.Tensor) -> dict[str, torch.Tensor]:
    """Accuracy of decoded presets (B, T) int64 against the true learnable values (B, T).

    ``categorical_accuracy``: fraction of categorical parameters decoded exactly;
    ``numerical_error_steps``: mean absolute error of numerical parameters, in steps of their grid;
    ``numerical_accuracy``: fraction of numerical parameters decoded exactly.
    """
    error = (predicted - target).abs()
    return {
        "categorical_accuracy": (error[:, categorical] == 0).float().mean(),
        "numerical_error_steps": error[:, numerical].float().mean(),
        "numerical_accuracy": (error[:, numerical] == 0).float().mean(),
    }


def attribute_spearman(mu: np.ndarray, attributes: np.ndarray, chunk: int) -> np.ndarray:
    """Spearman correlation (n_attributes,) between each attribute and the mean of its latent chunk.

    ``mu`` (N, dim_z) and ``attributes`` (N, n_attributes) over a whole split; NaN where an
    attribute is constant.
    """
    chunks = attribute_chunks(torch.from_numpy(mu), attributes.shape[1], chunk).mean(dim=-1).numpy()
    out = np.full(attributes.shape[1], np.nan)
    for a in range(attributes.shape[1]):
        if np.ptp(attributes[:, a]) > 0 and np.ptp(chunks[:, a]) > 0:
            out[a] = scipy.stats.spearmanr(chunks[:, a], attributes[:, a]).statistic
    return out
