"""The energy envelope and the Timbre Toolbox's descriptors of it: RMSEnv and the 10 scalars.

Part of :mod:`spinvae.features.timbre_toolbox`. The envelope is sqrt(2 x low-passed x^2): a
sinusoid of amplitude A gives A. The low-pass is a zero-phase third-order Butterworth at 20 Hz
applied in the frequency domain (the magnitude response squared, as a forward-backward pass
gives), and the result is sampled at 1 kHz. The scalars follow the Timbre Toolbox's
"effort" method on that envelope (see docs/features_timbre_toolbox.md). They are computed clip
by clip: a few dozen NumPy calls each, cheap next to the spectra.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.fft

ENVELOPE_CUTOFF_HZ = 20.0  # passes tremolo up to 10 Hz untouched; the TT's 5 Hz would not
ENVELOPE_ORDER = 3
ENVELOPE_RATE_HZ = 1000.0
ENVELOPE_PREROLL_S = 0.1  # the envelope starts this long before the clip (zeros there)
ENVELOPE_PAD_S = 0.2  # zeros after the clip, so the circular filter does not wrap the end onto the start
LEVEL_STEP = 0.1  # attack thresholds at 10%, 20%, ..., 100% of the maximum
EFFORT_FACTOR = 3.0  # an effort (time between thresholds) this many times the mean one is too slow
RELEASE_LEVEL = 0.4  # Rel: the envelope falls below 40% of its maximum for good
TEMPCENT_LEVEL = 0.15  # TempCent: centroid of the part above 15%
EFFDUR_LEVEL = 0.4  # EffDur: time spent above 40%
MIN_SUSTAIN_S = 0.25  # below this, the sustain is too short to show a 1-10 Hz modulation
MODULATION_BAND_HZ = (1.0, 10.0)

SCALARS = ("Att", "Dec", "Rel", "LAT", "AttSlope", "DecSlope", "TempCent", "EffDur", "FreqMod", "AmpMod")


def energy_envelope(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Energy envelopes (B, M) float64 of clips (B, n), and their sample rate (about
    ENVELOPE_RATE_HZ). Sample j is at time (j - preroll_samples(rate)) / rate: the envelope
    starts before the clip, where the zero-phase smoothing spreads an onset at time 0."""
    n = audio.shape[1]
    preroll = int(round(ENVELOPE_PREROLL_S * sample_rate))
    n_padded = scipy.fft.next_fast_len(preroll + n + int(ENVELOPE_PAD_S * sample_rate), real=True)
    n_envelope_padded = int(np.ceil(n_padded * ENVELOPE_RATE_HZ / sample_rate))
    rate = n_envelope_padded * sample_rate / n_padded
    squared = np.zeros((len(audio), n_padded), dtype=np.float32)
    squared[:, preroll : preroll + n] = audio
    squared **= 2
    spectrum = scipy.fft.rfft(squared, axis=-1)[:, : n_envelope_padded // 2 + 1]
    freqs = np.arange(spectrum.shape[1]) * (sample_rate / n_padded)
    response = 1.0 / (1.0 + (freqs / ENVELOPE_CUTOFF_HZ) ** (2 * ENVELOPE_ORDER))
    # Keeping only the bins below the new Nyquist frequency resamples without aliasing.
    smoothed = scipy.fft.irfft(spectrum * response, n=n_envelope_padded, axis=-1) * (n_envelope_padded / n_padded)
    n_envelope = preroll_samples(rate) + max(1, int(round(n * rate / sample_rate)))
    return np.sqrt(2.0 * np.maximum(smoothed[:, :n_envelope], 0.0)), rate


def preroll_samples(rate: float) -> int:
    """Number of envelope samples before the clip's start."""
    return int(round(ENVELOPE_PREROLL_S * rate))


def rms_envelope(envelope: np.ndarray, rate: float, frame_times: np.ndarray, window_s: float) -> np.ndarray:
    """RMSEnv (B, T): RMS of the envelope over ``window_s`` centred on each frame time (s),
    the window cut at the clip's ends."""
    clip = envelope[:, preroll_samples(rate) :]
    n = clip.shape[1]
    cumulated = np.concatenate([np.zeros((len(clip), 1)), np.cumsum(clip**2, axis=1)], axis=1)
    start = np.clip((frame_times - window_s / 2) * rate, 0.0, n)
    stop = np.clip((frame_times + window_s / 2) * rate, 0.0, n)
    area = _interpolate_columns(cumulated, stop) - _interpolate_columns(cumulated, start)
    nearest = clip[:, np.minimum(np.rint(frame_times * rate).astype(np.int64), n - 1)]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(stop > start, np.sqrt(np.maximum(area, 0.0) / (stop - start)), nearest)


def _interpolate_columns(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """values (B, N) linearly interpolated at fractional column positions (T,) in [0, N - 1]."""
    low = np.minimum(np.floor(positions).astype(np.int64), values.shape[1] - 2)
    fraction = positions - low
    return values[:, low] * (1.0 - fraction) + values[:, low + 1] * fraction


def envelope_scalars(envelope: np.ndarray, rate: float) -> tuple[np.ndarray, list[dict[str, str]]]:
    """The 10 scalars (B, 10) float64 in SCALARS order, from envelopes (B, M) with a positive
    maximum, and per clip the reason of each NaN (scalar name -> why)."""
    values = np.full((len(envelope), len(SCALARS)), np.nan)
    reasons: list[dict[str, str]] = []
    for clip, row in enumerate(envelope):
        scalars, why = _scalars_of_one(row / row.max(), row, rate)
        values[clip] = [scalars.get(name, np.nan) for name in SCALARS]
        reasons.append(why)
    return values, reasons


def _scalars_of_one(
    normalised: np.ndarray, envelope: np.ndarray, rate: float
) -> tuple[dict[str, float], dict[str, str]]:
    clip_start = preroll_samples(rate)  # times are counted from the clip's first sample
    peak = int(np.argmax(normalised))
    start, end = _attack(normalised)
    scalars = {
        "Att": (start - clip_start) / rate,
        "LAT": np.log10(max(end - start, 1) / rate),
        "AttSlope": _attack_slope(normalised, start, end, rate),
    }
    why: dict[str, str] = {}
    decay_start = int(round(0.5 * (peak + end)))  # the TT's compromise between the peak and the attack's end
    release = int(np.flatnonzero(normalised > RELEASE_LEVEL)[-1])
    scalars["Dec"] = (decay_start - clip_start) / rate
    scalars["Rel"] = (release - clip_start) / rate
    if release > decay_start:
        times = np.arange(decay_start, release + 1) / rate
        scalars["DecSlope"] = _line_slope(times, np.log(np.maximum(normalised[decay_start : release + 1], 1e-12)))
    else:
        why["DecSlope"] = "no decay: the envelope is below 40% of its maximum right after the attack"
    scalars["TempCent"] = (_temporal_centroid(normalised, peak) - clip_start) / rate
    above = np.flatnonzero(normalised > EFFDUR_LEVEL)
    first = above[0] - 1 if above[0] == peak and above[0] > 0 else above[0]  # as the TT: one sample before a peak
    scalars["EffDur"] = (above[-1] - first + 1) / rate  # counted in samples, as the TT
    if (release - decay_start) / rate < MIN_SUSTAIN_S:
        scalars["AmpMod"] = 0.0  # no sustain, no modulation
        why["FreqMod"] = f"sustain (decay start to release) shorter than {MIN_SUSTAIN_S} s: no modulation to measure"
    else:
        scalars["FreqMod"], scalars["AmpMod"] = _modulation(envelope[decay_start : release + 1], rate)
    return scalars, why


def _attack(normalised: np.ndarray) -> tuple[int, int]:
    """Start and end samples of the attack by the TT's weakest-effort method: the times the
    envelope first reaches 10%, ..., 100%; an effort (time between two thresholds) more than
    EFFORT_FACTOR times the mean effort of 30%..70% marks a slow part, excluded from the attack;
    each end is then moved to the envelope's extremum within a quarter effort."""
    reached = _first_crossings(normalised, LEVEL_STEP * np.arange(1, 11))
    efforts = np.diff(reached)
    too_slow = efforts > EFFORT_FACTOR * efforts[2:6].mean()
    slow_low = np.flatnonzero(too_slow[0:3])  # efforts 10%->20% .. 30%->40%
    start_level = slow_low[-1] + 1 if slow_low.size else 0
    slow_high = np.flatnonzero(too_slow[4:9])  # efforts 50%->60% .. 90%->100%
    end_level = 4 + slow_high[0] if slow_high.size else 9
    start = _extremum_near(normalised, reached[start_level], 0.25 * efforts[start_level], np.argmin)
    end = _extremum_near(normalised, reached[end_level], 0.25 * efforts[end_level - 1], np.argmax)
    return min(start, end), end


def _first_crossings(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Fractional indices where ``values`` first reaches each of ``levels`` (linear between
    samples; 0 when the first value does); every level must be reached."""
    index = np.argmax(values >= levels[:, None], axis=1)
    below = values[np.maximum(index - 1, 0)]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = (levels - below) / (values[index] - below)
    return np.where(index > 0, index - 1 + fraction, 0.0)


def _extremum_near(values: np.ndarray, position: float, reach: float, pick: Callable[[np.ndarray], int]) -> int:
    """Index of ``pick`` (np.argmin or np.argmax) of ``values`` within +-reach of position."""
    centre, half = int(round(position)), int(round(reach))
    low, high = max(centre - half, 0), min(centre + half, len(values) - 1)
    return low + int(pick(values[low : high + 1]))


def _attack_slope(normalised: np.ndarray, start: int, end: int, rate: float) -> float:
    """AttSlope (1/s): mean slope between levels LEVEL_STEP apart from the attack's start value
    to its end value, weighted by a Gaussian centred on 50% (as the TT)."""
    levels = np.arange(normalised[start], normalised[end] + 1e-9, LEVEL_STEP)
    if len(levels) < 2:
        return (normalised[end] - normalised[start]) * rate / max(end - start, 1)
    attack = normalised[start : end + 1]
    times = _first_crossings(attack, levels) / rate
    slopes = LEVEL_STEP / np.diff(times)
    middles = 0.5 * (levels[:-1] + levels[1:])
    weights = np.exp(-((middles - 0.5) ** 2) / 0.25)
    return float(np.sum(slopes * weights) / np.sum(weights))


def _line_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y against x."""
    x_centred = x - x.mean()
    return float(np.dot(x_centred, y - y.mean()) / np.dot(x_centred, x_centred))


def _temporal_centroid(normalised: np.ndarray, peak: int) -> float:
    """Envelope-weighted mean sample of the part above TEMPCENT_LEVEL (from one sample before
    the peak when the peak is its first sample, as the TT)."""
    above = np.flatnonzero(normalised > TEMPCENT_LEVEL)
    first = above[0] - 1 if above[0] == peak and above[0] > 0 else above[0]
    part = normalised[first : above[-1] + 1]
    return first + float(np.dot(np.arange(len(part)), part) / part.sum())


def _modulation(sustain: np.ndarray, rate: float) -> tuple[float, float]:
    """FreqMod (Hz) and AmpMod of a sustain: the highest 1-10 Hz peak of the spectrum of the
    sustain minus its fitted exponential trend (Hamming window scaled so a sinusoid of amplitude
    a reads a), its amplitude divided by the sustain's mean, both refined by a parabola."""
    times = np.arange(len(sustain)) / rate
    log_sustain = np.log(np.maximum(sustain, 1e-12 * sustain.max()))
    slope = _line_slope(times, log_sustain)
    trend = np.exp(log_sustain.mean() + slope * (times - times.mean()))
    window = np.hamming(len(sustain))
    n_fft = int(2 ** np.ceil(np.log2(max(len(sustain), 4 * rate))))  # bins of at most 0.25 Hz
    magnitude = np.abs(np.fft.rfft((sustain - trend) * window * (2.0 / window.sum()), n=n_fft))
    bin_hz = rate / n_fft
    low, high = int(np.ceil(MODULATION_BAND_HZ[0] / bin_hz)), int(np.floor(MODULATION_BAND_HZ[1] / bin_hz))
    band = magnitude[low : high + 1]
    local_max = np.flatnonzero((band[1:-1] > band[:-2]) & (band[1:-1] >= band[2:])) + 1
    best = low + (local_max[np.argmax(band[local_max])] if local_max.size else int(np.argmax(band)))
    left, centre, right = magnitude[best - 1 : best + 2]
    offset, peak = 0.0, centre
    if centre >= max(left, right) and centre > min(left, right):  # a peak, not the band's edge on a slope
        offset = 0.5 * (left - right) / (left - 2.0 * centre + right)  # within [-0.5, 0.5]
        peak = centre - 0.25 * (left - right) * offset
    return (best + offset) * bin_hz, peak / sustain.mean()
