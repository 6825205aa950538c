"""Harmonic analysis for the Timbre Toolbox descriptors: F0, 20 partials and how periodic each frame is.

Part of :mod:`spinvae.features.timbre_toolbox`. Per frame of a 100-ms Blackman STFT (hop 25 ms,
the reference's harmonic settings): a coarse F0 by subharmonic summation over the spectrum,
20 partials picked as spectral peaks near its multiples (parabolic interpolation on the log
power), F0 refined from them, then the periodicity: the window-corrected normalised
autocorrelation at lag 1 / F0. Frames are tonal when periodic enough. All of it is batched over
clips and frames; the only loop is over the two partial-search passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.signal

from spinvae.features import tt_loops
from spinvae.features.spectra import weighted_sums
from spinvae.features.tt_spectral import parseval_weights, power_spectrogram

HARMONIC_WINDOW_S = 0.1
HARMONIC_HOP_S = 0.025
N_HARMONICS = 20
F0_MIN_HZ = 50.0
F0_MAX_HZ = 2000.0
LOW_CUT_HZ = 25.0  # below this, content has no pitch (DC, drift): not counted as activity or periodicity
SHS_MAX_HZ = 4000.0  # subharmonic summation and autocorrelation look at 25 Hz - 4 kHz
SHS_STEPS_PER_OCTAVE = 24
SHS_DECAY = 0.84  # weight of harmonic h in the summation: SHS_DECAY ** (h - 1)
SHS_TOLERANCE = 2.0 ** (0.5 / SHS_STEPS_PER_OCTAVE) - 1.0  # half a candidate step, relative
PARTIAL_SEARCH_HZ = 75.0  # partial h is looked for within +-min(F0 / 2, 75 Hz) of h * F0
FIRST_PASS_HARMONICS = 5  # partials used to refine the coarse F0 before the full search
PERIODICITY_THRESHOLD = 0.5  # a frame is tonal when its periodicity reaches this
MAX_SCALLOPING = np.log(10 ** (1.1 / 10))  # most a Blackman lobe's peak exceeds its highest bin, log power
LOBE_BINS = 3  # half-width of the Blackman window's main lobe, in bins of an unpadded FFT
MIN_TONAL_FRAMES = 3  # a clip with fewer tonal frames has no F0 (75 ms of tonal sound at least)


@dataclass(frozen=True)
class HarmonicFrames:
    """Harmonic analysis of B clips in T frames (times ``hop / sample_rate`` apart, frame 0 at 0).

    ``f0`` (B, T) Hz; ``partial_freqs``, ``partial_amps`` (B, T, N_HARMONICS) Hz and sinusoid
    amplitude (0 for a partial not found); ``periodicity`` (B, T) about 1 for a periodic frame,
    about 0 for noise; ``frame_power`` (B, T) mean square of the windowed frame;
    ``residual_power`` (B, T) its mean square outside the partials' main lobes (the noise),
    scaled to the whole band as if the noise were flat under the lobes; ``active`` (B, T)
    frames with enough power above LOW_CUT_HZ to analyse; ``tonal`` (B, T) active frames
    periodic enough, with an F0 in range.
    """

    f0: np.ndarray
    partial_freqs: np.ndarray
    partial_amps: np.ndarray
    periodicity: np.ndarray
    frame_power: np.ndarray
    residual_power: np.ndarray
    active: np.ndarray
    tonal: np.ndarray


def harmonic_analysis(
    audio: np.ndarray, sample_rate: int, relative_floor: float, absolute_floor: float
) -> HarmonicFrames:
    """Analyse clips (B, n) float32. Frames whose power above LOW_CUT_HZ is below
    ``relative_floor`` x the clip's loudest such frame or below ``absolute_floor`` (mean square),
    or that hold less than 1% of their own power there (all drift), are not active."""
    window = scipy.signal.windows.blackman(int(round(HARMONIC_WINDOW_S * sample_rate)), sym=True)
    hop = int(round(HARMONIC_HOP_S * sample_rate))
    n_fft = len(window)  # the peaks are interpolated, so no zero padding is needed
    bin_hz = sample_rate / n_fft
    # A DC offset has no pitch: the clip's mean is removed before the analysis.
    centred = audio - audio.mean(axis=1, keepdims=True)
    power = power_spectrogram(centred, window, hop, n_fft)
    weights = parseval_weights(window, n_fft)
    low_cut_bin = int(np.ceil(LOW_CUT_HZ / bin_hz))
    in_band = np.arange(len(weights)) >= low_cut_bin
    frame_power, band_power = np.moveaxis(weighted_sums(power, np.stack([weights, weights * in_band], 1)), -1, 0)
    loudest = band_power.max(axis=1, keepdims=True)
    active = (band_power >= relative_floor * loudest) & (band_power >= absolute_floor)
    active &= band_power >= 0.01 * frame_power

    f0 = _subharmonic_summation(power, bin_hz)
    for n_harmonics in (FIRST_PASS_HARMONICS, N_HARMONICS):
        freqs, amps = _find_partials(power, f0, n_harmonics, bin_hz)
        f0 = _f0_from_partials(freqs, amps, f0)
    periodicity = _periodicity(power, window, sample_rate / f0, low_cut_bin, bin_hz)
    # the refined F0 may leave the candidates' range by up to a semitone
    in_range = (f0 >= F0_MIN_HZ * 2 ** (-1 / 12)) & (f0 <= F0_MAX_HZ * 2 ** (1 / 12))
    tonal = active & (periodicity >= PERIODICITY_THRESHOLD) & in_range
    residual_power = _residual_power(power, frame_power, freqs, amps, weights, bin_hz)
    return HarmonicFrames(f0, freqs, amps, periodicity, frame_power, residual_power, active, tonal)


def _subharmonic_summation(power: np.ndarray, bin_hz: float) -> np.ndarray:
    """Coarse F0 (B, T) Hz: the candidate (24 per octave, F0_MIN_HZ..F0_MAX_HZ) whose harmonics
    below SHS_MAX_HZ sum the most compressed magnitude, weight SHS_DECAY ** (h - 1), refined by a
    parabola through the summation around its maximum."""
    n_pairs = min(power.shape[-1], int(SHS_MAX_HZ / bin_hz) + 1) // 2
    # sqrt of magnitude, so that weak partials count too; the maximum over pairs of bins halves
    # the work and keeps each peak whole
    pooled = np.sqrt(np.sqrt(np.maximum(power[..., 0 : 2 * n_pairs : 2], power[..., 1 : 2 * n_pairs : 2])))
    score = pooled.reshape(-1, n_pairs) @ _shs_matrix(n_pairs, 2 * bin_hz)
    best = score.argmax(axis=1)
    rows, last = np.arange(len(score)), score.shape[1] - 1
    left, right = score[rows, np.maximum(best - 1, 0)], score[rows, np.minimum(best + 1, last)]
    offset = np.where((best > 0) & (best < last), _parabola_vertex(left, score[rows, best], right), 0.0)
    return (F0_MIN_HZ * 2.0 ** ((best + offset) / SHS_STEPS_PER_OCTAVE)).reshape(power.shape[:-1])


@lru_cache(maxsize=8)
def _shs_matrix(n_bins: int, bin_hz: float) -> np.ndarray:
    """(n_bins, n_candidates) float32 for bins [j, j + 1) * bin_hz: column c averages the bins
    within half a candidate step of each harmonic of candidate c, so that a partial between two
    candidates still counts. Cached: the same for every batch at a given sample rate."""
    n_candidates = int(np.ceil(SHS_STEPS_PER_OCTAVE * np.log2(F0_MAX_HZ / F0_MIN_HZ))) + 1
    candidates = F0_MIN_HZ * 2.0 ** (np.arange(n_candidates) / SHS_STEPS_PER_OCTAVE)
    bin_centres = (np.arange(n_bins) + 0.5) * bin_hz
    matrix = np.zeros((n_bins, n_candidates))
    for h in range(1, N_HARMONICS + 1):
        centre = h * candidates
        half_width = np.maximum(centre * SHS_TOLERANCE, 0.5 * bin_hz)
        taps = (np.abs(bin_centres[:, None] - centre) <= half_width) & (centre < n_bins * bin_hz)
        matrix += SHS_DECAY ** (h - 1) * taps / np.maximum(taps.sum(axis=0), 1)
    matrix = matrix.astype(np.float32)
    matrix.flags.writeable = False
    return matrix


def _parabola_vertex(left: np.ndarray, centre: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Offset in [-0.5, 0.5] of the vertex of the parabola through three equally spaced values
    whose middle one is the highest (0 where they are flat)."""
    curvature = left - 2.0 * centre + right
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = 0.5 * (left - right) / curvature
    return np.where(curvature < 0, np.clip(offset, -0.5, 0.5), 0.0)


def _find_partials(power: np.ndarray, f0: np.ndarray, n_harmonics: int, bin_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Partials (B, T, n_harmonics): frequency (Hz) and amplitude of the highest bin of the
    power within +-min(F0 / 2, PARTIAL_SEARCH_HZ) of h * F0, interpolated by a parabola through
    the log power. A partial whose highest bin is not a local maximum (the window's edge of a
    larger peak, or nothing) is not found: amplitude 0, frequency h * F0. Compiled, frame by frame:
    tt_loops.find_partials."""
    return tt_loops.find_partials(power, f0, n_harmonics, bin_hz, PARTIAL_SEARCH_HZ, MAX_SCALLOPING)


def _f0_from_partials(freqs: np.ndarray, amps: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Energy-weighted mean of f_h / h over the partials found; ``fallback`` where none is."""
    energy = amps**2
    total = energy.sum(axis=-1)
    ratios = freqs / np.arange(1, freqs.shape[-1] + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        refined = np.sum(energy * ratios, axis=-1) / total
    return np.where(total > 0, refined, fallback)


def _residual_power(
    power: np.ndarray, frame_power: np.ndarray, freqs: np.ndarray, amps: np.ndarray, weights: np.ndarray, bin_hz: float
) -> np.ndarray:
    """Mean square (B, T) of each frame outside the main lobes (+-LOBE_BINS) of its partials
    found, times the share of bins that leaves: the noise's power if it is flat under the lobes.
    The lobes' power is subtracted in float64 from the same float32 spectrum, so the residual
    stays exact far below the partials' own power (the partials' fitted amplitudes would not)."""
    n_bins = power.shape[-1]
    centres = np.rint(freqs / bin_hz).astype(np.int64)
    lobe_ends = np.maximum.accumulate(np.where(amps > 0, centres + LOBE_BINS, -1), axis=-1)
    previous_end = np.concatenate([np.full_like(lobe_ends[..., :1], -1), lobe_ends[..., :-1]], axis=-1)
    lobe_bins = centres[..., None] + np.arange(-LOBE_BINS, LOBE_BINS + 1)  # (B, T, H, 2 * LOBE_BINS + 1)
    # each bin counted once: a lobe starts after the previous partial's lobe ends
    in_lobe = (amps > 0)[..., None] & (lobe_bins > previous_end[..., None]) & (lobe_bins >= 0) & (lobe_bins < n_bins)
    frame_offsets = (np.arange(frame_power.size) * n_bins).reshape(frame_power.shape)[..., None, None]
    lobe_power = np.where(in_lobe, np.take(power, lobe_bins + frame_offsets, mode="clip"), 0.0)
    lobe_power = np.sum(lobe_power * np.take(weights, lobe_bins, mode="clip"), axis=(-2, -1))
    n_outside = n_bins - in_lobe.sum(axis=(-2, -1))
    return np.maximum(frame_power - lobe_power, 0.0) * n_bins / np.maximum(n_outside, 1)


def _periodicity(power: np.ndarray, window: np.ndarray, lag: np.ndarray, low_cut_bin: int, bin_hz: float) -> np.ndarray:
    """Normalised autocorrelation (B, T) of each windowed frame at the fractional ``lag``
    (samples), divided by the window's own: about 1 for a periodic frame, about 0 for noise.
    Computed from the power spectrum (Wiener-Khinchin) over LOW_CUT_HZ..SHS_MAX_HZ."""
    n_fft = len(window)
    n_bins = min(power.shape[-1], int(SHS_MAX_HZ / bin_hz) + 1)
    angle = (2.0 * np.pi / n_fft) * np.arange(low_cut_bin, n_bins, dtype=np.float32)
    band = power[..., low_cut_bin:n_bins]
    at_lag = np.einsum("btk,btk->bt", band, np.cos(angle * lag[..., None].astype(np.float32)), dtype=np.float64)
    at_zero = band.sum(axis=-1, dtype=np.float64)
    # The frame's autocorrelation is the signal's times the window's: divide the latter out
    # (both circular, as the spectrum has n_fft = window length).
    window_acf = np.fft.irfft(np.abs(np.fft.rfft(window)) ** 2, n=n_fft)
    window_acf /= window_acf[0]
    window_at_lag = np.interp(lag, np.arange(n_fft), window_acf, right=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        periodicity = at_lag / at_zero / window_at_lag
    return np.where(np.isfinite(periodicity), periodicity, 0.0)


def harmonic_descriptors(frames: HarmonicFrames) -> dict[str, np.ndarray]:
    """Per-frame harmonic descriptors (B, T) float64: F0 (Hz), HarmErg and NoiseErg (mean
    squares: the partials' power sum(A_h^2) / 2, and the residual power outside them),
    HarmDev (amplitude units), InHarm, OddEvenRatio (unitless). Which frames count is the
    caller's choice."""
    amps, freqs, f0 = frames.partial_amps, frames.partial_freqs, frames.f0
    energy = amps**2
    total = energy.sum(axis=-1)
    harm_erg = np.minimum(0.5 * total, frames.frame_power)  # no more power than the frame holds
    harmonic_numbers = np.arange(1, amps.shape[-1] + 1)
    # Spectral envelope: the mean of each amplitude and its neighbours (two at the top end).
    envelope = np.empty_like(amps)
    envelope[..., 0] = amps[..., 0]
    envelope[..., 1:-1] = (amps[..., :-2] + amps[..., 1:-1] + amps[..., 2:]) / 3.0
    envelope[..., -1] = (amps[..., -2] + amps[..., -1]) / 2.0
    # Odd/even: a small floor (1e-4 of the partials' energy) on both sums keeps a pure tone finite.
    floor = 1e-4 * total
    odd = energy[..., 0::2].sum(axis=-1)
    even = energy[..., 1::2].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        inharm = 2.0 * np.sum(np.abs(freqs - harmonic_numbers * f0[..., None]) * energy, axis=-1) / (f0 * total)
        odd_even = (odd + floor) / (even + floor)
    return {
        "F0": f0,
        "HarmErg": harm_erg,
        "NoiseErg": frames.residual_power,
        "HarmDev": np.mean(np.abs(amps - envelope), axis=-1),
        "InHarm": inharm,
        "OddEvenRatio": odd_even,
    }
