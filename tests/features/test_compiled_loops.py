"""The compiled (numba) loops against the NumPy formulations they replaced.

The walk-back, the contrast peak picking and the Zwicker slopes are checked against the original
package itself in test_audio_commons.py; here the other loops, on random data and at the edges.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import scipy.ndimage
import scipy.signal

from spinvae.features import ac_loops, tt_loops
from spinvae.features.spectra import cosine_window_power, magnitude, squared_magnitude, weighted_sums, windowed_power

RNG = np.random.default_rng(5)


def test_hold_decay_envelopes_equal_the_running_maximum_formula():
    """max over m <= n of (held[m] + s m) - s n, held = maximum of |x| over the last `hold` samples,
    computed in float32 as the vectorised version did: equal to the bit (onsets compare plateaus)."""
    magnitude_ = np.abs(RNG.standard_normal((3, 5000))).astype(np.float32)
    magnitude_[1, 2000:] = 0  # silence after a sound: the decay shows
    peak = magnitude_.max(axis=1)
    hold = 160
    slopes = [(peak / d).astype(np.float32) for d in (1600.0, 3200.0)]
    fast, slow = ac_loops.hold_decay_envelopes(magnitude_, *slopes, hold)
    held = scipy.ndimage.maximum_filter1d(magnitude_, size=hold + 1, axis=1, mode="constant", origin=hold // 2)
    for slope, got in zip(slopes, (fast, slow)):
        ramp = slope[:, None] * np.arange(held.shape[1], dtype=np.float32)
        expected = np.maximum.accumulate(held + ramp, axis=1) - ramp
        np.testing.assert_array_equal(got, expected)


def _median_of_five_numpy(x: np.ndarray, axis: int, step: int) -> np.ndarray:
    reach = 2 * step
    pad = [(0, 0)] * x.ndim
    pad[axis] = (reach, reach)
    padded = np.pad(x, pad, mode="symmetric")
    taps = [np.take(padded, np.arange(x.shape[axis]) + reach + k * step, axis=axis) for k in range(-2, 3)]
    return np.median(np.stack(taps), axis=0)


@pytest.mark.parametrize("n_frames", [1, 3, 40])  # fewer frames than the median's reach: mirrored again
def test_percussive_ratio_equals_median_filtering(n_frames):
    power = RNG.random((2, n_frames, 60)).astype(np.float32) ** 4
    power[1, :, 10:20] = 0
    harmonic = _median_of_five_numpy(power, axis=1, step=2)
    percussive = _median_of_five_numpy(power, axis=2, step=7)
    total = harmonic + percussive
    total[total == 0] = np.inf
    p_rms = np.sqrt(np.einsum("btf,btf->bt", power, (percussive / total) ** 2, dtype=np.float64))
    h_rms = np.sqrt(np.einsum("btf,btf->bt", power, (harmonic / total) ** 2, dtype=np.float64))
    expected = p_rms.sum(axis=1) / (p_rms + h_rms).sum(axis=1)
    np.testing.assert_allclose(ac_loops.percussive_ratio(power, 2, 7), expected, rtol=1e-5)
    assert np.isnan(ac_loops.percussive_ratio(np.zeros((1, n_frames, 60), np.float32), 2, 7)).all()


def test_pairwise_roughness_of_two_peaks():
    """Vassilakis as the original writes it: 0.5 x (A1 A2)^0.1 x (2 A / (A1 + A2))^3.11 x
    (e^-3.51 x - e^-5.75 x), A the amplitude of the peak ranked higher (Vassilakis: the lower)."""
    freq = np.array([440.0, 470.0, 1000.0, 5000.0])
    level = np.array([1.0, 0.5, 0.3, 0.2], dtype=np.float32)
    rows = np.array([0, 0, 1, 1])
    got = ac_loops.pairwise_roughness(rows, level, level, freq, 3)
    x = 0.24 / (0.0207 * 440 + 18.96) * 30
    expected = 0.5 * 0.5**0.1 * (2 * 1.0 / 1.5) ** 3.11 * (np.exp(-3.51 * x) - np.exp(-5.75 * x))
    np.testing.assert_allclose(got, [expected, 0.0, 0.0], rtol=1e-6)  # 1 and 5 kHz are too far apart to beat


def test_filtered_energy_equals_sosfilt():
    audio = RNG.standard_normal((2, 3000)).astype(np.float32)
    sos = scipy.signal.butter(2, [0.1, 0.3], "bandpass", output="sos")
    bounds = np.array([0, 700, 1400, 2100, 2800, 3500, 4200])
    filtered = np.zeros((2, 4200))
    filtered[:, :3500] = scipy.signal.sosfilt(sos, np.pad(audio.astype(np.float64), ((0, 0), (0, 500))), axis=1)
    expected = np.add.reduceat(filtered**2, bounds[:-1], axis=1)
    np.testing.assert_allclose(ac_loops.filtered_energy(audio, sos, 3500, bounds), expected, rtol=1e-10)


@pytest.mark.parametrize("n, a0, a1", [(750, 0.5, 0.5), (375, 0.5, 0.5), (1500, 0.54, 0.46)])
def test_cosine_windows_across_bins_equal_windowing_in_time(n, a0, a1):
    frames = RNG.standard_normal((4, n)).astype(np.float32)
    window = a0 - a1 * np.cos(2 * np.pi * np.arange(n) / n)
    expected = np.abs(np.fft.rfft(frames * window)) ** 2
    np.testing.assert_allclose(cosine_window_power(scipy.fft.rfft(frames), n, a0, a1), expected,
                               rtol=1e-4, atol=1e-5 * expected.max())
    padded = scipy.fft.rfft(frames, 2 * n)[:, ::2]  # every other bin of the zero-padded FFT: the same frames
    np.testing.assert_allclose(cosine_window_power(padded, n, a0, a1), expected, rtol=1e-4, atol=1e-5 * expected.max())


def test_spectra_helpers_match_numpy_in_any_chunking():
    frames = np.lib.stride_tricks.sliding_window_view(RNG.standard_normal((5, 4000)).astype(np.float32), 300,
                                                      axis=1)[:, ::100]
    window = np.hanning(300).astype(np.float32)
    expected = np.abs(np.fft.rfft(frames * window, 512)) ** 2
    np.testing.assert_allclose(windowed_power(frames, window, 512), expected, rtol=1e-4, atol=1e-6 * expected.max())
    spectra = scipy.fft.rfft(frames, axis=-1)
    np.testing.assert_allclose(magnitude(spectra), np.abs(spectra), rtol=1e-6)
    np.testing.assert_allclose(squared_magnitude(spectra[:, ::2]), np.abs(spectra[:, ::2]) ** 2, rtol=1e-5)
    columns = RNG.random((512 // 2 + 1, 3))
    np.testing.assert_allclose(weighted_sums(expected, columns), expected.astype(np.float64) @ columns, rtol=1e-12)


def test_find_partials_of_a_harmonic_spectrum_and_of_nothing():
    bin_hz, n_bins = 10.0, 801
    spectrum = np.zeros(n_bins, dtype=np.float32)
    for h in range(1, 6):  # partials at h x 203 Hz: between bins, a Blackman-like lobe
        centre = h * 20.3
        k = np.arange(n_bins)
        spectrum += (np.exp(-0.5 * ((k - centre) / 1.2) ** 2) / h**2).astype(np.float32)
    power = np.stack([spectrum, np.zeros(n_bins, np.float32)])[None]
    f0 = np.array([[200.0, np.nan]])
    freqs, amps = tt_loops.find_partials(power, f0, 8, bin_hz, 75.0, np.log(10 ** 0.11))
    np.testing.assert_allclose(freqs[0, 0, :5], 203.0 * np.arange(1, 6), atol=1.0)
    assert (amps[0, 0, :5] > 0).all() and (amps[0, 0, 5:] == 0).all()  # nothing above the 5th partial
    assert (amps[0, 1] == 0).all() and np.isnan(freqs[0, 1]).all()  # no F0: nothing found, no crash
