"""The 46 Timbre Toolbox features (Peeters et al., JASA 2011) of batches of clips, without MATLAB.

The reference system ran the MATLAB Timbre Toolbox (TT) and kept the median and interquartile
range of 18 time-varying descriptors and 10 scalars of the energy envelope. This module
re-implements them from their definitions, batched over clips with NumPy:

* spectral descriptors of a Hamming STFT (23.2 ms window, 5.8 ms hop): :mod:`.tt_spectral`;
* harmonic descriptors of a 100-ms Blackman STFT (25 ms hop, 20 partials): :mod:`.tt_harmonic`;
* the energy envelope, RMSEnv and the scalars: :mod:`.tt_envelope`.

Frames of negligible power (60 dB below the clip's loudest frame, or a mean square below 1e-10)
are left out of the statistics; the F0-based descriptors use tonal frames only, and are NaN with
a reason when a clip has fewer than 3 (no F0 = 0 cluster for non-tonal sounds). Definitions,
settings, the edge-case policy and the differences from the MATLAB toolbox are in
docs/features_timbre_toolbox.md.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.signal

from spinvae.features.tt_envelope import SCALARS, energy_envelope, envelope_scalars, rms_envelope
from spinvae.features.tt_harmonic import (
    MIN_TONAL_FRAMES,
    PERIODICITY_THRESHOLD,
    HarmonicFrames,
    harmonic_analysis,
    harmonic_descriptors,
)
from spinvae.features.tt_spectral import parseval_weights, power_spectrogram, spectral_descriptors, spectral_variation

TIME_VARYING = (
    "FrameErg", "RMSEnv", "SpecCent", "SpecSpread", "SpecSkew", "SpecKurt", "SpecSlope", "SpecDecr", "SpecRollOff",
    "SpecVar", "SpecFlat", "SpecCrest", "F0", "HarmErg", "NoiseErg", "HarmDev", "InHarm", "OddEvenRatio",
)  # fmt: skip
TT_FEATURES: tuple[str, ...] = tuple(f"tt_{d}_{stat}" for d in TIME_VARYING for stat in ("med", "IQR")) + tuple(
    f"tt_{s}" for s in SCALARS
)

STFT_WINDOW_S = 0.0232
STFT_HOP_S = 0.0058
RELATIVE_FLOOR = 1e-6  # frames 60 dB below the clip's loudest frame are left out
ABSOLUTE_FLOOR = 1e-10  # and so are frames with a mean square below this (RMS 1e-5, -100 dBFS)
CHUNK = 16  # clips per vectorised pass: bounds the memory of the frame arrays (more: tens of MB of
# temporaries, fresh memory from the operating system every batch, whose page faults cost more than they save)

_PITCHED = ("F0", "HarmDev", "InHarm", "OddEvenRatio")  # need tonal frames
_SPECTRAL = ("FrameErg", "SpecCent", "SpecSpread", "SpecSkew", "SpecKurt", "SpecSlope", "SpecDecr", "SpecRollOff",
             "SpecFlat", "SpecCrest")  # fmt: skip


def timbre_toolbox_features(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, list[str]]:
    """The 46 Timbre Toolbox features of clips ``audio`` (B, n_samples) at ``sample_rate`` Hz
    (a 1-D array is one clip).

    Returns (B, 46) float64 in :data:`TT_FEATURES` order and one reason string per clip: ""
    when every feature is finite, else ``"tt_x: why; tt_y: why"`` naming each NaN feature. Units:
    energies are mean squares of the (full-scale = 1) signal, frequencies Hz, times s, slopes
    1/s (AttSlope, DecSlope) or 1/Hz (SpecSlope); the rest is unitless. Never raises on odd
    audio (silence, NaN samples, a single sample): those clips get NaN with a reason.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    features = np.full((len(audio), len(TT_FEATURES)), np.nan)
    reasons: list[str] = []
    for start in range(0, len(audio), CHUNK):
        features[start : start + CHUNK], chunk_reasons = _features_of_chunk(audio[start : start + CHUNK], sample_rate)
        reasons += chunk_reasons
    return features, reasons


def _features_of_chunk(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, list[str]]:
    n_clips, n_samples = audio.shape
    if n_samples == 0:
        return np.full((n_clips, len(TT_FEATURES)), np.nan), ["all tt features: empty clip"] * n_clips
    finite = np.isfinite(audio).all(axis=1)
    audio = np.where(finite[:, None], audio, np.float32(0.0))

    envelope, envelope_rate = energy_envelope(audio, sample_rate)
    stats, audible = _spectral_statistics(audio, sample_rate, envelope, envelope_rate)
    harmonic = harmonic_analysis(audio, sample_rate, RELATIVE_FLOOR, ABSOLUTE_FLOOR)
    stats.update(_harmonic_statistics(harmonic))
    why: list[dict[str, str]] = [{} for _ in range(n_clips)]  # feature -> reason, per clip
    scalars = np.full((n_clips, len(SCALARS)), np.nan)
    scalars[audible], scalar_why = envelope_scalars(envelope[audible], envelope_rate)
    for clip, clip_why in zip(np.flatnonzero(audible), scalar_why):
        why[clip].update({f"tt_{name}": reason for name, reason in clip_why.items()})

    features = np.concatenate(
        [np.stack(stats[name], axis=1) for name in TIME_VARYING] + [scalars], axis=1
    )  # (B, 46): per descriptor its median then its IQR, then the scalars
    for clip in range(n_clips):
        if not finite[clip]:
            features[clip] = np.nan
            why[clip] = {"all tt features": "non-finite samples in the clip"}
        elif not audible[clip]:
            features[clip] = np.nan
            why[clip] = {"all tt features": "silent clip: no frame reaches a mean square of 1e-10 (-100 dBFS)"}
        else:
            _explain_harmonic_gaps(why[clip], harmonic, clip)
    return features, [_reason_string(features[clip], why[clip]) for clip in range(n_clips)]


def _spectral_statistics(
    audio: np.ndarray, sample_rate: int, envelope: np.ndarray, envelope_rate: float
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Median and IQR (B,) of the STFT descriptors and RMSEnv over the kept frames, and which
    clips have any kept frame (B,)."""
    window = scipy.signal.windows.hamming(int(round(STFT_WINDOW_S * sample_rate)), sym=True)
    hop = int(round(STFT_HOP_S * sample_rate))
    n_fft = int(scipy.fft.next_fast_len(len(window), real=True))
    power = power_spectrogram(audio, window, hop, n_fft)
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    frame_values = spectral_descriptors(power, freqs, parseval_weights(window, n_fft))
    frame_erg = frame_values["FrameErg"]
    kept = (frame_erg >= RELATIVE_FLOOR * frame_erg.max(axis=1, keepdims=True)) & (frame_erg >= ABSOLUTE_FLOOR)
    frame_times = np.arange(power.shape[1]) * hop / sample_rate
    frame_values["RMSEnv"] = rms_envelope(envelope, envelope_rate, frame_times, len(window) / sample_rate)
    stats = {name: _median_and_iqr(frame_values[name], kept) for name in (*_SPECTRAL, "RMSEnv")}
    stats["SpecVar"] = _median_and_iqr(spectral_variation(power), kept[:, 1:] & kept[:, :-1])
    return stats, kept.any(axis=1)


def _harmonic_statistics(harmonic: HarmonicFrames) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Median and IQR (B,) of the harmonic descriptors: energies over active frames, the rest
    over tonal frames of clips with at least MIN_TONAL_FRAMES of them."""
    values = harmonic_descriptors(harmonic)
    tonal = harmonic.tonal & (harmonic.tonal.sum(axis=1, keepdims=True) >= MIN_TONAL_FRAMES)
    stats = {name: _median_and_iqr(values[name], harmonic.active) for name in ("HarmErg", "NoiseErg")}
    stats.update({name: _median_and_iqr(values[name], tonal) for name in _PITCHED})
    return stats


def _explain_harmonic_gaps(why: dict[str, str], harmonic: HarmonicFrames, clip: int) -> None:
    """Reasons for the harmonic features of an audible clip that has no active or too few tonal frames."""
    active, n_tonal = harmonic.active[clip], harmonic.tonal[clip].sum()
    if not active.any():
        for name in ("HarmErg", "NoiseErg", *_PITCHED):
            for stat in ("med", "IQR"):
                why[f"tt_{name}_{stat}"] = "no frame with power above 25 Hz (a DC offset or drift only)"
    elif n_tonal < MIN_TONAL_FRAMES:
        best = np.max(harmonic.periodicity[clip], where=active, initial=-np.inf)
        for name in _PITCHED:
            for stat in ("med", "IQR"):
                why[f"tt_{name}_{stat}"] = (
                    f"not tonal: {n_tonal} tonal frame(s) of {active.sum()} analysed, {MIN_TONAL_FRAMES} "
                    f"needed (highest periodicity {best:.2f}, threshold {PERIODICITY_THRESHOLD})"
                )


def _reason_string(values: np.ndarray, why: dict[str, str]) -> str:
    """"tt_x: why; ..." for every NaN feature (one entry for a whole-clip failure)."""
    if "all tt features" in why:
        return f"all tt features: {why['all tt features']}"
    missing = [name for name, value in zip(TT_FEATURES, values) if not np.isfinite(value)]
    return "; ".join(f"{name}: {why.get(name, 'no valid frame')}" for name in missing)


def _median_and_iqr(values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and interquartile range (B,) over the valid, finite frames of values (B, T)
    (linear interpolation between order statistics); NaN where no frame is valid."""
    if values.shape[1] == 0:  # e.g. SpecVar of a one-frame clip
        return np.full(len(values), np.nan), np.full(len(values), np.nan)
    valid = valid & np.isfinite(values)
    ordered = np.sort(np.where(valid, values, np.inf), axis=1)  # valid values first
    count = valid.sum(axis=1)

    def quantile(q: float) -> np.ndarray:
        position = q * np.maximum(count - 1, 0)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, np.maximum(count - 1, 0))
        low_value = np.take_along_axis(ordered, low[:, None], axis=1)[:, 0]
        high_value = np.take_along_axis(ordered, high[:, None], axis=1)[:, 0]
        with np.errstate(invalid="ignore"):  # inf - inf where no frame is valid
            return np.where(count > 0, low_value + (position - low) * (high_value - low_value), np.nan)

    return quantile(0.5), quantile(0.75) - quantile(0.25)
