"""The procedural preset generator: ranges, seeding, family priors and how the presets sound."""

from __future__ import annotations

import numpy as np
import pytest
from dexed import algorithms

from spinvae.synth.dx7.schema import DX7_SCHEMA, TRANSPOSE_INDEX, operator_offset, voice_name
from spinvae.synth.dx7.generator import FAMILIES, PRIORS, generate_presets
from spinvae.synth.base import RenderSettings
from spinvae.synth.dx7.render import render_presets

SETTINGS = RenderSettings()  # note 56, velocity 75, held 3 s of 4 s, 16 kHz
ALGORITHM = DX7_SCHEMA.by_name["algorithm"].index
OUTPUT_LEVEL = 16  # offset of output_level in an operator block


@pytest.fixture(scope="module")
def presets() -> tuple[np.ndarray, list[str]]:
    return generate_presets(1000, seed=0)


@pytest.fixture(scope="module")
def renders() -> tuple[np.ndarray, np.ndarray]:
    """Audio (320, n_samples) of 40 presets per family, and each one's family."""
    voices, families = generate_presets(40 * len(FAMILIES), seed=1)
    return render_presets(voices, SETTINGS, workers=2)[:, 0], np.array(families)


def test_presets_are_in_range_with_names_and_fixed_transpose(presets):
    voices, families = presets
    assert voices.shape == (1000, DX7_SCHEMA.n_params) and voices.dtype == np.uint8
    DX7_SCHEMA.check_in_range(voices)
    assert (voices[:, TRANSPOSE_INDEX] == 24).all()
    assert set(families) == set(FAMILIES)
    assert voice_name(voices[42]) == f"{PRIORS[families[42]].label} 0042".ljust(10)


def test_families_cycle_and_follow_their_prior(presets):
    voices, families = presets
    assert families[: 2 * len(FAMILIES)] == list(FAMILIES) * 2
    for voice, family in zip(voices, families):
        algorithm = int(voice[ALGORITHM])
        assert algorithm + 1 in PRIORS[family].algorithms
        carrier_levels = [voice[operator_offset(op + 1) + OUTPUT_LEVEL] for op in algorithms[algorithm].carriers]
        assert min(carrier_levels) >= PRIORS[family].carrier_level[0]


def test_same_seed_gives_identical_presets():
    first, first_families = generate_presets(300, seed=7)
    second, second_families = generate_presets(300, seed=7)
    np.testing.assert_array_equal(first, second)
    assert first_families == second_families


def test_a_larger_n_extends_a_smaller_one():
    small, small_families = generate_presets(50, seed=3)
    large, large_families = generate_presets(200, seed=3)
    np.testing.assert_array_equal(small, large[:50])
    assert small_families == large_families[:50]


def test_different_seeds_give_different_presets():
    a, _ = generate_presets(100, seed=0)
    b, _ = generate_presets(100, seed=1)
    assert (DX7_SCHEMA.learnable(a) != DX7_SCHEMA.learnable(b)).any(axis=1).all()


def test_family_restriction():
    voices, families = generate_presets(30, seed=0, families=["bell", "pad"])
    assert families == ["bell", "pad"] * 15
    assert all(voice_name(v).startswith(PRIORS[f].label) for v, f in zip(voices, families))
    single, _ = generate_presets(5, seed=0, families="organ")
    assert all(voice_name(v).startswith("ORGAN") for v in single)


def test_unknown_family_is_named_in_the_error():
    with pytest.raises(ValueError, match="kazoo"):
        generate_presets(10, families=["pad", "kazoo"])


def test_no_two_presets_share_their_learnable_parameters(presets):
    learnable = DX7_SCHEMA.learnable(presets[0])
    assert len(np.unique(learnable, axis=0)) == len(learnable)


def test_presets_are_audible(renders):
    audio, _ = renders
    rms_db = 20 * np.log10(np.sqrt(np.mean(audio.astype(np.float64) ** 2, axis=-1)) + 1e-12)
    assert np.mean(rms_db > -60.0) >= 0.97


def test_bass_is_darker_than_bell(renders):
    audio, families = renders
    magnitude = np.abs(np.fft.rfft(audio, axis=-1))
    frequencies = np.fft.rfftfreq(audio.shape[-1], 1 / SETTINGS.sample_rate)
    centroid = (magnitude * frequencies).sum(-1) / magnitude.sum(-1)
    assert np.median(centroid[families == "bass"]) < np.median(centroid[families == "bell"])


def test_pads_peak_later_than_plucks_and_percussion(renders):
    audio, families = renders
    frame = SETTINGS.sample_rate // 100  # 10-ms RMS frames
    envelope = np.sqrt(np.mean(audio.reshape(len(audio), -1, frame) ** 2, axis=-1))
    peak_time = envelope.argmax(axis=-1) * frame / SETTINGS.sample_rate
    pad = np.median(peak_time[families == "pad"])
    assert pad > np.median(peak_time[families == "pluck"])
    assert pad > np.median(peak_time[families == "percussion"])
