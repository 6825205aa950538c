"""Latent-space quality measures on constructed latent spaces with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from spinvae.evaluation.latent import interpretability, latent_quality, mutual_information_gap


def constructed(n: int = 2000, seed: int = 0):
    """Attribute 0 lives in coordinate 1 alone; attribute 1 in coordinates 4 and 5 equally; 8 coordinates."""
    rng = np.random.default_rng(seed)
    attributes = rng.normal(size=(n, 2))
    mu = rng.normal(size=(n, 8))
    mu[:, 1] = attributes[:, 0]
    mu[:, 4] = attributes[:, 1] + 0.01 * rng.normal(size=n)
    mu[:, 5] = attributes[:, 1] + 0.01 * rng.normal(size=n)
    return mu, attributes


def test_interpretability_finds_the_coordinate_and_its_r2():
    mu, attributes = constructed()
    r2, best = interpretability(mu, attributes)
    assert best[0] == 1 and best[1] in (4, 5)
    assert r2[0] == pytest.approx(1.0) and r2[1] > 0.99


def test_mig_is_high_for_one_coordinate_and_low_for_two():
    mu, attributes = constructed()
    mig = mutual_information_gap(mu, attributes)
    assert mig[0] > 0.9  # one coordinate carries it
    assert mig[1] < 0.3  # two coordinates carry it equally
    noise = np.random.default_rng(1).normal(size=mu.shape)
    assert mutual_information_gap(noise, attributes).max() < 0.1


def test_latent_quality_by_attribute_and_mean():
    mu, attributes = constructed()
    quality = latent_quality(mu, attributes, ["a", "b"], chunk=2)  # a owns 0-1, b owns 2-3
    assert quality["a"]["best_in_own_chunk"] and not quality["b"]["best_in_own_chunk"]
    assert quality["a"]["spearman"] > 0.6  # mean of coordinates 0 (noise) and 1 (the attribute)
    assert abs(quality["b"]["spearman"]) < 0.1
    assert quality["mean"]["best_in_own_chunk"] == 0.5
