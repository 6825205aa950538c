"""Attribute regularisation losses against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from spinvae.model.attribute_loss import ar_vae_loss, attribute_chunks, s2_vae_loss


def test_chunks_follow_attribute_order():
    z = torch.arange(12.0).view(1, 12)
    chunks = attribute_chunks(z, 3, 2)
    assert chunks.tolist() == [[[0, 1], [2, 3], [4, 5]]]
    with pytest.raises(ValueError, match="exceed dim_z"):
        attribute_chunks(z, 7, 2)


def test_ar_vae_loss_by_hand():
    # two presets, one attribute, one coordinate: z = (0, 1), a = (0, 2)
    z = torch.tensor([[0.0], [1.0]])
    a = torch.tensor([[0.0], [2.0]])
    delta = 0.5
    # ordered pairs with a_i != a_j: (0, 1): |tanh(-0.5) - (-1)|, (1, 0): |tanh(0.5) - 1|
    expected = (abs(math.tanh(-0.5) + 1) + abs(math.tanh(0.5) - 1)) / 2
    assert ar_vae_loss(z, a, chunk=1, delta=delta) == pytest.approx(expected)


def test_ar_vae_loss_three_presets_two_coordinates_and_ignored_pairs():
    z = torch.tensor([[0.0, 1.0], [1.0, 1.0], [3.0, 0.0]])
    a = torch.tensor([[0.0], [0.05], [1.0]])
    delta = 1.0

    def pair_error(i, j):
        sign = math.copysign(1.0, a[i, 0] - a[j, 0])
        return sum(abs(math.tanh(delta * (z[i, r] - z[j, r])) - sign) for r in range(2))

    pairs = [(i, j) for i in range(3) for j in range(3) if i != j]
    expected_all = sum(pair_error(i, j) for i, j in pairs) / (2 * len(pairs))
    assert ar_vae_loss(z, a, 2, delta) == pytest.approx(expected_all, rel=1e-6)
    kept = [(i, j) for i, j in pairs if abs(a[i, 0] - a[j, 0]) > 0.1]  # drops (0, 1) and (1, 0)
    expected_kept = sum(pair_error(i, j) for i, j in kept) / (2 * len(kept))
    assert ar_vae_loss(z, a, 2, delta, min_difference=0.1) == pytest.approx(expected_kept, rel=1e-6)


def test_ar_vae_loss_is_small_when_latent_order_matches():
    a = torch.linspace(-2, 2, 16)[:, None]
    assert ar_vae_loss(10 * a, a, 1, delta=5.0) < 1e-6
    assert ar_vae_loss(-10 * a, a, 1, delta=5.0) == pytest.approx(2.0, abs=1e-5)


def test_s2_vae_loss_by_hand():
    z = torch.tensor([[0.0, 2.0]])  # one attribute, chunk 2
    a = torch.tensor([[1.0]])
    low, high = torch.tensor([0.0]), torch.tensor([4.0])  # target 0.25
    t = 0.25

    def bce(logit):
        p = 1 / (1 + math.exp(-logit))
        return -(t * math.log(p) + (1 - t) * math.log(1 - p))

    assert s2_vae_loss(z, a, 2, low, high) == pytest.approx((bce(0.0) + bce(2.0)) / 2, rel=1e-6)
