"""A model's figures on a fixed sample of pairs (what a model card records and a test reproduces)."""

from __future__ import annotations

import math

import pytest

from spinvae.evaluation.sample import evaluate_sample, sample_references
from spinvae.synth.registry import get_synth


@pytest.fixture(scope="module")
def sample_bank(tmp_path_factory):
    """Eight procedural DX7 presets in one bank file: four pairs, as FILE:INDEX."""
    synth = get_synth("dx7")
    bank = synth.generate(8, seed=3)
    path = synth.write_bank(tmp_path_factory.mktemp("bank") / "pairs", bank.params)[0]
    return [f"{path}:{i}" for i in range(8)]


@pytest.fixture(scope="module")
def figures(tiny_checkpoint, sample_bank, tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    return [evaluate_sample(tiny_checkpoint, sample_bank, out / str(k), refine_steps=20, refine_weight=0.01)
            for k in range(2)]


def test_sample_evaluation_has_each_method_and_the_bends_ends_are_exact(figures):
    first, _ = figures
    assert set(first) == {"model", "model+refined", "model+bend", "model+refined+bend"}
    for method in ("model+bend", "model+refined+bend"):
        assert first[method].categorical_accuracy == 1.0
        assert first[method].numerical_error_steps == 0.0
    # a one-epoch model decodes its ends far from the presets; anchoring is what makes them exact
    assert first["model"].numerical_error_steps > 0.5
    assert all(math.isfinite(f.nonlinearity_median_pct) and f.n_attributes > 0 for f in first.values())


def test_sample_evaluation_is_reproducible(figures):
    first, second = figures
    assert {m: f.to_dict() for m, f in first.items()} == {m: f.to_dict() for m, f in second.items()}


def test_sample_of_an_odd_number_of_presets_is_refused(tiny_checkpoint, sample_bank, tmp_path):
    with pytest.raises(ValueError, match="pairs of presets"):
        evaluate_sample(tiny_checkpoint, sample_bank[:3], tmp_path, refine_steps=0, refine_weight=0.01)


def test_sample_references_are_a_splits_first_presets_in_order(tiny_dataset):
    import pandas as pd

    references = sample_references(tiny_dataset, "valid", 2)
    table = pd.read_parquet(tiny_dataset / "presets.parquet")
    valid = table[table["split"] == "valid"].head(4)
    assert references == [f"{s}:{i}" for s, i in zip(valid["source"], valid["bank_index"])]
    with pytest.raises(ValueError, match="fewer than"):
        sample_references(tiny_dataset, "valid", 100)
