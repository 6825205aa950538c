"""Discretised logistic mixtures: exact normalisation, likelihoods, decoding, stable gradients."""

from __future__ import annotations

import math

import pytest
import torch

from spinvae.model import dlm

CARDINALITIES = torch.tensor([2, 4, 8, 15, 32, 100])


def random_mixtures(n: int, components: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    params = torch.randn(n, len(CARDINALITIES), 3 * components, generator=g)
    params[..., components : 2 * components] *= 1.5  # means, some beyond [-1, 1]
    params[..., 2 * components :] = params[..., 2 * components :] * 3 - 2  # log-scales from tiny to wide
    return params


def test_each_pmf_sums_to_one_over_its_own_support():
    params = random_mixtures(64)
    cards = CARDINALITIES.expand(64, -1)
    mass = dlm.log_pmf(params.double(), cards, 100).exp()
    torch.testing.assert_close(mass.sum(-1), torch.ones(64, len(CARDINALITIES), dtype=torch.float64))
    for j, k in enumerate(CARDINALITIES.tolist()):
        assert (mass[:, j, k:] == 0).all(), "mass outside the parameter's support"


def test_nll_is_minus_the_log_mass_of_the_step():
    params = random_mixtures(32, seed=1)
    cards = CARDINALITIES.expand(32, -1)
    steps = (torch.rand(32, len(CARDINALITIES)) * cards).long()
    log_mass = dlm.log_pmf(params, cards, 100).gather(-1, steps[..., None])[..., 0]
    torch.testing.assert_close(dlm.nll(params, cards, steps), -log_mass)


def test_single_logistic_has_the_closed_form_masses():
    # one component at mean 0, scale 0.2, over 4 steps at -1, -1/3, 1/3, 1 (bin edges at -2/3, 0, 2/3)
    params = torch.tensor([[0.0, 0.0, math.log(0.2)]])
    mass = dlm.log_pmf(params, torch.tensor([4]), 4).exp()[0]
    sig = torch.sigmoid
    expected = torch.stack([sig(torch.tensor(-2 / 3 / 0.2)), sig(torch.tensor(0.0)) - sig(torch.tensor(-2 / 3 / 0.2)),
                            sig(torch.tensor(2 / 3 / 0.2)) - sig(torch.tensor(0.0)), 1 - sig(torch.tensor(2 / 3 / 0.2))])
    torch.testing.assert_close(mass, expected)


def test_a_sharp_component_puts_its_mass_on_the_nearest_step():
    k = torch.arange(100)
    params = torch.stack([torch.zeros(100), 2 * k / 99 - 1, torch.full((100,), -7.0)], dim=-1)  # (100, 3)
    assert torch.equal(dlm.most_probable_step(params, torch.full((100,), 100), 100), k)
    assert dlm.nll(params, torch.full((100,), 100), k).max() < 1e-4


def test_far_tails_give_finite_likelihoods_and_gradients():
    params = torch.tensor([[0.0, 50.0, -7.0], [0.0, -50.0, -7.0]], requires_grad=True)  # means far outside
    cards = torch.tensor([100, 100])
    loss = dlm.nll(params, cards, torch.tensor([0, 99]))  # the step farthest from each mean
    assert torch.isfinite(loss).all() and (loss > 100).all()
    loss.sum().backward()
    assert torch.isfinite(params.grad).all()


@pytest.mark.parametrize("step", [0, 7])
def test_edge_steps_have_finite_gradients(step):
    params = random_mixtures(4, seed=2)[:, 2].requires_grad_()  # cardinality 8
    dlm.nll(params, torch.full((4,), 8), torch.full((4,), step)).sum().backward()
    assert torch.isfinite(params.grad).all()
