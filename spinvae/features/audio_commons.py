"""Audio Commons timbral features, re-implemented natively and vectorised over batches.

The seven timbral models of the AudioCommons ``timbral_models`` package, version 0.4 (A. Pearce,
T. Brookes, R. Mason, University of Surrey, 2019): hardness, depth, brightness, roughness, warmth,
sharpness and boominess. Same signal processing, same regression models and coefficients, computed
for a whole batch of clips at once: filters and filter banks are designed once per sample rate,
frames are processed along an array axis, and the sequential parts of the original (onset
correction, peak picking, the Zwicker loudness slopes) run vectorised across clips and frames.

Clips are analysed at their own sample rate. The original resamples anything slower than
44.1 kHz to 44.1 kHz first and counts its frames and windows in samples at that rate; here every
such length is converted to the same duration at the clip's rate (4096 samples at 44.1 kHz are
1486 samples, 92.9 ms, at 16 kHz), and the few places where the resampled signal itself matters
(the resampler's roll-off near the clip's Nyquist frequency, the empty band above it) are
modelled. docs/features_audio_commons.md describes each feature, the differences from the
original and the measured agreement with it.

Every input gets an answer: (B, 7) float64 values, NaN where a feature is undefined, with the
reason in the clip's reason string. Nothing raises on odd audio (silence, clicks, DC, noise).
"""

from __future__ import annotations

import functools
import math
import warnings

import librosa
import numpy as np
import scipy.fft
import scipy.signal

from spinvae.features import ac_loops
from spinvae.features.spectra import (
    cosine_window_power,
    magnitude,
    squared_magnitude,
    windowed_power,
    windowed_spectra,
)

AC_FEATURES = ("ac_hardness", "ac_depth", "ac_brightness", "ac_roughness", "ac_warmth", "ac_sharpness", "ac_boominess")

ORIGINAL_RATE = 44100  # timbral_models resamples slower audio to this rate and counts lengths in its samples
TARGET_LOUDNESS = -24.0  # LUFS, the original's loudness normalisation target

# Regression models of timbral_models 0.4 (data: the original's coefficients, unchanged).
HARDNESS_COEFFICIENTS = np.array([12.079781720638145, 18.52100377170042, 14.139883645260355, 5.567690321917516,
                                  3.9346817690405635, -4.326890461087848, -85.60352209068202])
DEPTH_COEFFICIENTS = np.array([-0.0043703565847874465, 32.83743202462131, 4.750862716905235, -14.217438690256062,
                               3.8782339862813924, -0.8544826091735516, 66.69534393444391])
BRIGHTNESS_COEFFICIENTS = np.array([4.613128018020465, 17.378889309312974, 17.434733750553022])
ROUGHNESS_COEFFICIENTS = np.array([13.98779569, 48.97606571545886])
WARMTH_COEFFICIENTS = np.array([-4.464258317026696, -0.08819320850778556, 0.29156539973575546, 17.274733561081554,
                                8.403340066029507, 45.21212125085579])
SHARPNESS_COEFFICIENTS = np.array([102.50508921364404, 34.432655185001735])
BOOMINESS_COEFFICIENTS = np.array([43.67402696195865, -10.90054738389845, 26.836530575185435])

# Loudness in third-octave bands after ISO 532 B / DIN 45631 (Zwicker), as tabulated in the
# original (itself from the BASIC program of J. Acoust. Soc. Jpn (E) 12, 1 (1991)).
ZW_RANGES = np.array([45, 55, 65, 71, 80, 90, 100, 120])  # RAP: level ranges of the low-frequency corrections
ZW_LOW_CORRECTION = np.array([  # DLL: reduction of the 11 lowest third-octave levels within each range
    [-32, -24, -16, -10, -5, 0, -7, -3, 0, -2, 0],
    [-29, -22, -15, -10, -4, 0, -7, -2, 0, -2, 0],
    [-27, -19, -14, -9, -4, 0, -6, -2, 0, -2, 0],
    [-25, -17, -12, -9, -3, 0, -5, -2, 0, -2, 0],
    [-23, -16, -11, -7, -3, 0, -4, -1, 0, -1, 0],
    [-20, -14, -10, -6, -3, 0, -4, -1, 0, -1, 0],
    [-18, -12, -9, -6, -2, 0, -3, -1, 0, -1, 0],
    [-15, -10, -8, -4, -2, 0, -3, -1, 0, -1, 0]], dtype=float)
ZW_THRESHOLD_QUIET = np.array([30, 18, 12, 8, 7, 6, 5, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3], dtype=float)  # LTQ
ZW_EAR_TRANSMISSION = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.5, -1.6, -3.2, -5.4, -5.6, -4, -1.5, 2, 5, 12])  # A0
ZW_BAND_CORRECTION = np.array([-0.25, -0.6, -0.8, -0.8, -0.5, 0, 0.5, 1.1, 1.5, 1.7, 1.8, 1.8, 1.7, 1.6, 1.4, 1.2,
                               0.8, 0.5, 0, -0.5])  # DCB: third-octave vs critical band levels
ZW_UPPER_BARK = np.array([0.9, 1.8, 2.8, 3.5, 4.4, 5.4, 6.6, 7.9, 9.2, 10.6, 12.3, 13.8, 15.2, 16.7, 18.1, 19.3, 20.6,
                          21.8, 22.7, 23.6, 24])  # ZUP: upper limits of the approximated critical bands
ZW_SLOPE_RANGES = np.array([21.5, 18, 15.1, 11.5, 9, 6.1, 4.4, 3.1, 2.13, 1.36, 0.82, 0.42, 0.30, 0.22, 0.15, 0.10,
                            0.035, 0])  # RNS
ZW_UPPER_SLOPES = np.array([  # USL: steepness of the upper slopes (sone/Bark) per loudness range and band group
    [13.0, 8.2, 6.3, 5.5, 5.5, 5.5, 5.5, 5.5], [9.0, 7.5, 6.0, 5.1, 4.5, 4.5, 4.5, 4.5],
    [7.8, 6.7, 5.6, 4.9, 4.4, 3.9, 3.9, 3.9], [6.2, 5.4, 4.6, 4.0, 3.5, 3.2, 3.2, 3.2],
    [4.5, 3.8, 3.6, 3.2, 2.9, 2.7, 2.7, 2.7], [3.7, 3.0, 2.8, 2.35, 2.2, 2.2, 2.2, 2.2],
    [2.9, 2.3, 2.1, 1.9, 1.8, 1.7, 1.7, 1.7], [2.4, 1.7, 1.5, 1.35, 1.3, 1.3, 1.3, 1.3],
    [1.95, 1.45, 1.3, 1.15, 1.1, 1.1, 1.1, 1.1], [1.5, 1.2, 0.94, 0.86, 0.82, 0.82, 0.82, 0.82],
    [0.72, 0.67, 0.64, 0.63, 0.62, 0.62, 0.62, 0.62], [0.59, 0.53, 0.51, 0.50, 0.42, 0.42, 0.42, 0.42],
    [0.40, 0.33, 0.26, 0.24, 0.24, 0.22, 0.22, 0.22], [0.27, 0.21, 0.20, 0.18, 0.17, 0.17, 0.17, 0.17],
    [0.16, 0.15, 0.14, 0.12, 0.11, 0.11, 0.11, 0.11], [0.12, 0.11, 0.10, 0.08, 0.08, 0.08, 0.08, 0.08],
    [0.09, 0.08, 0.07, 0.06, 0.06, 0.06, 0.06, 0.05], [0.06, 0.05, 0.03, 0.02, 0.02, 0.02, 0.02, 0.02]])
N_BARK = 240  # specific loudness from 0.1 to 24 Bark in 0.1-Bark steps
REFERENCE_LEVEL_DB = 100.0  # the original's "Pref": full scale is taken as 100 dB SPL
RESAMPLER_FLOOR_PSD = 10 ** -19.5  # stop-band residue of the original's resampler above the input's Nyquist, 1/Hz
CHUNK = 8  # clips analysed together: enough to vectorise; more would make each temporary array tens of MB,
# fresh memory from the operating system every batch, whose page faults cost more than the work itself


def audio_commons_features(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, list[str]]:
    """The seven Audio Commons timbral features of a batch of mono clips.

    audio: (B, n_samples) float (or (n_samples,) for one clip), any scale, at ``sample_rate`` Hz.
    Returns features (B, 7) float64 in ``AC_FEATURES`` order, the unclipped outputs of the
    original regression models (roughly 0-100), and one reason string per clip: ``""`` when every
    feature is finite, else ``"ac_x: why; ac_y: why"`` naming the features left NaN.
    """
    audio = np.atleast_2d(np.asarray(audio))
    if audio.dtype not in (np.float32, np.float64):
        audio = audio.astype(np.float64)
    n_clips = len(audio)
    features = np.full((n_clips, len(AC_FEATURES)), np.nan)
    notes = [dict() for _ in range(n_clips)]
    finite = np.isfinite(audio).all(axis=1)
    usable = finite & (np.abs(audio).max(axis=1, initial=0.0) > 0)
    for i in np.flatnonzero(~usable):
        why = "non-finite samples" if not finite[i] else "silent clip"
        notes[i].update({name: why for name in AC_FEATURES})
    clips = np.flatnonzero(usable)
    for start in range(0, clips.size, CHUNK):  # a few clips at a time: see CHUNK
        group = clips[start : start + CHUNK]
        features[group], clip_notes = _analyse(audio[group], int(sample_rate))
        for i, note in zip(group, clip_notes):
            notes[i].update(note)
    bad = ~np.isfinite(features)
    for i, j in zip(*np.nonzero(bad)):
        notes[i].setdefault(AC_FEATURES[j], "undefined for this clip")
    features[bad] = np.nan
    reasons = ["; ".join(f"{name}: {note[name]}" for name in AC_FEATURES if name in note) for note in notes]
    return features, reasons


def _analyse(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, list[dict]]:
    """Features of non-silent, finite clips; notes say why a value is NaN."""
    setup = _setup(sample_rate, max(audio.shape[1], _min_samples(sample_rate)))
    gain = _loudness_normalisation_gain(audio, setup)
    x = np.zeros((len(audio), setup.n_samples), dtype=np.float32)  # shorter clips are zero-padded to one frame
    np.multiply(audio, gain[:, None], out=x[:, : audio.shape[1]], casting="unsafe")  # in float64, then rounded
    notes = [dict() for _ in range(len(x))]
    analysis = _SharedAnalysis(x, setup)
    features = np.column_stack([
        feature(analysis, notes) for feature in (_hardness, _depth, _brightness, _roughness, _warmth, _sharpness,
                                                 _boominess)
    ])
    return features, notes


# ----------------------------------------------------------------------------------------------
# Set-up per sample rate: lengths, windows, filter responses and filter banks, designed once.


def _min_samples(sample_rate: int) -> int:
    return _Setup.frame_length(sample_rate)


class _Setup:
    """Everything that depends only on the sample rate and clip length (cached)."""

    @staticmethod
    def analysis_rate(sample_rate: int) -> int:
        return max(sample_rate, ORIGINAL_RATE)

    @staticmethod
    def frame_length(sample_rate: int) -> int:
        """4096 samples at the original's rate, as a fast FFT length divisible by 4."""
        target = 4 * math.ceil(4096 * sample_rate / _Setup.analysis_rate(sample_rate) / 4)
        while scipy.fft.next_fast_len(target, real=True) != target:
            target += 4
        return target

    def __init__(self, sample_rate: int, n_samples: int):
        fs = self.fs = sample_rate
        self.analysis_fs = self.analysis_rate(fs)
        self.scale = fs / self.analysis_fs  # samples here per sample of the original
        self.n_samples = n = n_samples

        # Rectangular frames of 4096 original samples every 1024 (depth, hardness bandwidth).
        self.frame = self.frame_length(fs)
        self.hop = self.frame // 4
        self.lead_frames = 3  # frames starting before the clip: the hardness analysis pads the clip
        self.n_frames = n // self.hop
        self.freqs = np.fft.rfftfreq(self.frame, 1 / fs)
        self.resampler_power = _resampler_power_response(fs, self.freqs)
        self.highpass_20 = _butterworth_power(20, "high", self.freqs, fs) * self.resampler_power
        self.lowpass_500 = _butterworth_power(500, "low", self.freqs, fs)
        self.lowpass_2000 = _butterworth_power(2000, "low", self.freqs, fs)
        self.one_sided = np.r_[1.0, 2.0 * np.ones(self.freqs.size - 2), 1.0]
        hamming = scipy.signal.get_window("hamming", self.frame)
        self.depth_power_scale = self.one_sided / hamming.sum() ** 2 * self.highpass_20  # scipy's 'spectrum' scaling
        self.bandwidth_scale = np.sqrt(self.resampler_power / (fs * self.frame))  # 'density' magnitude, boxcar

        # Onset analysis: librosa's onset strength (2048-point Hann STFT, hop 512) at the same durations.
        self.onset_hop = self.samples(512)
        self.onset_fft = scipy.fft.next_fast_len(4 * self.onset_hop, real=True)
        self.hardness_pad = 8 * self.onset_hop  # the original prepends 4097 zeros before hardness onsets
        self.onset_frames_hardness = 1 + (n + self.hardness_pad) // self.onset_hop
        self.onset_window = scipy.signal.get_window("hann", self.onset_fft).astype(np.float32)
        original_window_sum = scipy.signal.get_window("hann", 2048).sum()
        self.mel_first, self.mel_weights = _onset_mel_bank(fs, self.onset_fft, self.analysis_fs)
        self.mel_power_scale = (original_window_sum / self.onset_window.sum()) ** 2
        self.envelope_hold = math.ceil(0.01 * fs)
        # Brightness from the same (2048-point at 44.1 kHz) frames: filter responses on their bins.
        self.onset_freqs = np.fft.rfftfreq(self.onset_fft, 1 / fs)
        brightness_base = _butterworth_power(20, "high", self.onset_freqs, fs)
        brightness_base *= _resampler_power_response(fs, self.onset_freqs)
        self.brightness_weights = np.stack([
            brightness_base,
            brightness_base * _butterworth_power(2000, "high", self.onset_freqs, fs),
            brightness_base * _butterworth_power(100, "high", self.onset_freqs, fs),
            brightness_base * _butterworth_power(100, "high", self.onset_freqs, fs) * self.onset_freqs,
        ], axis=1)

        # Loudness frames: 4096 original samples each, aligned with the original's; band power gains
        # on the bins of their twice zero-padded and their Hamming-windowed spectra, each weighing 1/2.
        original_length = math.ceil(n / self.scale)
        self.n_loudness_frames = original_length // 4096 + 1  # the original always pads one frame more
        self.loudness_starts = np.round(np.arange(self.n_loudness_frames) * 4096 * self.scale).astype(int)
        self.loudness_window = scipy.signal.get_window("hamming", self.frame).astype(np.float32)
        padded_freqs = np.fft.rfftfreq(2 * self.frame, 1 / fs)
        self.loudness_one_sided = np.r_[1.0, 2.0 * np.ones(padded_freqs.size - 2), 1.0].astype(np.float32)
        steady = []
        for freqs, scale in ((padded_freqs, 1 / (2 * self.frame * self.frame)),
                             (self.freqs, 1 / (self.frame * (self.loudness_window.astype(float) ** 2).sum()))):
            one_sided = np.r_[1.0, 2.0 * np.ones(freqs.size - 2), 1.0]
            gains = _third_octave_power_weights(freqs, self.analysis_fs) * _resampler_power_response(fs, freqs)[:, None]
            steady.append(gains * (one_sided * scale / 2)[:, None])
        factor = _third_octave_transient_factor(self, tuple(steady))
        self.band_weights = tuple((gains * factor).astype(np.float32) for gains in steady)

        # Roughness: 50-ms Hamming frames, half overlapping, zero-padded FFT.
        self.rough_frame = int(fs * 0.05)
        self.rough_pad = self.samples(512)
        self.rough_fft = scipy.fft.next_fast_len(self.samples(2 ** (int(np.log2(int(self.analysis_fs * 0.05))) + 1)))
        self.rough_window = np.hamming(self.rough_frame + 2)[1:-1].astype(np.float32)
        original_frame = int(self.analysis_fs * 0.05)
        self.rough_magnitude_scale = np.hamming(original_frame + 2)[1:-1].sum() / self.rough_window.sum()

        # Warmth: summed Tukey-windowed PSD of 8192-sample frames, extended to the original's Nyquist.
        self.warm_frame = self.samples(8192)
        self.warm_fft = scipy.fft.next_fast_len(self.warm_frame, real=True)
        warm_bin = fs / self.warm_fft
        self.warm_freqs = np.arange(int(self.analysis_fs / 2 / warm_bin) + 1) * warm_bin
        self.warm_resampler_power = _resampler_power_response(fs, self.warm_freqs[: self.warm_fft // 2 + 1])

    def samples(self, original_samples: float) -> int:
        """A length of ``original_samples`` at the original's rate, in samples at this rate."""
        return int(round(original_samples * self.scale))


@functools.lru_cache(maxsize=8)
def _setup(sample_rate: int, n_samples: int) -> _Setup:
    return _Setup(sample_rate, n_samples)


def _resample_to_original_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """(n, samples) resampled to 44.1 kHz as the original resamples (librosa's default: soxr, HQ)."""
    import soxr  # librosa's resampling engine

    return soxr.resample(np.ascontiguousarray(audio.T), sample_rate, ORIGINAL_RATE, quality="HQ").T


def _butterworth_power(cutoff: float, kind: str, freqs: np.ndarray, sample_rate: int) -> np.ndarray:
    """Power response of the original's 2nd-order Butterworth filter run three times."""
    b, a = scipy.signal.butter(2, cutoff / (sample_rate / 2), kind)
    return np.abs(scipy.signal.freqz(b, a, worN=freqs, fs=sample_rate)[1]) ** 6


def _resampler_power_response(sample_rate: int, freqs: np.ndarray) -> np.ndarray:
    """Power response of the original's resampling to 44.1 kHz (librosa/soxr), 1 when none."""
    if sample_rate >= ORIGINAL_RATE:
        return np.ones_like(freqs)
    impulse = np.zeros((1, 4096))
    impulse[0, 2048] = 1.0
    response = _resample_to_original_rate(impulse, sample_rate)[0]
    spectrum = np.abs(np.fft.rfft(response, 1 << 16))
    grid = np.fft.rfftfreq(1 << 16, 1 / ORIGINAL_RATE)
    power = np.interp(freqs, grid, spectrum) ** 2
    return power / power[0]


def _onset_mel_bank(sample_rate: int, n_fft: int, analysis_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """librosa's 128-band Slaney mel bank of the original (0 Hz to its Nyquist), its non-empty bands
    as the first bin of each (bands,) and the weights on the bins from there (bands, widest band)
    float32: each band is a triangle over a few neighbouring bins."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bands above this rate's Nyquist are empty, as in the original
        bank = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=128, fmin=0.0, fmax=analysis_rate / 2)
    bank = bank[bank.any(axis=1)]  # empty bands rise by 0 dB everywhere: only their count matters
    first = (bank != 0).argmax(axis=1)
    width = int(max(np.flatnonzero(row)[-1] + 1 - start for row, start in zip(bank, first)))
    weights = np.zeros((len(bank), width), dtype=np.float32)
    for band, (row, start) in enumerate(zip(bank, first)):
        taps = row[start : start + width]
        weights[band, : taps.size] = taps
    return first.astype(np.int64), weights


def _third_octave_power_weights(freqs: np.ndarray, rate: int) -> np.ndarray:
    """(n_freqs, 28) power gains of the original's third-octave filter bank (25 Hz to 12.5 kHz).

    The original filters the four top bands directly and the others after halving the sample rate
    up to eight times (2nd-order Chebyshev anti-aliasing filter, then every other sample), reusing
    the filters of the top octave. A component at ``f`` reaches a low band through every filter and
    fold of that chain; its power gain is the product of their power responses.
    """
    mids = 1000 * 2 ** (np.arange(-16, 12) / 3)

    def band_power(fc: float, f: np.ndarray) -> np.ndarray:
        low, high = fc * 2 ** (-1 / 6) / (rate / 2), min(fc * 2 ** (1 / 6) / (rate / 2), 0.9999999999)
        sos = scipy.signal.butter(4, [low, high], "bandpass", output="sos")
        return np.abs(scipy.signal.sosfreqz(sos, worN=f, fs=rate)[1]) ** 2

    weights = np.zeros((freqs.size, mids.size))
    for band in range(24, 28):
        weights[:, band] = band_power(mids[band], freqs)
    anti_alias = scipy.signal.cheby1(2, 0.1, 0.4, output="sos")
    folded, gain, stage_rate = freqs.astype(float), np.ones(freqs.size), float(rate)
    for stage in range(1, 9):
        gain = gain * np.abs(scipy.signal.sosfreqz(anti_alias, worN=folded, fs=stage_rate)[1]) ** 2
        stage_rate /= 2
        folded = np.mod(folded, stage_rate)
        folded = np.where(folded > stage_rate / 2, stage_rate - folded, folded)
        for offset, top_band in enumerate((26, 25, 24)):
            band = 23 - 3 * (stage - 1) - offset
            weights[:, band] = gain * band_power(mids[top_band], folded * 2**stage)
    return weights


def _frame_band_powers(frames: np.ndarray, setup: _Setup, weights: tuple[np.ndarray, np.ndarray]
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(F, 28) third-octave mean-square powers of frames (F, frame), as the original's filters see
    them, and (F,) the frames' mean squares.

    The original filters each frame from a zero state, so the step at the frame's start rings
    through every band; the end of the frame is cut off. A periodogram of the zero-padded frame
    counts the steps at both ends and a Hamming-windowed one counts neither, so their mean counts
    about one, as the original does. ``weights``: the band power gains on the bins of each.
    """
    band_power = np.empty((len(frames), weights[0].shape[1]), dtype=np.result_type(frames, weights[0]))
    mean_square = np.empty(len(frames), dtype=band_power.dtype)
    for chunk, spectra in windowed_spectra(frames, None, 2 * setup.frame):
        padded = squared_magnitude(spectra)
        mean_square[chunk] = padded @ setup.loudness_one_sided / (2 * setup.frame * setup.frame)
        band_power[chunk] = padded @ weights[0]
        # the frame's own spectrum is every other bin of the zero-padded one: window it there
        band_power[chunk] += cosine_window_power(spectra[:, ::2], setup.frame, 0.54, 0.46) @ weights[1]
    return band_power, mean_square


def _third_octave_powers_by_filtering(frames: np.ndarray, rate: float) -> np.ndarray:
    """(F, 28) mean-square outputs of the original's third-octave filter bank run on each frame
    (zero initial state, octave-by-octave decimation). Used once per sample rate, to calibrate."""
    mids = 1000 * 2 ** (np.arange(-16, 12) / 3)

    def design(fc: float):
        edges = [fc * 2 ** (-1 / 6) / (rate / 2), min(fc * 2 ** (1 / 6) / (rate / 2), 0.9999999999)]
        return scipy.signal.butter(4, edges, "bandpass")

    powers = np.zeros((len(frames), mids.size))
    for band in range(24, 28):
        powers[:, band] = (scipy.signal.lfilter(*design(mids[band]), frames, axis=1) ** 2).mean(axis=1)
    anti_alias = scipy.signal.cheby1(2, 0.1, 0.4)
    signal = frames
    for stage in range(1, 9):
        signal = scipy.signal.lfilter(*anti_alias, signal, axis=1)[:, 1::2]
        for offset, top_band in enumerate((26, 25, 24)):
            output = scipy.signal.lfilter(*design(mids[top_band]), signal, axis=1)
            powers[:, 23 - 3 * (stage - 1) - offset] = (output**2).mean(axis=1)
    return powers


def _third_octave_transient_factor(setup: _Setup, steady_weights: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(28,) ratio of the original's band powers to the steady-state estimate, on white noise.

    The low bands are computed from a few dozen samples after decimation, so the filters' build-up
    takes a large share of each frame (down to -20 dB at 25 Hz); measured once by running the
    original's filter bank on noise (resampled as the original would) and the estimate alongside.
    """
    n_frames, length = 64, 4096
    noise = np.random.default_rng(0).standard_normal(math.ceil((n_frames + 1) * length * setup.scale))
    at_analysis_rate = noise
    if setup.fs < setup.analysis_fs:
        at_analysis_rate = _resample_to_original_rate(noise[None], setup.fs)[0]
    original = _third_octave_powers_by_filtering(at_analysis_rate[: n_frames * length].reshape(n_frames, length),
                                                 setup.analysis_fs).sum(axis=0)
    starts = np.round(np.arange(n_frames) * length * setup.scale).astype(int)
    frames = noise[starts[:, None] + np.arange(setup.frame)].astype(np.float32)
    estimate = _frame_band_powers(frames, setup, steady_weights)[0].sum(axis=0)
    return np.where(estimate > 0, original / np.where(estimate > 0, estimate, 1.0), 1.0)


# ----------------------------------------------------------------------------------------------
# Loudness normalisation (pyloudnorm's BS.1770 integrated loudness, as the original).


def _k_weighting(sample_rate: int) -> np.ndarray:
    """BS.1770 K-weighting as pyloudnorm designs it (RBJ cookbook biquads), as second-order sections."""

    def biquad(gain_db: float, q: float, fc: float, kind: str) -> np.ndarray:
        a_gain = 10 ** (gain_db / 40)
        w0 = 2 * np.pi * fc / sample_rate
        alpha = np.sin(w0) / (2 * q)
        cos = np.cos(w0)
        if kind == "high_shelf":
            root = 2 * np.sqrt(a_gain) * alpha
            b = a_gain * np.array([(a_gain + 1) + (a_gain - 1) * cos + root, -2 * ((a_gain - 1) + (a_gain + 1) * cos),
                                   (a_gain + 1) + (a_gain - 1) * cos - root])
            a = np.array([(a_gain + 1) - (a_gain - 1) * cos + root, 2 * ((a_gain - 1) - (a_gain + 1) * cos),
                          (a_gain + 1) - (a_gain - 1) * cos - root])
        else:
            b = np.array([(1 + cos) / 2, -(1 + cos), (1 + cos) / 2])
            a = np.array([1 + alpha, -2 * cos, 1 - alpha])
        return np.r_[b / a[0], a / a[0]]

    return np.stack([biquad(4.0, 1 / np.sqrt(2), 1500.0, "high_shelf"), biquad(0.0, 0.5, 38.0, "high_pass")])


def _loudness_normalisation_gain(x: np.ndarray, setup: _Setup) -> np.ndarray:
    """Gain bringing each clip to -24 LUFS integrated loudness, then its peak to at most 1.

    Integrated loudness is pyloudnorm's: K-weighting, 400-ms blocks every 100 ms, an absolute
    gate at -70 LUFS and a relative gate 10 LU below the mean of the blocks above it. When no
    block passes the absolute gate (quiet clips, where the original fails), only the relative gate
    is applied: the loudness the clip would have if amplified until its blocks pass the gate.
    """
    fs = setup.fs
    block = 0.4
    n = max(setup.n_samples, int(fs * block))  # the original zero-pads clips shorter than one block
    n_blocks = int(np.round((n / fs - block) / (block * 0.25))) + 1
    j = np.arange(n_blocks)
    lower = (block * (j * 0.25) * fs).astype(int)
    upper = np.minimum((block * (j * 0.25 + 1) * fs).astype(int), n)
    step = lower[1] - lower[0] if n_blocks > 1 else upper[0]
    sos = _k_weighting(fs)
    if np.array_equal(lower, j * step) and np.array_equal(upper, lower + 4 * step):  # blocks of 4 steps
        steps = ac_loops.filtered_energy(x, sos, setup.n_samples, step * np.arange(n_blocks + 4))
        z = (steps[:, :-3] + steps[:, 1:-2] + steps[:, 2:-1] + steps[:, 3:]) / (block * fs)
    else:
        bounds = np.unique(np.r_[0, lower, upper])
        energy = np.zeros((len(x), bounds.size))
        np.cumsum(ac_loops.filtered_energy(x, sos, setup.n_samples, bounds), axis=1, out=energy[:, 1:])
        z = (energy[:, np.searchsorted(bounds, upper)] - energy[:, np.searchsorted(bounds, lower)]) / (block * fs)
    with np.errstate(divide="ignore"):
        block_loudness = -0.691 + 10 * np.log10(z)

    def gated_loudness(first_gate: np.ndarray, second_gate: np.ndarray) -> np.ndarray:
        mean = np.where(first_gate, z, 0).sum(axis=1) / np.maximum(first_gate.sum(axis=1), 1)
        with np.errstate(divide="ignore"):
            relative_gate = -0.691 + 10 * np.log10(mean) - 10
        passed = second_gate & (block_loudness > relative_gate[:, None])
        mean = np.where(passed, z, 0).sum(axis=1) / np.maximum(passed.sum(axis=1), 1)
        with np.errstate(divide="ignore"):
            return -0.691 + 10 * np.log10(mean)

    absolute = gated_loudness(block_loudness >= -70, block_loudness > -70)
    relative_only = gated_loudness(z > 0, z > 0)
    loudness = np.where((block_loudness >= -70).any(axis=1), absolute, relative_only)
    gain = 10 ** ((TARGET_LOUDNESS - loudness) / 20)
    peak = np.abs(x).max(axis=1) * gain
    return gain / np.maximum(peak, 1.0)


# ----------------------------------------------------------------------------------------------
# Representations shared by several features, computed once per batch.


class _SharedAnalysis:
    """Spectra, envelopes, onsets and specific loudness of loudness-normalised clips (B, n)."""

    def __init__(self, x: np.ndarray, setup: _Setup):
        self.x = x = np.asarray(x, dtype=np.float32)
        self.setup = setup
        self.peak = np.abs(x).max(axis=1)
        self.boxcar_magnitude, self.depth_power = _boxcar_spectra(x, setup)
        self.onset_power = _onset_power(x, setup)
        self.strength_padded, self.strength = _onset_strength(self.onset_power, setup)
        self.envelope, self.envelope_padded, self.envelope_depth = _hold_decay_envelopes(x, self.peak, setup)
        raw_padded = _raw_onsets(self.strength_padded, setup)
        raw = _raw_onsets(self.strength, setup)
        long_look_back = setup.samples(4096)
        self.onsets_hardness = _calculate_onsets(raw_padded, self.envelope_padded, self.strength_padded, setup,
                                                 long_look_back)
        self.onsets_warmth = _calculate_onsets(raw, self.envelope, self.strength, setup, long_look_back)
        self.onsets_depth = _calculate_onsets(raw, self.envelope_depth, self.strength, setup, setup.samples(512))
        padded = np.zeros((len(x), setup.loudness_starts[-1] + setup.frame), dtype=np.float32)
        padded[:, : x.shape[1]] = x
        frames = _frames_at(padded, setup.loudness_starts, setup.frame)
        band_power, mean_square = _frame_band_powers(frames.reshape(-1, setup.frame), setup, setup.band_weights)
        self.loudness_frame_rms = np.sqrt(mean_square.astype(np.float64)).reshape(len(x), -1)
        with np.errstate(divide="ignore"):
            levels = 10 * np.log10(band_power) + REFERENCE_LEVEL_DB
        specific, total = _zwicker_loudness(levels)
        self.specific_loudness = specific.reshape(len(x), -1, N_BARK)  # (B, frames, 240) sone/Bark
        self.total_loudness = total.reshape(len(x), -1)  # (B, frames) sone

    def bark_weighted_loudness(self, low: int, high: int) -> np.ndarray:
        """(B, frames) specific loudness weighted over Bark bands [low, high) as the original does."""
        return self.specific_loudness @ _bark_band_weights(low, high)

    def rms_weighted(self, values: np.ndarray, power: float = 1.0) -> np.ndarray:
        """Mean over loudness frames weighted by frame RMS ** power (NaN when all weights are 0)."""
        weights = self.loudness_frame_rms**power
        with np.errstate(invalid="ignore", divide="ignore"):
            return (values * weights).sum(axis=1) / weights.sum(axis=1)


def _frames_at(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(B, len(starts), length) contiguous frames of clips x (B, n) starting at ``starts``
    (x[:, starts[:, None] + arange(length)] would put the clip axis innermost in memory, and
    gathering element by element is slow: frames are copied as slices)."""
    frames = np.empty((len(x), len(starts), length), dtype=x.dtype)
    for i, start in enumerate(starts):
        frames[:, i] = x[:, start : start + length]
    return frames


def _boxcar_spectra(x: np.ndarray, setup: _Setup) -> tuple[np.ndarray, np.ndarray]:
    """Spectra of rectangular frames, hop = frame / 4, frame m starting at (m - lead_frames) * hop
    (the clip zero-padded on both sides), as the two features use them: (B, n_frames, bins)
    float32 magnitudes (hardness' bandwidth) and (B, depth frames, bins) float32 power under a
    Hamming window, mean removed, of every other frame that lies within the clip (depth)."""
    lead = setup.lead_frames * setup.hop
    length = max((setup.n_frames - 1) * setup.hop + setup.frame, lead + x.shape[1])
    padded = np.zeros((len(x), length), dtype=np.float32)
    padded[:, lead : lead + x.shape[1]] = x
    frames = np.lib.stride_tricks.sliding_window_view(padded, setup.frame, axis=1)[:, :: setup.hop]
    depth_frames = slice(setup.lead_frames, setup.lead_frames + (setup.n_samples - setup.frame) // setup.hop + 1, 2)
    boxcar_magnitude = np.empty((len(x), setup.n_frames, setup.freqs.size), dtype=np.float32)
    hamming_power = np.empty((len(x), len(range(setup.n_frames)[depth_frames]), setup.freqs.size), dtype=np.float32)
    for chunk, spectra in windowed_spectra(frames[:, : setup.n_frames], None, setup.frame):
        magnitude(spectra, out=boxcar_magnitude[chunk])
        _hamming_power_from_boxcar(spectra[:, depth_frames], hamming_power[chunk])
    return boxcar_magnitude, hamming_power


def _hamming_power_from_boxcar(spectra: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Power (..., bins) float32 of the same frames as complex64 ``spectra`` (..., bins), mean
    removed (scipy's detrend='constant'), under a periodic Hamming window: a 3-tap convolution
    across bins (compiled: ac_loops.hamming_power_from_boxcar)."""
    n_bins = spectra.shape[-1]
    ac_loops.hamming_power_from_boxcar(np.ascontiguousarray(spectra).reshape(-1, n_bins), out.reshape(-1, n_bins))
    return out


def _onset_power(x: np.ndarray, setup: _Setup) -> np.ndarray:
    """(B, frames, bins) power of librosa's centred Hann STFT of the clip after the hardness padding."""
    half = setup.onset_fft // 2
    padded = np.zeros((len(x), setup.hardness_pad + x.shape[1] + 2 * half + setup.onset_hop), dtype=np.float32)
    padded[:, setup.hardness_pad + half : setup.hardness_pad + half + x.shape[1]] = x
    frames = np.lib.stride_tricks.sliding_window_view(padded, setup.onset_fft, axis=1)[:, :: setup.onset_hop]
    power = np.empty((len(x), setup.onset_frames_hardness, setup.onset_fft // 2 + 1), dtype=np.float32)
    for chunk, spectra in windowed_spectra(frames[:, : setup.onset_frames_hardness], None, setup.onset_fft):
        cosine_window_power(spectra, setup.onset_fft, 0.5, 0.5, out=power[chunk])  # the Hann window, across bins
    return power


def _onset_strength(power: np.ndarray, setup: _Setup) -> tuple[np.ndarray, np.ndarray]:
    """librosa.onset.onset_strength (128-band mel power in dB floored 80 dB below the clip's
    maximum, mean positive rise over the bands, shifted 3 frames) of the onset STFT power
    (B, frames, bins): (B, frames) float64 of the clip after the hardness zero-padding, and
    (B, frames - pad frames) of the clip itself (the same rises, the first 3 frames 0)."""
    padded = ac_loops.onset_strength(power, setup.mel_first, setup.mel_weights, np.float32(setup.mel_power_scale), 128)
    strength = padded[:, setup.hardness_pad // setup.onset_hop :].copy()
    strength[:, :3] = 0.0
    return padded, strength


def _hold_decay_envelopes(x: np.ndarray, peak: np.ndarray, setup: _Setup) -> tuple[np.ndarray, ...]:
    """The original's sample-and-hold envelopes of clips x (B, n) float32: each peak of |x| is held
    10 ms, then falls linearly by the clip's peak every 0.1 s (onsets, hardness) or 0.2 s (depth,
    there divided by the peak), unless |x| rises above it.

    Returns the 0.1-s envelope (B, n), the same after the hardness zero-padding (B, pad + n) (the
    former is a view into the latter) and the 0.2-s one divided by the peak (B, n), float32.
    Computed as max over m <= n of (|x[m]| - slope * max(0, n - m - hold)), the running maximum of
    the held peaks plus a ramp, minus the ramp (compiled: ac_loops.hold_decay_envelopes).
    """
    slopes = [(peak / (decay_time * setup.fs)).astype(np.float32) for decay_time in (0.1, 0.2)]
    fast, slow = ac_loops.hold_decay_envelopes(np.abs(x), *slopes, setup.envelope_hold)
    padded = np.zeros((len(x), setup.hardness_pad + x.shape[1]), dtype=np.float32)
    padded[:, setup.hardness_pad :] = fast
    slow /= peak[:, None]
    return padded[:, setup.hardness_pad :], padded, slow


def _raw_onsets(strength: np.ndarray, setup: _Setup) -> list[np.ndarray]:
    """librosa.onset.onset_detect(backtrack=True, units='samples') of each clip, from its onset strength."""
    envelope = strength - strength.min(axis=1, keepdims=True)
    envelope /= envelope.max(axis=1, keepdims=True) + np.finfo(envelope.dtype).tiny
    rate, hop = setup.analysis_fs, 512  # librosa's peak-picking windows at the original's frame rate
    picked = librosa.util.peak_pick(envelope, pre_max=int(0.03 * rate // hop), post_max=int(0.00 * rate // hop + 1),
                                    pre_avg=int(0.10 * rate // hop), post_avg=int(0.10 * rate // hop + 1), delta=0.07,
                                    wait=int(0.03 * rate // hop), sparse=False, axis=-1)
    minimum = np.zeros_like(picked)
    minimum[:, 0] = True
    minimum[:, 1:-1] = (envelope[:, 1:-1] <= envelope[:, :-2]) & (envelope[:, 1:-1] < envelope[:, 2:])
    last_minimum = np.maximum.accumulate(np.where(minimum, np.arange(envelope.shape[1]), 0), axis=1)
    usable = envelope.any(axis=1) & np.isfinite(envelope).all(axis=1)
    return [last_minimum[b, picked[b]] * setup.onset_hop if usable[b] else np.zeros(0, int)
            for b in range(len(strength))]


def _walk_back(envelope: np.ndarray, clip: np.ndarray, start: np.ndarray, threshold: np.ndarray, setup: _Setup,
               min_index: int) -> np.ndarray:
    """The original's return_loop for many onsets: from each detected onset ``start`` (samples) in
    ``envelope[clip]``, walk back to where the attack starts (look back 20 ms, ``threshold``
    hysteresis over 300 ms). Returns sample indices, 0 when none is found, -1 where the original
    fails (no samples to look back on). Compiled: ac_loops.walk_back."""
    look_back = int(20 * 0.001 * setup.fs)
    hysteresis = int(300 * setup.fs * 0.001)
    # contiguous float32 or float64 rows only: each layout and type would be compiled anew
    return ac_loops.walk_back(np.ascontiguousarray(envelope), np.asarray(clip, dtype=np.int64),
                              np.asarray(start, dtype=np.int64),
                              np.asarray(threshold, dtype=np.float64), look_back, hysteresis, min_index)


def _calculate_onsets(raw: list[np.ndarray], envelope: np.ndarray, strength: np.ndarray, setup: _Setup,
                      min_index: int) -> list[list[int] | None]:
    """The original's calculate_onsets for each clip: detected onsets walked back to their attack
    starts, then those in noise, too close (< 100 ms) or too weak (onset strength < 3) dropped.
    Returns sorted sample indices ([0] when none), or None where the original fails."""
    n = envelope.shape[1]
    guard = setup.samples(511)  # later onsets this close to the end are skipped
    span = envelope.max(axis=1) - envelope.min(axis=1)
    pairs = [(b, k, int(onset)) for b, onsets in enumerate(raw) for k, onset in enumerate(onsets)
             if onset > 0 and (k == 0 or onset + guard < n)]
    walked = {}
    if pairs:
        clip, _, start = map(np.array, zip(*pairs))
        ends = _walk_back(envelope, clip, start, 0.1 * span[clip], setup, min_index)
        walked = {(b, k): int(end) for (b, k, _), end in zip(pairs, ends)}
    separation = setup.fs * 0.001 * 100
    result = []
    for b, onsets in enumerate(raw):
        if len(onsets) == 0:
            result.append([0])
            continue
        corrected = [0 if onset == 0 else walked[b, k] for k, onset in enumerate(onsets)
                     if onset == 0 or (b, k) in walked]
        if -1 in corrected:
            result.append(None)
            continue
        corrected = [value for i, value in enumerate(corrected) if value != 0 or i == 0]
        corrected = list(dict.fromkeys(corrected))
        if len(corrected) > 1:
            corrected = _onsets_above_noise(corrected, envelope[b], 0.1 * span[b])
        corrected = _separated_onsets(corrected, separation)
        strong = _strong_onsets(corrected, strength[b], setup.onset_hop)
        result.append(None if strong is None else (sorted(strong) or [0]))
    return result


def _onsets_above_noise(onsets: list[int], envelope: np.ndarray, threshold: float) -> list[int]:
    """Drop onsets whose segment rises less than ``threshold`` before its peak (last to first)."""
    kept = list(onsets)
    for i in reversed(range(len(kept))):
        segment = envelope[kept[i] :] if i == len(kept) - 1 else envelope[kept[i] : kept[i + 1]]
        peak = int(np.argmax(segment)) if segment.size > 1 else 0
        if peak == 0 or segment[peak] - segment[:peak].min() < threshold:
            del kept[i]
    return kept


def _separated_onsets(onsets: list[int], separation: float) -> list[int]:
    """Drop onsets closer than ``separation`` samples to the previous one, favouring the earlier."""
    kept = list(onsets)
    for _ in range(len(kept)):  # the original repeats until stable (and loops forever if unsorted)
        if len(kept) < 2 or min(np.diff(kept)) >= separation:
            break
        close = {i + 1 for i in range(len(kept) - 1) if abs(kept[i + 1] - kept[i]) < separation}
        kept = [value for i, value in enumerate(kept) if i not in close]
    return kept


def _strong_onsets(onsets: list[int], strength: np.ndarray, hop: int) -> list[int] | None:
    """Keep onsets whose onset-strength segment peaks at 3 or more (None: empty segment, the original fails)."""
    frames = [value // hop for value in onsets]
    kept = []
    for i in reversed(range(len(onsets))):
        current = frames[i]
        segment = strength[current:] if current == frames[-1] else strength[current : frames[i + 1]]
        if segment.size == 0:
            return None
        if segment.max() < 3:
            del frames[i]
        else:
            kept.append(onsets[i])
    return kept


def _segments(onsets: list[int], scale: float = 1.0) -> list[tuple[int, int | None]]:
    """(start, end) of each onset's segment in units of ``scale`` samples; end None = to the end.

    As in the original, a segment whose start equals the last onset's runs to the end.
    """
    starts = [int(onset / scale) for onset in onsets]
    return [(s, None if s == starts[-1] else starts[i + 1]) for i, s in enumerate(starts)]


# ----------------------------------------------------------------------------------------------
# Specific loudness (Zwicker, ISO 532 B) per frame.


def _zwicker_loudness(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Third-octave levels (F, 28) dB -> specific loudness (F, 240) sone/Bark and loudness (F,) sone.

    The original's free-field procedure: low-frequency corrections and the three lowest critical
    bands from grouped third octaves, main loudness per critical band, then the masking slopes
    drawn band by band (a state machine, compiled: ac_loops.zwicker_slopes).
    """
    n_frames = len(levels)
    with np.errstate(invalid="ignore", over="ignore"):
        low = levels[:, :11]
        above = low[:, None, :] > (ZW_RANGES[:, None] - ZW_LOW_CORRECTION)[None]
        ranges = np.where(above[:, :7].all(axis=1), 7, np.argmin(above[:, :7], axis=1))
        intensity = 10 ** ((low + ZW_LOW_CORRECTION[ranges, np.arange(11)]) / 10)
        grouped = np.stack([intensity[:, :6].sum(1), intensity[:, 6:9].sum(1), intensity[:, 9:11].sum(1)], axis=1)
        with np.errstate(divide="ignore"):
            excitation = levels[:, 8:28].copy()
            excitation[:, :3] = np.where(grouped > 0, 10 * np.log10(grouped), 0.0)
        audible = excitation > ZW_THRESHOLD_QUIET
        level = excitation - ZW_EAR_TRANSMISSION - ZW_BAND_CORRECTION
        slope_factor = 0.0635 * 10 ** (0.025 * ZW_THRESHOLD_QUIET)
        core = slope_factor * ((0.75 + 0.25 * 10 ** (0.1 * (level - ZW_THRESHOLD_QUIET))) ** 0.25 - 1)
    main = np.zeros((n_frames, 21))
    main[:, :20] = np.where(audible, np.maximum(core, 0.0), 0.0)
    main[:, 0] *= np.minimum(1.0, 0.4 + 0.32 * main[:, 0] ** 0.2)

    value, total = ac_loops.zwicker_slopes(main, ZW_UPPER_BARK.astype(float), ZW_SLOPE_RANGES, ZW_UPPER_SLOPES)
    total = np.maximum(total, 0.0)
    total = np.where(total <= 16, np.floor(total * 1000 + 0.5) / 1000, np.floor(total * 100 + 0.05) / 100)
    return value, total


@functools.cache
def _bark_band_weights(low: int, high: int) -> np.ndarray:
    """The original's weighting of Bark bands [low, high) (its 'normal distribution', rescaled to 0..1)."""
    bands = np.arange(low, high)
    theta, centre = 0.01, (low + high) / 2.0
    shape = np.exp(-((bands - centre) ** 2.0) / 2.0 * theta**2.0)  # (sic) the original's exponent
    shape = (shape - shape.min()) / (shape - shape.min()).max()
    weights = np.zeros(N_BARK)
    weights[low:high] = shape
    return weights


# ----------------------------------------------------------------------------------------------
# Peak picking of the MIR toolbox (mirpeaks with a contrast threshold), row by row.


def _contrast_peaks(values: np.ndarray, contrast: float, levels: np.ndarray, freqs: np.ndarray):
    """Peaks of each row of ``values`` (F, n) as the original's detect_peaks finds them.

    Local maxima at or above ``contrast`` are scanned left to right; a candidate is kept when it
    stands ``contrast`` above the lowest points on both sides, neighbouring candidates without a
    deep enough notch between them merge into the highest. Positions and heights are refined by
    parabolic interpolation on ``levels`` (the unnormalised rows). Returns (row, index, value,
    level, freq) arrays of the peaks, in row order then frequency order.
    """
    n = values.shape[1]
    # float64 rows only (exact for float32 ones): each type would be compiled anew
    peak_rows, peak_index = ac_loops.contrast_peaks(np.ascontiguousarray(values, dtype=np.float64), contrast)
    peak_value = values[peak_rows, peak_index]
    inner = (peak_index > 0) & (peak_index < n - 1)  # the original interpolates away from the ends only
    centre = levels[peak_rows, peak_index].astype(np.float64)
    below = levels[peak_rows, np.where(inner, peak_index - 1, peak_index)]
    above = levels[peak_rows, np.where(inner, peak_index + 1, peak_index)]
    with np.errstate(invalid="ignore", divide="ignore"):
        offset = np.where(inner, (above - below) / (2 * (2 * centre - above - below)), 0.0)
    level = np.where(inner, centre - 0.25 * (below - above) * offset, centre)
    neighbour = freqs[np.clip(peak_index + np.where(offset >= 0, 1, -1), 0, n - 1)]
    freq = (1 - np.abs(offset)) * freqs[peak_index] + np.abs(offset) * neighbour
    return peak_rows, peak_index, peak_value, level, freq


# ----------------------------------------------------------------------------------------------
# The seven features.


def _regression(coefficients: np.ndarray, terms: dict[str, np.ndarray], notes: list[dict], feature: str) -> np.ndarray:
    """The original's linear model: sum of coefficient x term, plus the intercept (the last
    coefficient). A clip with a non-finite term gets NaN and a note naming that term."""
    values = np.array([np.broadcast_to(np.asarray(v, dtype=np.float64), (len(notes),)) for v in terms.values()])
    undefined = ~np.isfinite(values)
    for b in np.flatnonzero(undefined.any(axis=0)):
        notes[b].setdefault(feature, f"{list(terms)[int(np.argmax(undefined[:, b]))]} undefined")
    result = coefficients[:-1] @ np.where(undefined, 0.0, values) + coefficients[-1]
    return np.where(undefined.any(axis=0), np.nan, result)


def _hardness(a: _SharedAnalysis, notes: list[dict]) -> np.ndarray:
    """Hardness: bandwidth at the attack, attack spectral centroid, mid-band loudness, percussive
    energy ratio, onset strength and attack time, combined by the original's linear regression."""
    s = a.setup
    with np.errstate(divide="ignore", invalid="ignore"):
        midband = np.log10(a.rms_weighted(a.bark_weighted_loudness(70, 140)))
        percussive = np.log10(_percussive_ratio(a))
    bandwidth = _bandwidth_curve(a)
    padded_length = s.hardness_pad + s.n_samples
    bandwidth_window = int(0.1 * s.fs / s.hop)
    centroid_length = int(0.125 * s.fs)
    attack_segments = []  # (clip, start in the clip, length) of the attacks, for their spectral centroids
    metrics = []
    for b, onsets in enumerate(a.onsets_hardness):
        if onsets is None:
            notes[b]["ac_hardness"] = "onset detection failed"
            metrics.append(None)
            continue
        onsets = [0] if len(onsets) == 1 else onsets
        bw_onsets = [max(onset - s.hardness_pad, 0) for onset in onsets]
        attack_times, strengths, bandwidth_maxima, bandwidth_strengths = [], [], [], []
        failed = None
        for (start, end), (bw_start, bw_end) in zip(_segments(onsets), _segments(bw_onsets, s.hop)):
            segment = bandwidth[b, bw_start:bw_end]
            bandwidth_attack = None
            if segment.size and segment.max() > 0:
                bandwidth_attack = _attack_start(segment)
                if bandwidth_attack is not None:
                    tail = segment[bandwidth_attack:]
                    window = tail[:bandwidth_window] if tail.size > bandwidth_attack + bandwidth_window else tail
                    bandwidth_maxima.append(window.max())
            attack = _attack_time(a.envelope_padded[b, start:end], s)
            strength = a.strength_padded[b, start // s.onset_hop : None if end is None else end // s.onset_hop]
            if attack is None or strength.size == 0:
                failed = "no attack before the envelope peak" if attack is None else "empty onset segment"
                break
            attack_times.append(attack[0])
            strengths.append(strength.max())
            if bandwidth_attack is not None:
                bandwidth_strengths.append(strength.max())
            length = min(centroid_length, (padded_length if end is None else end) - start - attack[1])
            if length > s.samples(512):
                attack_segments.append((b, start + attack[1] - s.hardness_pad, length))
        if failed:
            notes[b]["ac_hardness"] = failed
            metrics.append(None)
            continue
        if bandwidth_maxima:
            weighted = np.average(bandwidth_maxima, weights=bandwidth_strengths)
            weighted = s.analysis_fs / 512.0 if weighted <= 512.0 else weighted
        else:
            weighted = s.analysis_fs / 512.0
        metrics.append((np.log10(weighted), np.mean(strengths), np.mean(attack_times)))
    centroids = _attack_centroids(a.x, attack_segments, s)
    log_bandwidth, mean_strength, attack_time, centroid = np.full((4, len(a.x)), np.nan)
    for b, values in enumerate(metrics):
        if values is not None:
            log_bandwidth[b], mean_strength[b], attack_time[b] = values
            clip_centroids = centroids.get(b, [])
            centroid[b] = max(np.mean(clip_centroids), 200.0) if clip_centroids else 200.0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = {"attack bandwidth": log_bandwidth, "attack centroid": np.log10(centroid),
                 "mid-band loudness": midband, "percussive ratio": percussive,
                 "onset strength": np.log10(mean_strength), "attack time": attack_time}
    return _regression(HARDNESS_COEFFICIENTS, terms, notes, "ac_hardness")


def _percussive_ratio(a: _SharedAnalysis) -> np.ndarray:
    """Share of percussive energy after harmonic/percussive separation (librosa's HPSS: median
    filters of 31 frames along time and 31 bins along frequency, soft masks of power 2).

    Every fourth STFT frame is used and each median is taken over 5 taps spread across the same
    span, which keeps what the median filter is for (removing features shorter than half the span)
    at a fraction of the cost. The ratio is the energy-weighted mean of RMS(P) / (RMS(P) + RMS(H)).
    """
    pad = a.setup.hardness_pad // a.setup.onset_hop
    # medians of magnitudes, squared, are medians of powers: +-16 frames of hop 512 at 44.1 kHz
    # (taps 2 sampled frames apart) and +-14 bins of 21.5 Hz (taps 7 bins apart)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ac_loops.percussive_ratio(a.onset_power[:, pad::4], 2, 7)


def _bandwidth_curve(a: _SharedAnalysis) -> np.ndarray:
    """(B, frames) bandwidth of the zero-padded clip: the highest bin above -75 dB (density
    magnitude, rectangular window) minus the bin where 5% of the magnitude sum is reached, for
    frames above 10% of the range of frame sums; frame 0 lies in the padding."""
    s = a.setup
    n_frames = s.n_samples // s.hop + 1
    n_bins = s.freqs.size
    magnitude = a.boxcar_magnitude * s.bandwidth_scale.astype(np.float32)
    magnitude[..., 0] = 0  # scipy's detrend='constant'
    block = 16  # the roll-on is searched block by block: a cumulative sum over bins is slow
    block_sums = np.cumsum(np.add.reduceat(magnitude, np.arange(0, n_bins, block), axis=-1), axis=-1)
    frame_sum = np.zeros((len(a.x), n_frames))
    frame_sum[:, 1:] = block_sums[..., -1]
    low, high = frame_sum.min(axis=1, keepdims=True), frame_sum.max(axis=1, keepdims=True)
    active = frame_sum[:, 1:] > 0.1 * (high - low) + low
    target = 0.05 * block_sums[..., -1:]
    first_block = np.minimum((block_sums < target).sum(axis=-1), block_sums.shape[-1] - 1)
    before = np.take_along_axis(block_sums, np.maximum(first_block - 1, 0)[..., None], axis=-1)[..., 0]
    before = np.where(first_block > 0, before, 0.0)
    index = first_block[..., None] * block + np.arange(block)
    inside = np.where(index < n_bins, np.take_along_axis(magnitude, np.minimum(index, n_bins - 1), axis=-1), 0.0)
    rollon = first_block * block + (np.cumsum(inside, axis=-1) + before[..., None] < target).sum(axis=-1)
    audible = magnitude >= 10 ** (-75 / 20)
    rolloff = n_bins - 1 - audible[..., ::-1].argmax(axis=-1)
    width = np.where(audible.any(axis=-1), s.freqs[rolloff] - s.freqs[np.minimum(rollon, n_bins - 1)], 0.0)
    bandwidth = np.zeros((len(a.x), n_frames))
    bandwidth[:, 1:] = np.where(active, width, 0.0)
    return bandwidth


def _attack_start(curve: np.ndarray) -> int | None:
    """Start of the rise to the curve's peak: first point above 20% of the range from the lowest point
    before the peak (the original's fixed-threshold attack); None when the peak comes first."""
    peak = int(np.argmax(curve))
    if peak == 0:
        return None
    before = curve[:peak]
    lowest = int(np.flatnonzero(before == before.min())[-1])
    rise = curve[lowest : peak + 1]
    return lowest + int(np.argmax(rise >= 0.2 * (rise.max() - rise.min()) + rise.min()))


def _attack_time(envelope: np.ndarray, s: _Setup) -> tuple[float, int] | None:
    """The original's minimum-effort attack time (log10 seconds, at most 0.1 s) of an envelope
    segment and the index where the attack starts; None when the envelope peaks at its start."""
    if envelope.size == 0:
        return None
    peak = int(np.argmax(envelope))
    if peak == 0:
        return None
    before = envelope[:peak]
    lowest = int(np.flatnonzero(before == before.min())[-1])
    rise = envelope[lowest : peak + 1]
    levels = np.linspace(0.1, 0.9, 9) * (rise.max() - rise.min()) + rise.min()
    crossing = np.searchsorted(np.maximum.accumulate(rise), levels, side="left")
    effort = np.diff(crossing)
    limit = 3 * effort.mean()
    first = int(np.argmax(effort <= limit))
    last = int(np.argmax(effort[first:] >= limit))
    last = (effort.size - first - 1 if last == 0 else last) + first
    start, end = crossing[first], crossing[last]
    if start == end:
        start, end = crossing[0], crossing[-1]
    seconds = 1 / s.analysis_fs if start == end else (end - start) / s.fs + 1 / s.analysis_fs
    if seconds > 0.1:
        seconds = (int(s.analysis_fs * 0.1) + 1) / s.analysis_fs
    return float(np.log10(seconds)), int(start + lowest)


def _attack_centroids(x: np.ndarray, segments: list[tuple[int, int, int]], s: _Setup) -> dict[int, list[float]]:
    """Magnitude-spectrum centroid above 20 Hz of each attack segment (rectangular window, FFT
    zero-padded to a power of 2), per clip.

    Computed at the original's rate: the segment (with a margin) is resampled as the original
    resamples the whole clip, then cut. The cut's leakage above the clip's own Nyquist frequency
    carries a good part of this magnitude-weighted centroid."""
    centroids: dict[int, list[float]] = {}
    margin = int(0.01 * s.fs)
    by_length: dict[int, list[tuple[int, int]]] = {}
    for clip, start, length in segments:
        by_length.setdefault(length, []).append((clip, start))
    padded = np.pad(x, ((0, 0), (margin + s.hardness_pad, margin + int(0.125 * s.fs))))
    for length, group in by_length.items():
        index = np.array([start for _, start in group])[:, None] + s.hardness_pad + np.arange(length + 2 * margin)
        audio = padded[np.array([clip for clip, _ in group])[:, None], index].astype(np.float64)
        original_length = int(round(length / s.scale))
        if s.fs < s.analysis_fs:
            offset = int(round(margin / s.scale))
            audio = _resample_to_original_rate(audio, s.fs)[:, offset : offset + original_length]
        else:
            audio = audio[:, margin : margin + length]
        n_fft = 1 << int(np.ceil(np.log2(audio.shape[1])))
        spectrum = np.abs(np.fft.rfft(audio, n_fft, axis=1))
        freqs = np.arange(spectrum.shape[1]) * (s.analysis_fs / (2.0 * (spectrum.shape[1] - 1)))
        spectrum, freqs = spectrum[:, freqs >= 20], freqs[freqs >= 20]
        weight = spectrum.sum(axis=1)
        for (clip, _), moment, total in zip(group, spectrum @ freqs, weight):
            if total > 0:
                centroids.setdefault(clip, []).append(float(moment / total))
    return centroids


def _depth(a: _SharedAnalysis, notes: list[dict]) -> np.ndarray:
    """Depth: low-frequency spectral centroid and energy ratio, note duration and pitch."""
    s = a.setup
    power = a.depth_power * s.depth_power_scale.astype(np.float32)
    power /= (a.peak.astype(np.float64) ** 2)[:, None, None].astype(np.float32)  # the original normalises to the peak
    total = power.sum(axis=-1, dtype=np.float64)
    audible = total > 10 ** (-60 / 20)
    weights = np.stack([s.lowpass_2000, s.lowpass_2000 * s.freqs, s.lowpass_500], axis=1).astype(np.float32)
    low_2000, moment, low_500 = np.moveaxis(power @ weights, -1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        low_centroid = np.minimum(np.where(audible, total * moment / low_2000, 0.0).sum(axis=1) / total.sum(axis=1),
                                  2000.0)
        low_ratio = np.where(audible, low_500, 0.0).sum(axis=1) / total.sum(axis=1)
    duration = _log_mean_duration(a, notes)
    pitch = _depth_pitch(power.sum(axis=1, dtype=np.float64), s.freqs)
    with np.errstate(invalid="ignore"):
        sigmoid = low_ratio**10 / (low_ratio**10 + 0.2)
    terms = {"low-pass centroid": low_centroid, "low-frequency ratio": low_ratio, "duration": duration,
             "pitch": pitch, "ratio x duration": low_ratio * duration, "sigmoid(ratio) x duration": sigmoid * duration}
    return _regression(DEPTH_COEFFICIENTS, terms, notes, "ac_depth")


def _log_mean_duration(a: _SharedAnalysis, notes: list[dict]) -> np.ndarray:
    """log10 of the mean time each onset's RMS envelope takes from its peak to fall below -40 dB."""
    s = a.setup
    step = s.samples(256)
    n = s.n_samples
    n_full = max(0, -(-(n - step) // step))
    rms = np.zeros((len(a.x), n_full + 1))
    squares = a.x**2
    rms[:, :n_full] = np.sqrt(squares[:, : n_full * step].reshape(len(a.x), n_full, step).mean(axis=2))
    rms[:, n_full] = np.sqrt(squares[:, n_full * step :].mean(axis=1))
    rms /= rms.max(axis=1, keepdims=True)
    result = np.full(len(a.x), np.nan)
    for b, onsets in enumerate(a.onsets_depth):
        if onsets is None:
            notes[b]["ac_depth"] = "onset detection failed"
            continue
        durations = []
        for start, end in _segments(onsets, step):
            segment = rms[b, start:end]
            if segment.size == 0:
                break
            decay = segment[int(np.argmax(segment)) :]
            quiet = np.flatnonzero(decay < 0.01)
            durations.append((quiet[0] if quiet.size else decay.size) * step / s.fs)
        else:
            with np.errstate(divide="ignore"):
                result[b] = np.log10(np.mean(durations))
            continue
        notes[b]["ac_depth"] = "empty onset segment"
    return result


def _depth_pitch(spectrum: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """log10 of the lowest spectral peak (contrast 0.01 on the min-max normalised spectrum), 0 if the
    strongest peak is at 0 Hz."""
    low, high = spectrum.min(axis=1, keepdims=True), spectrum.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = (spectrum - low) / (high - low)
    rows, _, value, _, freq = _contrast_peaks(normalised, 0.01, normalised, freqs)
    result = np.full(len(spectrum), np.nan)
    if rows.size:
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        lowest = np.minimum.reduceat(freq, starts)
        strongest = np.lexsort((-value, rows))[starts]  # the original tests its highest peak's frequency
        with np.errstate(invalid="ignore", divide="ignore"):
            result[rows[starts]] = np.where(freq[strongest] > 0, np.log10(lowest), 0.0)
    return result


def _brightness(a: _SharedAnalysis, notes: list[dict]) -> np.ndarray:
    """Brightness: share of energy above 2 kHz and spectral centroid above 100 Hz.

    The original weights each frame's ratio and centroid by the frame's power, which makes them
    ratios of power summed over frames: taken here from the summed power of the onset analysis'
    frames, which have the original's length (2048 samples at 44.1 kHz)."""
    s = a.setup
    # frames starting at the clip's start (to within a few samples) as scipy's spectrogram takes them
    first = (s.hardness_pad + s.onset_fft // 2) // s.onset_hop
    last = (s.hardness_pad + s.n_samples - s.onset_fft // 2) // s.onset_hop
    total, high, centroid_weight, centroid_moment = (a.onset_power[:, first : last + 1].sum(axis=1, dtype=np.float64)
                                                     @ s.brightness_weights).T
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = {"energy above 2 kHz": np.log10(high / total),
                 "centroid above 100 Hz": np.log10(centroid_moment / centroid_weight)}
    return _regression(BRIGHTNESS_COEFFICIENTS, terms, notes, "ac_brightness")


def _roughness(a: _SharedAnalysis, notes: list[dict]) -> np.ndarray:
    """Roughness (Vassilakis 2007): peaks of 50-ms spectra, summed pairwise roughness, mean over frames.

    The original's frames overlap by half; every other one is analysed (the mean over frames of a
    4-s clip changes by well under 1%, the cost halves)."""
    s = a.setup
    padded_length = s.n_samples + s.rough_pad
    hop = s.rough_frame / 2
    n_frames = int(padded_length / hop)  # the original's count, frames that do not fit count as 0
    starts = (np.arange(n_frames) * hop).astype(int)
    n_full = int(np.sum(starts + s.rough_frame <= padded_length))
    starts = starts[:n_full:2]
    padded = np.zeros((len(a.x), padded_length), dtype=np.float32)
    padded[:, s.rough_pad :] = a.x
    frames = _frames_at(padded, starts, s.rough_frame)
    spectra = np.empty(frames.shape[:-1] + (s.rough_fft // 2 + 1,), dtype=np.float32)
    for chunk, complex_spectra in windowed_spectra(frames, s.rough_window, s.rough_fft):
        magnitude(complex_spectra, out=spectra[chunk])
    spectra *= np.float32(s.rough_magnitude_scale)
    low = spectra.min(axis=(1, 2)) if n_full == n_frames else np.minimum(spectra.min(axis=(1, 2)), 0)
    high = spectra.max(axis=(1, 2))
    normalised = (spectra - low[:, None, None]) * (1 / (high - low))[:, None, None]
    freqs = s.fs / 2 * np.linspace(0, 1, spectra.shape[-1])
    rows, _, value, level, freq = _contrast_peaks(normalised.reshape(-1, spectra.shape[-1]), 0.01,
                                                  spectra.reshape(-1, spectra.shape[-1]), freqs)
    per_frame = _pairwise_roughness(rows, value, level, freq, len(a.x) * starts.size)
    mean = per_frame.reshape(len(a.x), starts.size).mean(axis=1) * n_full / n_frames
    with np.errstate(divide="ignore"):
        terms = {"mean roughness": np.log10(np.maximum(mean, 0.01))}
    return np.where(mean < 0.01, 0.0, _regression(ROUGHNESS_COEFFICIENTS, terms, notes, "ac_roughness"))  # its floor


def _pairwise_roughness(rows, value, level, freq, n_rows: int) -> np.ndarray:
    """Vassilakis roughness summed over peak pairs of each row (the original's formula, where the
    amplitude term uses the peak ranked higher). Pairs are visited by distance in frequency order;
    once Plomp's curve has fallen below 1e-6 for a peak, its farther neighbours are left out."""
    order = np.lexsort((freq, rows))
    return ac_loops.pairwise_roughness(rows[order], value[order], level[order], freq[order], n_rows)


def _warmth(a: _SharedAnalysis, notes: list[dict]) -> np.ndarray:
    """Warmth: spectral centroid, high-frequency loudness, warm-region loudness, how well the
    spectrum above the warm region fits a straight line (log-log R^2), and low-frequency energy."""
    s = a.setup
    warm_region = a.bark_weighted_loudness(10, 40).mean(axis=1)
    high_frequency = a.rms_weighted(a.bark_weighted_loudness(80, 240))
    segments, owners, weights = [], [], []
    for b, onsets in enumerate(a.onsets_warmth):
        if onsets is None:
            notes[b]["ac_warmth"] = "onset detection failed"
            continue
        onsets = [0] if len(onsets) == 1 else onsets
        for start, end in _segments(onsets):
            end = s.n_samples if end is None else end
            segments.append((b, start, end))
            owners.append(b)
            weights.append(np.sqrt(np.mean(a.x[b, start:end] ** 2)) if end > start else np.nan)
    mean_centroid, mean_decay, ratio = (np.full(len(a.x), np.nan) for _ in range(3))
    if segments:
        spectrum = _segment_spectra(a.x, segments, s)
        centroid, decay, low_ratio = _warm_spectrum_metrics(spectrum, s.warm_freqs)
        owners, weights = np.array(owners), np.array(weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            for b in np.unique(owners):
                mine = owners == b
                mean_centroid[b], mean_decay[b] = np.mean(centroid[mine]), np.mean(decay[mine])
                ratio[b] = np.sum(low_ratio[mine] * weights[mine]) / np.sum(weights[mine])
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = {"spectral centroid": np.log10(mean_centroid), "high-frequency loudness": high_frequency,
                 "warm-region loudness": warm_region, "fundamental": mean_decay,
                 "low-frequency ratio": ratio}
    return _regression(WARMTH_COEFFICIENTS, terms, notes, "ac_warmth")


def _segment_spectra(x: np.ndarray, segments: list[tuple[int, int, int]], s: _Setup) -> np.ndarray:
    """Sum over frames of scipy's spectrogram (Tukey window, 1/8 overlap, PSD) of each segment, scaled
    like the original's analysis at 44.1 kHz: the resampler's roll-off and stop-band residue added."""
    n_bins = s.warm_fft // 2 + 1
    psd = np.zeros((len(segments), n_bins))
    window = scipy.signal.get_window(("tukey", 0.25), s.warm_frame)
    step = s.warm_frame - s.warm_frame // 8
    long = [i for i, (_, start, end) in enumerate(segments) if end - start >= s.warm_frame]
    if long:
        counts = [(segments[i][2] - segments[i][1] - s.warm_frame) // step + 1 for i in long]
        owner = np.repeat(np.arange(len(long)), counts)
        starts = np.concatenate([segments[i][1] + step * np.arange(c) for i, c in zip(long, counts)])
        clips = np.array([segments[i][0] for i in long])[owner]
        frames = x[clips[:, None], starts[:, None] + np.arange(s.warm_frame)]
        frames -= frames.mean(axis=1, keepdims=True)
        frames *= window.astype(np.float32)
        power = windowed_power(frames, None, s.warm_fft)
        power /= np.float32(s.fs * (window**2).sum())
        psd[long] = np.add.reduceat(power, np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]), axis=0)
    for i, (b, start, end) in enumerate(segments):
        if end - start < s.warm_frame and end - start > 0:  # short segment: one frame of its own length
            short_window = scipy.signal.get_window(("tukey", 0.25), end - start)
            frame = (x[b, start:end] - x[b, start:end].mean()) * short_window
            psd[i] = np.abs(np.fft.rfft(frame, s.warm_fft)) ** 2 / (s.fs * (short_window**2).sum())
    psd[:, 1:-1] *= 2
    extended = np.full((len(segments), s.warm_freqs.size), RESAMPLER_FLOOR_PSD)
    extended[:, :n_bins] += psd * s.warm_resampler_power
    return extended


def _warm_spectrum_metrics(spectrum: np.ndarray, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per segment spectrum: centroid, R^2 of the log-log line above the warm region, energy share
    from the fundamental to 260 Hz (0 when the fundamental is above 260 Hz)."""
    spectrum = spectrum / spectrum.max(axis=1, keepdims=True)
    rows, index, _, _, freq = _contrast_peaks(spectrum, 0.2, spectrum, freqs)
    fundamental = np.full(len(spectrum), np.nan)
    fundamental_bin = np.zeros(len(spectrum), dtype=int)
    if rows.size:
        first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        fundamental[rows[first]] = np.minimum.reduceat(freq, first)
        fundamental_bin[rows[first]] = np.minimum.reduceat(index, first)
    upper = 3.5 * fundamental
    upper = np.where(upper > 12000, 12000.0, upper)
    first_above = np.searchsorted(freqs, upper, side="right")
    total = spectrum.sum(axis=1)
    cumulative = np.concatenate([np.zeros((len(spectrum), 1)), np.cumsum(spectrum, axis=1)], axis=1)
    bin_260 = np.searchsorted(freqs, 260.0, side="right")
    low_energy = cumulative[:, bin_260] - cumulative[np.arange(len(spectrum)), np.minimum(fundamental_bin, bin_260)]
    low_ratio = np.where(fundamental < 260, low_energy / total, 0.0)
    centroid = (spectrum * freqs).sum(axis=1) / total
    above = np.arange(freqs.size) >= first_above[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_f = np.log10(np.where(above, freqs, 1.0))
        log_s = np.log10(spectrum)
        count = above.sum(axis=1)
        mean_f = np.where(above, log_f, 0).sum(axis=1) / count
        mean_s = np.where(above, log_s, 0).sum(axis=1) / count
        df = np.where(above, log_f - mean_f[:, None], 0)
        ds = np.where(above, log_s - mean_s[:, None], 0)
        spread = (ds**2).sum(axis=1)
        # a flat stretch (all of it in the modelled empty band above the clip's Nyquist) is not fitted by the line
        decay = np.where(spread > 0, (df * ds).sum(axis=1) ** 2 / ((df**2).sum(axis=1) * spread), 0.0)
    decay = np.where(np.isfinite(fundamental) & (count > 0), decay, np.nan)
    return centroid, decay, low_ratio


def _sharpness(a: _SharedAnalysis, notes: list[dict]) -> np.ndarray:
    """Sharpness (Fastl 1991): weighted centroid of the specific loudness along Bark, RMS^2-weighted."""
    bark = 0.1 * np.arange(1, N_BARK + 1)
    zz = np.arange(141, N_BARK + 1) / 10.0
    weighting = np.r_[np.ones(140), 0.00012 * zz**4 - 0.0056 * zz**3 + 0.1 * zz**2 - 0.81 * zz + 3.5]
    loud = a.specific_loudness
    with np.errstate(invalid="ignore", divide="ignore"):
        per_frame = 0.11 * (loud * (weighting * bark * 0.1)).sum(axis=2) / (loud * 0.1).sum(axis=2)
        per_frame = np.where(a.total_loudness > 0, per_frame, 0.0)
        terms = {"audible loudness": np.log10(a.rms_weighted(per_frame, power=2))}
    return _regression(SHARPNESS_COEFFICIENTS, terms, notes, "ac_sharpness")


def _boominess(a: _SharedAnalysis, notes: list[dict]) -> np.ndarray:
    """Boominess (Hatano and Hashimoto 2000 booming index) and the low-band loudness."""
    bark = np.arange(0.1, 24.05, 0.1)
    freqs = 600 * np.sinh(bark / 6.0)
    third_octaves = np.log10([25, 31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800, 1000, 1250,
                              1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500])
    index = (np.log10(freqs) - third_octaves[0]) / (third_octaves[1] - third_octaves[0]) + 1
    weighting = 2.13 * np.exp(-0.151 * index)
    weighting[:4] = [0.8, 1.05, 1.10, 1.18]
    below_280 = int(np.flatnonzero(freqs >= 280)[0])
    loud = a.specific_loudness
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        band_sum = 10 * np.log10((10 ** (loud * weighting / 10.0)).sum(axis=2))
        per_frame = band_sum * loud[..., :below_280].sum(axis=2) / loud.sum(axis=2)
        per_frame = np.where(a.total_loudness > 0, per_frame, 0.0)
        terms = {"loudness below 280 Hz": np.log10(a.rms_weighted(per_frame, power=2)),
                 "low-band loudness": np.log10(a.bark_weighted_loudness(0, 70).mean(axis=1))}
    return _regression(BOOMINESS_COEFFICIENTS, terms, notes, "ac_boominess")
