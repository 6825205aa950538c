"""Latent refinement on a tiny trained model: better ends, a never-worse objective, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from spinvae.data.build import PRESETS
from spinvae.interpolation.model import encode_posterior, end_codes, load_model, model_paths, refined_codes
from spinvae.interpolation.refine import RefineConfig


@pytest.fixture(scope="module")
def module(tiny_checkpoint):
    return load_model(tiny_checkpoint)


def _values(tiny_dataset, module) -> np.ndarray:
    table = pd.read_parquet(tiny_dataset / PRESETS)
    return table[list(module.schema.learnable_names)].to_numpy(dtype=np.uint8)[:40]


def test_refinement_raises_end_accuracy_and_never_worsens_its_objective(module, tiny_dataset):
    values = _values(tiny_dataset, module)
    result = refined_codes(module, values, RefineConfig(steps=150, lr=0.2))
    assert result.wrong_after.mean() < result.wrong_before.mean()
    assert result.exact_after.sum() >= result.exact_before.sum()
    assert np.all(result.objective_after <= result.objective_before + 1e-4)
    # the figures describe the codes returned: decoding them gives exactly what was counted
    decoded = module.vae.decode_presets(result.z).numpy()
    np.testing.assert_array_equal((decoded != values).sum(axis=1), result.wrong_after)
    # the stopping rule: a preset not reproduced spends the whole budget, none spends more
    assert np.all(result.steps <= 150) and np.all(result.steps[~result.exact_after] == 150)


def test_refinement_is_deterministic_and_independent_of_the_batch(module, tiny_dataset):
    values = _values(tiny_dataset, module)
    config = RefineConfig(steps=30, lr=0.2)
    a = refined_codes(module, values, config)
    b = refined_codes(module, values, config)
    torch.testing.assert_close(a.z, b.z, rtol=0, atol=0)
    split = refined_codes(module, values, RefineConfig(steps=30, lr=0.2, batch=16))
    torch.testing.assert_close(split.z, a.z, rtol=1e-4, atol=1e-4)


def test_no_steps_is_the_encoder_mean(module, tiny_dataset):
    values = _values(tiny_dataset, module)
    z, refinement = end_codes(module, values, RefineConfig(steps=0))
    assert refinement is None
    torch.testing.assert_close(z, encode_posterior(module, values)[0])
    zero = refined_codes(module, values, RefineConfig(steps=0))
    torch.testing.assert_close(zero.z, z)
    np.testing.assert_array_equal(zero.wrong_after, zero.wrong_before)


def test_refined_paths_start_and_end_on_the_presets_they_reproduce(module, tiny_dataset):
    values = _values(tiny_dataset, module)
    config = RefineConfig(steps=150, lr=0.2)
    refinement = refined_codes(module, values, config)
    paths = model_paths(module, values[:20], values[20:40], 5, refine=config)
    exact_start, exact_end = refinement.exact_after[:20], refinement.exact_after[20:40]
    np.testing.assert_array_equal(paths[exact_start, 0], values[:20][exact_start])
    np.testing.assert_array_equal(paths[exact_end, -1], values[20:40][exact_end])


def test_negative_steps_are_refused(module, tiny_dataset):
    with pytest.raises(ValueError, match="steps must be >= 0"):
        refined_codes(module, _values(tiny_dataset, module)[:2], RefineConfig(steps=-1))


def test_the_command_line_defaults_are_the_refinement_defaults():
    from spinvae.cli.main import MORPH_REFINE_WEIGHT, REFINE_WEIGHT

    assert RefineConfig().posterior_weight == REFINE_WEIGHT  # evaluate's NAME+refined
    assert 0 < MORPH_REFINE_WEIGHT < REFINE_WEIGHT  # a morph's ends closer to the presets
