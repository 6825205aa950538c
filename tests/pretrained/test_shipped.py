"""The models that ship with spinvae: they load, their checksums hold, they say what they were trained on,
and the DX7 model reproduces the figures its card records on a fixed sample of validation pairs.

Tolerance of the reproduction (docs/models.md): change % within 2 points (averages over attributes of
per-attribute medians over 16 pairs; the refinement's Adam steps and float arithmetic may differ in the
last bits between CPUs), counts of attributes better / worse within 2, end accuracy within 0.01 and end
error within 0.05 steps.
"""

from __future__ import annotations

import math

import pytest

from spinvae.evaluation.card import SampleCheck
from spinvae.evaluation.sample import evaluate_sample
from spinvae.interpolation.model import load_model
from spinvae.model.weights import read_model_files
from spinvae.pretrained import resolve_model, shipped_folder, shipped_model, shipped_names

EXPECTED = ("dx7", "pluck", "pluck_match")


def _shipped(name: str):
    if name not in shipped_names():
        pytest.skip(f"spinvae/pretrained/{name} is not in this checkout (shipped models: {shipped_names()})")
    return shipped_folder(name)


@pytest.mark.parametrize("name", EXPECTED)
def test_shipped_model_loads_with_its_checksum_and_is_small(name):
    folder = _shipped(name)
    files = read_model_files(folder)
    assert files.weights.stat().st_size < 8 * 2**20
    module = load_model(folder)
    assert module.synth.name == files.synth
    assert not module.training


def test_each_synth_finds_its_shipped_morph_model_and_sound_encoder():
    for name in EXPECTED:
        _shipped(name)
    assert shipped_model("dx7") == "dx7" and shipped_model("pluck") == "pluck"
    assert shipped_model("pluck", sound_encoder=True) == "pluck_match" and shipped_model("dx7", sound_encoder=True) is None
    assert resolve_model("shipped", "dx7") == shipped_folder("dx7")
    assert resolve_model("shipped", "pluck", sound_encoder=True) == shipped_folder("pluck_match")


def test_dx7_model_was_trained_on_the_in_repo_cc0_banks_alone():
    files = read_model_files(_shipped("dx7"))
    data = files.data
    assert data is not None
    assert data.source.startswith("datasets/banks/dexed_cart") and data.licence.startswith("CC0")
    assert data.splits["test"] > 2000 and set(data.split_sha256) == {"train", "valid", "test"}


def test_pluck_models_were_trained_on_the_procedural_generator():
    for name in ("pluck", "pluck_match"):
        data = read_model_files(_shipped(name)).data
        assert data is not None and data.source.startswith("procedural"), name


def _close(a: float, b: float, tolerance: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tolerance


def test_dx7_model_reproduces_its_cards_check_figures(tmp_path):
    files = read_model_files(_shipped("dx7"))
    check = SampleCheck.from_dict(files.facts["check"])
    assert check.split == "valid" and len(check.references) == 32
    figures = evaluate_sample(str(files.folder), check.references, tmp_path, check.refine_steps, check.refine_weight)
    assert set(figures) == set(check.figures)
    for method, expected in check.figures.items():
        got = figures[method]
        for field in ("smoothness_median_pct", "smoothness_mean_pct", "nonlinearity_median_pct",
                      "nonlinearity_mean_pct"):
            assert _close(getattr(got, field), getattr(expected, field), 2.0), (method, field)
        for field in ("smoothness_improved", "smoothness_worse", "nonlinearity_improved", "nonlinearity_worse"):
            assert abs(getattr(got, field) - getattr(expected, field)) <= 2, (method, field)
        assert _close(got.categorical_accuracy, expected.categorical_accuracy, 0.01), method
        assert _close(got.numerical_error_steps, expected.numerical_error_steps, 0.05), method
    assert figures["model+refined+bend"].categorical_accuracy == 1.0  # the bend's ends are the presets
