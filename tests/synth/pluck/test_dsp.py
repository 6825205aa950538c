"""The pluck synth's numerics, measured on its output against the model's known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spinvae.synth.base import RenderSettings
from spinvae.synth.pluck import dsp
from spinvae.synth.pluck.synth import get_signal

from .helpers import BARE, cents, peak_frequency, physical_controls


def _bare_note(note: int, sample_rate: int, duration: float, **values: float) -> np.ndarray:
    controls = physical_controls(**{**BARE, **values})
    settings = RenderSettings(sample_rate=sample_rate, duration=duration, note_duration=duration)
    return get_signal(controls, torch.tensor([float(note)]), torch.tensor([127.0]), settings)[0].numpy()


@pytest.mark.parametrize("inharmonicity", [0.0, 1e-4])
def test_partial_frequencies_measured_within_a_cent(inharmonicity):
    sample_rate = 16000
    x = _bare_note(45, sample_rate, 4.0, inharmonicity=inharmonicity, decay=30.0, damping=20.0, decay_tilt=0.0)
    f0 = 110.0  # MIDI 45
    for k in (1, 2, 5, 9, 14, 20):
        expected = k * f0 * math.sqrt(1.0 + inharmonicity * k * k)
        measured = peak_frequency(x, sample_rate, expected - f0 / 3, expected + f0 / 3)
        assert abs(cents(measured, expected)) < 1.0, (k, measured, expected)
    if inharmonicity:  # the stretch is really there: partial 20 is 34 cents above 20 f0
        assert cents(peak_frequency(x, sample_rate, 20 * f0 - f0 / 3, 20 * f0 + f0 / 2), 20 * f0) > 30.0


def _t60_of_partial(x: np.ndarray, sample_rate: int, freq: float, start: float, stop: float) -> float:
    """T60 (s) of the partial at ``freq``: its STFT bin's log magnitude fitted by a line from ``start``
    to ``stop`` s."""
    n_fft, hop = 2048, 128
    window = np.hanning(n_fft)
    k = int(round(freq * n_fft / sample_rate))
    frames = np.arange(0, len(x) - n_fft, hop)
    basis = np.exp(-2j * np.pi * k * np.arange(n_fft) / n_fft) * window
    magnitude = np.abs(np.stack([x[i:i + n_fft] for i in frames]) @ basis)
    times = (frames + n_fft / 2) / sample_rate
    keep = (times >= start) & (times <= stop)
    slope_db = np.polyfit(times[keep], 20 * np.log10(magnitude[keep]), 1)[0]
    return -60.0 / slope_db


@pytest.mark.parametrize("damping", [20.0, 0.5])
def test_partial_decay_times_measured_within_two_percent(damping):
    sample_rate, decay, tilt = 16000, 2.0, 1.0
    f0 = 220.0  # MIDI 57; the fundamental's T60 is `decay` with no keytracking
    x = _bare_note(57, sample_rate, 2.0, decay=decay, decay_tilt=tilt, damping=damping)
    for k in (1, 2, 4, 7):
        expected = 1.0 / ((k * f0 / f0) ** tilt / decay + (k * f0 / 4000.0) ** 2 / damping)
        measured = _t60_of_partial(x, sample_rate, k * f0, 0.2, min(1.8, 0.2 + 0.8 * expected))
        assert measured == pytest.approx(expected, rel=0.02), (k, measured, expected)


def test_decay_keytracking_shortens_high_notes():
    sample_rate, decay, keytrack = 16000, 1.5, 1.0
    x = _bare_note(69, sample_rate, 1.5, decay=decay, decay_keytrack=keytrack, damping=20.0, decay_tilt=0.0)
    expected = decay * (440.0 / 261.6256) ** -keytrack
    assert _t60_of_partial(x, sample_rate, 440.0, 0.1, 0.8) == pytest.approx(expected, rel=0.02)


def test_second_polarisation_beats_at_the_detuning():
    """With equal shares and decays, partial k of two polarisations beats at f_k (2^(c/1200) - 1)."""
    sample_rate, beat = 16000, 6.0
    x = _bare_note(69, sample_rate, 4.0, decay=30.0, damping=20.0, decay_tilt=0.0, aftersound=0.5,
                   aftersound_decay=1.0, beat=beat)
    k, f0 = 3, 440.0
    expected = k * f0 * (2 ** (beat / 1200) - 1)  # 2.29 Hz
    # the partial's envelope: heterodyne to DC and low-pass over 20 ms
    t = np.arange(len(x)) / sample_rate
    baseband = x * np.exp(-2j * np.pi * k * f0 * t)
    width = int(0.02 * sample_rate)
    envelope = np.abs(np.convolve(baseband, np.ones(width) / width, mode="valid"))
    spectrum = np.abs(np.fft.rfft(envelope - envelope.mean(), n=16 * len(envelope)))
    measured = np.argmax(spectrum) * sample_rate / (16 * len(envelope))
    assert measured == pytest.approx(expected, rel=0.02)


def test_noise_burst_has_unit_rms_at_any_band():
    long = torch.tensor([1e9], dtype=torch.float64)  # no decay over the burst
    for centre, q in ((300.0, 0.5), (2000.0, 1.0), (5000.0, 4.0)):
        noise = dsp.noise_burst(torch.tensor([centre], dtype=torch.float64), torch.tensor([q], dtype=torch.float64),
                                long, 48000, 24000)
        rms = float(noise.pow(2).mean().sqrt())
        assert rms == pytest.approx(1.0, rel=0.1), (centre, q, rms)


def test_noise_is_the_same_waveform_at_every_sample_rate():
    """Up to 16 kHz's Nyquist frequency, the noise played at 48 kHz has the same spectrum (amplitude
    and phase, 2 Hz bins over its 0.5-s period) as at 16 kHz."""
    args = (torch.tensor([1500.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64),
            torch.tensor([1e9], dtype=torch.float64))
    low, high = dsp.noise_burst(*args, 16000, 8000)[0], dsp.noise_burst(*args, 48000, 24000)[0]
    low_bins = torch.fft.rfft(low, norm="forward")[:3990]
    high_bins = torch.fft.rfft(high, norm="forward")[:3990]
    assert torch.allclose(low_bins, high_bins, rtol=0, atol=1e-9 * float(low_bins.abs().max()))
    assert float(high_bins.abs().max()) > 0.01


def test_resonator_has_its_gain_at_its_centre_and_none_far_away():
    freqs = torch.tensor([0.0, 250.0, 100000.0], dtype=torch.float64)
    one = torch.ones(1, dtype=torch.float64)
    response = dsp.resonator_response(freqs, 250 * one, 10 * one, 12 * one)[0]
    assert abs(response[1]) == pytest.approx(10 ** (12 / 20))
    assert abs(response[0]) == pytest.approx(1.0)
    assert abs(response[2]) == pytest.approx(1.0, abs=0.01)


def test_body_rings_at_its_resonance():
    sample_rate = 16000
    impulse = torch.zeros(1, sample_rate, dtype=torch.float64)
    impulse[0, 100] = 1.0
    one = torch.ones(1, dtype=torch.float64)
    out = dsp.apply_body(impulse, sample_rate, [(300 * one, 15 * one, 18 * one)])[0].numpy()
    assert peak_frequency(out[100:], sample_rate, 100, 1000) == pytest.approx(300, rel=0.01)
    # before the impulse: only the band-limited response's Gibbs ripple (the analogue response jumps at
    # t = 0), small, and no ringing wrapped round from the end
    assert np.abs(out[:90]).max() < 2e-3 * np.abs(out).max()
    assert np.abs(out[:20]).max() < 2e-4 * np.abs(out).max()


def test_nyquist_mask_is_a_raised_cosine_over_the_taper():
    nyquist = 8000.0
    freqs = torch.tensor([0.5, 0.85, 0.9, 0.95, 0.99]) * nyquist
    assert dsp.nyquist_mask(freqs, 2 * nyquist).tolist() == pytest.approx([1.0, 1.0, 0.5, 0.0, 0.0], abs=1e-6)


def test_fast_fft_size_is_the_next_5_smooth_number():
    smooth = sorted(m for m in (2**a * 3**b * 5**c for a in range(21) for b in range(13) for c in range(9))
                    if m <= 2**20)
    for n in (1, 7, 11, 1000, 1001, 216000, 216001, 2**19 + 1):
        assert dsp.fast_fft_size(n) == next(m for m in smooth if m >= n)
    assert dsp.fast_fft_size(216001) == 218700
