"""Compiled loops of the Timbre Toolbox descriptors, frame by frame.

Part of :mod:`spinvae.features.tt_harmonic` and :mod:`spinvae.features.tt_spectral`. Vectorised
over a batch, the partial search built index arrays of (clips, frames, partials, search window)
elements, tens of MB each, and the spectral flatness made several passes over the spectra.
Compiled with numba (``cache=True``: compiled on the first call in a fresh environment, loaded
from the cache next to this file afterwards; ``nogil=True``: threads run them in parallel), each
frame is read once. The arithmetic is that of the vectorised versions, operation by operation
(the flatness' sums now accumulate in float64).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def find_partials(power, f0, n_harmonics, bin_hz, search_hz, max_scalloping):
    """Partials (B, T, n_harmonics) of power spectra (B, T, K) float32 given a rough ``f0`` (B, T)
    Hz: frequency (Hz) and amplitude of the highest bin within +-min(F0 / 2, ``search_hz``) of
    h * F0 (and within bins 1 .. K - 2), refined by a parabola through the log power, the peak's
    gain over its highest bin at most ``max_scalloping`` (log power). A partial whose highest bin
    is not a local maximum is not found: amplitude 0, frequency h * F0."""
    n_clips, n_frames, n_bins = power.shape
    reach = int(np.ceil(search_hz / bin_hz))
    freqs = np.empty((n_clips, n_frames, n_harmonics))
    amps = np.zeros((n_clips, n_frames, n_harmonics))
    for b in range(n_clips):
        for t in range(n_frames):
            spectrum = power[b, t]
            half_width = min(0.5 * f0[b, t], search_hz) / bin_hz
            for h in range(n_harmonics):
                expected = f0[b, t] * (h + 1) / bin_hz  # in bins
                freqs[b, t, h] = expected * bin_hz
                if not np.isfinite(expected):
                    continue
                nearest = int(np.rint(expected))
                first = max(max(int(np.ceil(expected - half_width)), 1), nearest - reach)
                last = min(min(int(np.floor(expected + half_width)), n_bins - 2), nearest + reach)
                if last < first:
                    continue
                peak = first
                for k in range(first + 1, last + 1):
                    if spectrum[k] > spectrum[peak]:
                        peak = k
                left, centre, right = float(spectrum[peak - 1]), float(spectrum[peak]), float(spectrum[peak + 1])
                if not (left > 0 and right > 0 and centre >= left and centre >= right):
                    continue
                log_left, log_centre, log_right = np.log(left), np.log(centre), np.log(right)
                offset = parabola_vertex(log_left, log_centre, log_right)
                gain = min(max(-0.25 * (log_left - log_right) * offset, 0.0), max_scalloping)
                freqs[b, t, h] = (peak + offset) * bin_hz
                amps[b, t, h] = np.exp(0.5 * (log_centre + gain))
    return freqs, amps


@numba.njit(cache=True, nogil=True)
def parabola_vertex(left, centre, right):
    """Offset in [-0.5, 0.5] of the vertex of the parabola through three equally spaced values
    whose middle one is the highest (0 where they are flat)."""
    curvature = left - 2.0 * centre + right
    if not curvature < 0:
        return 0.0
    return min(max(0.5 * (left - right) / curvature, -0.5), 0.5)


@numba.njit(cache=True, nogil=True)
def flatness_and_crest(power, floor):
    """Per frame of power spectra (B, T, K) float32: the geometric over the arithmetic mean of the
    power divided by the clip's highest bin and floored at ``floor`` (flatness, (B, T) float64),
    and the frame's highest bin (B, T) float32. One pass over the spectra, one logarithm for two
    bins (their product stays within float32: >= floor^2)."""
    n_clips, n_frames, n_bins = power.shape
    flatness = np.empty((n_clips, n_frames))
    frame_max = np.empty((n_clips, n_frames), dtype=np.float32)
    for b in range(n_clips):
        clip_peak = np.float32(np.finfo(np.float32).tiny)
        for t in range(n_frames):
            for k in range(n_bins):
                clip_peak = max(clip_peak, power[b, t, k])
        scale = np.float32(1.0) / clip_peak
        for t in range(n_frames):
            spectrum = power[b, t]
            log_sum, total, highest = 0.0, 0.0, spectrum[0]
            for k in range(0, n_bins - 1, 2):
                low = max(spectrum[k] * scale, floor)
                high = max(spectrum[k + 1] * scale, floor)
                log_sum += np.log(low * high)
                total += float(low) + float(high)
                highest = max(highest, max(spectrum[k], spectrum[k + 1]))
            if n_bins % 2:
                last = max(spectrum[n_bins - 1] * scale, floor)
                log_sum += np.log(last)
                total += float(last)
                highest = max(highest, spectrum[n_bins - 1])
            flatness[b, t] = np.exp(log_sum / n_bins) / (total / n_bins)
            frame_max[b, t] = highest
    return flatness, frame_max
