"""Short-time power spectra and the Timbre Toolbox's spectral descriptors, for batches of clips.

Part of :mod:`spinvae.features.timbre_toolbox` (Peeters et al., JASA 2011). Every function works
on a whole batch: clips along the first axis, frames along the second, bins along the last.
The formulas are written out in docs/features_timbre_toolbox.md.
"""

from __future__ import annotations

import numpy as np

from spinvae.features import tt_loops
from spinvae.features.spectra import squared_magnitude, weighted_sums, windowed_spectra

ROLLOFF_FRACTION = 0.95  # SpecRollOff: the frequency below which 95% of the power lies
ROLLOFF_BLOCK = 16  # bins: the roll-off is found block by block, then within its block
FLATNESS_FLOOR = 1e-10  # SpecFlat: power below 1e-10 x the clip's highest bin counts as that (-100 dB)


def centred_frames(audio: np.ndarray, frame_length: int, hop: int, centre: int) -> np.ndarray:
    """Frames (B, 1 + n // hop, frame_length) of clips (B, n): sample ``centre`` of frame m is
    sample m * hop of the clip, zeros beyond the clip (a read-only strided view of a padded copy)."""
    n_clips, n = audio.shape
    n_frames = 1 + n // hop
    padded_length = max((n_frames - 1) * hop + frame_length, centre + n)
    padded = np.zeros((n_clips, padded_length), dtype=audio.dtype)
    padded[:, centre : centre + n] = audio
    windows = np.lib.stride_tricks.sliding_window_view(padded, frame_length, axis=-1)
    return windows[:, : (n_frames - 1) * hop + 1 : hop]


def power_spectrogram(audio: np.ndarray, window: np.ndarray, hop: int, n_fft: int) -> np.ndarray:
    """Power spectra (B, 1 + n // hop, n_fft // 2 + 1) float32 of clips (B, n), the window of
    frame m centred on sample m * hop (zeros beyond the clip), zero padded to ``n_fft``. Scaled
    as |2 X[k] / sum(window)|^2, so that a sinusoid of amplitude A peaks at A^2 (the Timbre
    Toolbox's "pow" distribution)."""
    # frames of n_fft samples and a zero-padded window: no copy to pad each frame; the window
    # carries the 2 / sum(window) scaling
    padded_window = np.zeros(n_fft, dtype=np.float32)
    padded_window[: len(window)] = window * (2.0 / window.sum())
    frames = centred_frames(audio.astype(np.float32, copy=False), n_fft, hop, len(window) // 2)
    power = np.empty(frames.shape[:-1] + (n_fft // 2 + 1,), dtype=np.float32)
    for chunk, spectra in windowed_spectra(frames, padded_window, n_fft):  # a few clips at a time
        squared_magnitude(spectra, out=power[chunk])
    return power


def parseval_weights(window: np.ndarray, n_fft: int) -> np.ndarray:
    """Weights (n_fft // 2 + 1,) turning a :func:`power_spectrogram` frame into the mean square
    of the windowed frame, sum(w^2 x^2) / sum(w^2), by Parseval: a sinusoid of amplitude A
    gives A^2 / 2, white noise of variance s^2 gives s^2."""
    one_sided = np.full(n_fft // 2 + 1, 2.0)
    one_sided[0] = 1.0
    if n_fft % 2 == 0:
        one_sided[-1] = 1.0  # the Nyquist bin has no mirror image
    # |X|^2 = P sum(w)^2 / 4, and sum over the full circle of |X|^2 = n_fft sum(w^2 x^2)
    return one_sided * window.sum() ** 2 / (4.0 * n_fft * np.sum(window**2))


def spectral_descriptors(power: np.ndarray, freqs: np.ndarray, frame_weights: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame descriptors (B, T) float64 of power spectra (B, T, K) at bin frequencies
    ``freqs`` (K,) Hz: FrameErg (``power @ frame_weights``, the frame's mean square), SpecCent,
    SpecSpread, SpecRollOff (Hz), SpecSkew, SpecKurt (standardised moments), SpecSlope (1/Hz),
    SpecDecr, SpecFlat, SpecCrest. Frames without power give non-finite values: callers mask them.
    """
    n_bins = power.shape[-1]
    khz = freqs / 1000.0  # moments in kHz keep the fourth powers well scaled
    bin_number = np.arange(n_bins, dtype=np.float64)
    inverse_bin = np.divide(1.0, bin_number, out=np.zeros(n_bins), where=bin_number > 0)
    # One float64 product gives every weighted sum: float64 accumulation keeps the central
    # moments exact enough when the spread is tiny next to the centroid (a pure tone). The last
    # columns cumulate the power up to the end of each block of ROLLOFF_BLOCK bins.
    block_ends = np.arange(ROLLOFF_BLOCK, n_bins + ROLLOFF_BLOCK, ROLLOFF_BLOCK)
    cumulating = (np.arange(n_bins)[:, None] < block_ends).astype(np.float64)
    moments = np.stack([frame_weights, np.ones(n_bins), khz, khz**2, khz**3, khz**4, inverse_bin], axis=1)
    columns = np.concatenate([moments, cumulating], axis=1)
    sums = weighted_sums(power, columns)
    frame_erg, total, m1, m2, m3, m4, inverse_sum = np.moveaxis(sums[..., : moments.shape[1]], -1, 0)
    cumulated_blocks = sums[..., moments.shape[1] :]
    with np.errstate(divide="ignore", invalid="ignore"):
        centroid = m1 / total
        variance = np.maximum(m2 / total - centroid**2, 0.0)
        third = m3 / total - 3 * centroid * m2 / total + 2 * centroid**3
        fourth = m4 / total - 4 * centroid * m3 / total + 6 * centroid**2 * m2 / total - 3 * centroid**4
        spread = np.sqrt(variance)
        first_bin = power[..., 0].astype(np.float64)
        harmonic_number = np.sum(inverse_bin)  # sum of 1/k over k >= 1
        # TT slope: least-squares slope of the normalised distribution p[k] against f[k]
        slope = (n_bins * m1 / total - khz.sum()) / (n_bins * np.sum(khz**2) - khz.sum() ** 2) / 1000.0
        flatness, crest = _flatness_and_crest(power, total / n_bins)
        return {
            "FrameErg": frame_erg,
            "SpecCent": 1000.0 * centroid,
            "SpecSpread": 1000.0 * spread,
            "SpecSkew": third / spread**3,
            "SpecKurt": fourth / variance**2,
            "SpecSlope": slope,
            "SpecDecr": (inverse_sum - first_bin * harmonic_number) / (total - first_bin),
            "SpecRollOff": freqs[_rolloff_bins(power, total, cumulated_blocks)],
            "SpecFlat": flatness,
            "SpecCrest": crest,
        }


def _flatness_and_crest(power: np.ndarray, mean_power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geometric over arithmetic mean (of the power relative to the clip's highest bin, floored at
    FLATNESS_FLOOR), and maximum over arithmetic mean, of each frame."""
    flatness, frame_max = tt_loops.flatness_and_crest(power, np.float32(FLATNESS_FLOOR))  # compiled: one pass
    return flatness, frame_max / mean_power


def _rolloff_bins(power: np.ndarray, total: np.ndarray, cumulated_blocks: np.ndarray) -> np.ndarray:
    """Index of the first bin where the cumulated power reaches ROLLOFF_FRACTION of the total:
    the block holding it, from the power cumulated to each block's end, then the bin within."""
    n_bins = power.shape[-1]
    target = ROLLOFF_FRACTION * total
    block = np.minimum((cumulated_blocks < target[..., None]).sum(axis=-1), cumulated_blocks.shape[-1] - 1)
    previous_block_end = np.take_along_axis(cumulated_blocks, np.maximum(block - 1, 0)[..., None], -1)[..., 0]
    before = np.where(block > 0, previous_block_end, 0.0)
    bins = block[..., None] * ROLLOFF_BLOCK + np.arange(ROLLOFF_BLOCK)
    frame_offsets = (np.arange(total.size) * n_bins).reshape(total.shape)[..., None]
    in_block = np.where(bins < n_bins, np.take(power, np.minimum(bins, n_bins - 1) + frame_offsets), 0.0)
    cumulated = before[..., None] + np.cumsum(in_block, axis=-1, dtype=np.float64)
    return np.minimum(block * ROLLOFF_BLOCK + (cumulated < target[..., None]).sum(axis=-1), n_bins - 1)


def spectral_variation(power: np.ndarray) -> np.ndarray:
    """SpecVar (B, T - 1): one minus the normalised cross-correlation of consecutive power
    spectra, 0 for a steady spectrum, up to 1 for disjoint ones; value t compares frames t, t+1."""
    previous, current = power[:, :-1], power[:, 1:]
    cross = np.einsum("btk,btk->bt", previous, current, dtype=np.float64)
    norms = np.sqrt(np.einsum("btk,btk->bt", power, power, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - cross / (norms[:, :-1] * norms[:, 1:])
