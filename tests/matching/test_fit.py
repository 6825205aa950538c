"""Sound matching: the spectral distance's known answers, fitting the synth's own notes back, real notes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spinvae.matching.distance import fft_sizes, loudness_distance, loudness_envelope, spectral_distance
from spinvae.matching.fit import MatchConfig, match_audio
from spinvae.synth.base import RenderSettings
from spinvae.synth.pluck.schema import PARAMETER_INDEX, to_physical
from spinvae.synth.registry import get_synth

QUICK = MatchConfig(steps=150, candidates=64)


def sine(rate: int, seconds: float = 1.0, hz: float = 440.0, gain: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(rate * seconds)) / rate
    return (gain * torch.sin(2 * math.pi * hz * t))[None]


def test_the_distance_is_zero_for_equal_clips_symmetric_and_the_same_at_every_rate():
    assert fft_sizes(48000) == (192, 384, 768, 1536, 3072, 6144) and fft_sizes(16000)[0] == 64
    x, y = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0)).split(1)
    assert spectral_distance(x, x, 16000).item() == 0.0
    assert spectral_distance(x, y, 16000).item() == pytest.approx(spectral_distance(y, x, 16000).item())
    by_rate = [spectral_distance(sine(rate), sine(rate, gain=0.5), rate).item() for rate in (16000, 44100, 48000)]
    assert max(by_rate) / min(by_rate) < 1.01  # a 440 Hz tone at half the level: one distance at every rate
    louder = spectral_distance(sine(16000), sine(16000, gain=0.25), 16000).item()
    assert louder > by_rate[0]  # further from the tone, further away
    with pytest.raises(ValueError, match="one shape"):
        spectral_distance(x, torch.zeros(1, 8000), 16000)


def test_the_loudness_distance_is_the_level_difference_in_tens_of_db_at_every_rate():
    for rate in (16000, 44100, 48000):
        tone = sine(rate)
        assert loudness_distance(tone, tone, rate).item() == 0.0
        half = loudness_distance(tone, sine(rate, gain=0.5), rate).item()
        assert half == pytest.approx(20 * math.log10(2) / 10, abs=1e-3)  # 6.02 dB apart everywhere
        assert loudness_envelope(tone, rate).shape == (1, 1 + (rate - round(0.02 * rate)) // round(0.01 * rate))
    decay = sine(16000) * torch.exp(-torch.arange(16000) / 4000.0)
    assert loudness_distance(decay, sine(16000), 16000).item() > half  # a decaying note is further from a held one


def test_a_fit_with_the_loudness_term_runs_and_improves_on_its_guess():
    synth = get_synth("pluck")
    target = synth.render(synth.generate(1, seed=12).params,
                          RenderSettings(sample_rate=16000, notes=((52, 100),), note_duration=1.0, duration=1.0))[0, 0]
    result = match_audio(synth, [target], [16000], [52.0], MatchConfig(steps=20, candidates=16, loudness_weight=1.0))
    assert np.isfinite(result.fit_distance).all() and result.fit_distance[0] <= result.guess_distance[0]


@pytest.fixture(scope="module")
def self_match():
    """Four notes of the pluck synth's own presets (MIDI 52, 1.5 s at 16 kHz), fitted back."""
    synth = get_synth("pluck")
    presets = synth.generate(4, seed=21).params
    audio = synth.render(presets, RenderSettings(sample_rate=16000, notes=((52, 100),), note_duration=1.5,
                                                 duration=1.5))[:, 0]
    return synth, presets, audio, match_audio(synth, list(audio), [16000] * 4, [52.0] * 4, QUICK)


def test_fitting_the_synths_own_notes_recovers_them(self_match):
    synth, presets, _, result = self_match
    assert (result.fit_distance < result.guess_distance).all()
    assert np.median(result.fit_distance / result.guess_distance) < 0.1  # measured: 0.03
    true = to_physical(torch.from_numpy(synth.schema.learnable(presets) / 127.0)).numpy()
    fitted = to_physical(torch.from_numpy(result.unit)).numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.abs(fitted - true) / np.abs(true)
    # the identifiable ones: where the comb notches sit, the decays' tilt, the first decay
    assert np.median(relative[:, PARAMETER_INDEX["pluck_position"]]) < 0.02  # measured: 0.2 %
    assert np.median(relative[:, PARAMETER_INDEX["decay_tilt"]]) < 0.05  # measured: 0.7 %
    assert np.median(relative[:, PARAMETER_INDEX["decay"]]) < 0.25  # measured: 12 %
    stiff = true[:, PARAMETER_INDEX["inharmonicity"]] > 2e-5
    assert np.median(relative[stiff, PARAMETER_INDEX["inharmonicity"]]) < 0.1  # measured: 0.2 %
    assert result.params.shape == (4, synth.schema.n_params)
    np.testing.assert_array_equal(result.params, np.rint(result.unit * 127).astype(np.uint8))


def test_matching_is_deterministic(self_match):
    synth, _, audio, result = self_match
    again = match_audio(synth, list(audio[:2]), [16000] * 2, [52.0] * 2, MatchConfig(steps=20, candidates=16))
    twice = match_audio(synth, list(audio[:2]), [16000] * 2, [52.0] * 2, MatchConfig(steps=20, candidates=16))
    np.testing.assert_array_equal(again.unit, twice.unit)
    np.testing.assert_array_equal(again.distance, twice.distance)


def test_a_synth_that_is_not_differentiable_is_refused():
    with pytest.raises(ValueError, match="dx7 synth is not differentiable"):
        match_audio(get_synth("dx7"), [np.zeros(1600)], [16000], [60.0])
