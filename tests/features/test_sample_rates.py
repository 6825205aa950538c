"""The 53 features at 16, 44.1 and 48 kHz: the same sound gives the same values where a feature's
definition does not depend on the rate (docs/features.md, "Sample rates")."""

from __future__ import annotations

import numpy as np
import pytest

from spinvae.audio.mel import MelSettings, mel_spectrogram
from spinvae.features.extract import FEATURE_NAMES, compute_features
from spinvae.synth.base import RenderSettings
from spinvae.synth.registry import get_synth

#: statistics of the spectrum over the whole band up to Nyquist (a wider empty band moves them), the
#: noise energy above 8 kHz, and Audio Commons' sharpness (weights up to 20 kHz): rate-dependent
RATE_DEPENDENT = ("tt_SpecSpread", "tt_SpecSkew", "tt_SpecKurt", "tt_SpecSlope", "tt_SpecVar", "tt_SpecFlat",
                  "tt_SpecCrest", "tt_NoiseErg", "ac_sharpness")


@pytest.fixture(scope="module")
def features_by_rate() -> dict[int, np.ndarray]:
    """Features (8, 53) of 8 pluck presets (partials all below 8 kHz except the noise burst) at three rates."""
    synth = get_synth("pluck")
    presets = synth.generate(8, seed=2).params
    out = {}
    for rate in (16000, 44100, 48000):
        audio = synth.render(presets, RenderSettings(sample_rate=rate, notes=((52, 90),)), workers=2)[:, 0]
        out[rate] = compute_features(audio, rate)[0]
    return out


def test_rate_independent_features_agree_across_rates(features_by_rate):
    independent = [k for k, name in enumerate(FEATURE_NAMES) if not name.startswith(RATE_DEPENDENT)]
    assert len(independent) == 53 - 2 * 8 - 1  # the eight tt names have a _med and an _IQR
    for rate in (44100, 48000):
        a, b = features_by_rate[16000][:, independent], features_by_rate[rate][:, independent]
        relative = np.nanmedian(np.abs(b - a) / (np.abs(a) + 1e-9), axis=0)
        for k, value in zip(independent, relative):
            # the Audio Commons models are regressions on band energies and onsets: looser, 10 %
            tolerance = 0.10 if FEATURE_NAMES[k].startswith("ac_") else 0.05
            assert value < tolerance, f"{FEATURE_NAMES[k]} differs by {value:.1%} at {rate} Hz"


def test_rate_dependent_features_do_depend_on_the_rate(features_by_rate):
    """The documented list is not too long: each of its spectral-shape statistics moves by more than 5 %
    between 16 and 48 kHz on these sounds."""
    for name in ("tt_SpecSpread_med", "tt_SpecSkew_med", "tt_SpecKurt_med", "tt_SpecFlat_med", "tt_SpecCrest_med"):
        k = FEATURE_NAMES.index(name)
        a, b = features_by_rate[16000][:, k], features_by_rate[48000][:, k]
        assert np.nanmedian(np.abs(b - a) / (np.abs(a) + 1e-9)) > 0.05, name


def test_mel_spectrograms_at_48khz_cover_the_same_bands_below_8khz():
    """Mel filters are built at the true rate, so a 48 kHz spectrogram's bands span 0-24 kHz; with
    the same n_fft in seconds its frames keep the same hop in time."""
    synth = get_synth("pluck")
    preset = synth.generate(1, seed=3).params
    db = {}
    for rate, n_fft in ((16000, 1024), (48000, 3072)):
        audio = synth.render(preset, RenderSettings(sample_rate=rate, notes=((52, 90),)))[:, 0]
        import torch

        db[rate] = mel_spectrogram(rate, MelSettings(n_fft=n_fft, hop_length=n_fft // 4, n_mels=64))(
            torch.from_numpy(audio)).numpy()[0]
    assert db[16000].shape == db[48000].shape  # same frames: hop and n_fft scale with the rate
    assert np.isfinite(db[48000]).all() and db[48000].max() > db[48000].min() + 40
