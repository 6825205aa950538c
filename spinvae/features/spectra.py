"""Short-time spectra shared by the feature families, computed a few clips at a time.

A batch's frames, windowed frames and complex spectra are tens of MB each (32 clips of 4 s); made
whole, each such temporary is fresh memory from the operating system, whose page faults cost
more than the FFT itself on the project's machines, and runs out of cache. Here they are made a
few clips at a time, into buffers reused from chunk to chunk, and only the (float32) result is
whole.
"""

from __future__ import annotations

from collections.abc import Iterator

import numba
import numpy as np
import scipy.fft

CHUNK_BYTES = 4 << 20  # bytes of complex spectra per chunk: a few MB, well within cache and malloc's reuse


def clip_chunks(n_clips: int, bytes_per_clip: int) -> Iterator[slice]:
    """Slices of the clip axis, each holding about CHUNK_BYTES (at least one clip)."""
    step = max(1, CHUNK_BYTES // max(bytes_per_clip, 1))
    for start in range(0, n_clips, step):
        yield slice(start, min(start + step, n_clips))


def windowed_spectra(frames: np.ndarray, window: np.ndarray | None, n_fft: int) -> Iterator[tuple[slice, np.ndarray]]:
    """(chunk, spectra) over chunks of the first axis of ``frames`` (N, ..., L) float32 (a strided
    view is fine): the complex64 rfft of each frame times ``window`` (L,) (None: rectangular),
    zero-padded to ``n_fft`` >= L. The spectra array is reused by the next chunk: use it before."""
    length = frames.shape[-1]
    n_bins = n_fft // 2 + 1
    per_item = int(np.prod(frames.shape[1:-1], dtype=np.int64)) * n_bins * 8
    buffer = None
    for chunk in clip_chunks(len(frames), per_item):
        part = frames[chunk]
        if window is None and n_fft == length:  # the FFT reads strided frames as they are
            yield chunk, scipy.fft.rfft(part, axis=-1)
            continue
        if buffer is None or len(buffer) != len(part):
            buffer = np.zeros(part.shape[:-1] + (n_fft,), dtype=np.float32)  # the padding stays 0
        if window is None:
            buffer[..., :length] = part
        else:
            np.multiply(part, window, out=buffer[..., :length])
        yield chunk, scipy.fft.rfft(buffer, axis=-1)


def windowed_power(frames: np.ndarray, window: np.ndarray | None, n_fft: int) -> np.ndarray:
    """Power |rfft(frame x window, n_fft)|^2 (N, ..., n_fft // 2 + 1) float32 of ``frames``
    (N, ..., L) float32, computed a chunk of the first axis at a time (see windowed_spectra)."""
    power = np.empty(frames.shape[:-1] + (n_fft // 2 + 1,), dtype=np.float32)
    for chunk, spectra in windowed_spectra(frames, window, n_fft):
        squared_magnitude(spectra, power[chunk])
    return power


def squared_magnitude(spectra: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """|spectra|^2 float32 of complex64 ``spectra`` (any shape), in one pass (into ``out``)."""
    return _magnitude(spectra, out, squared=True)


def magnitude(spectra: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """|spectra| float32 of complex64 ``spectra`` (any shape), in one pass (into ``out``): the square
    root of re^2 + im^2, several times faster than numpy's hypot and within an ulp of it."""
    return _magnitude(spectra, out, squared=False)


def _magnitude(spectra: np.ndarray, out: np.ndarray | None, squared: bool) -> np.ndarray:
    if out is None:
        out = np.empty(spectra.shape, dtype=np.float32)
    if spectra.flags.c_contiguous and out.flags.c_contiguous:
        _magnitude_loop(spectra.reshape(-1), out.reshape(-1), squared)
    else:
        np.square(spectra.real, out=out)
        out += np.square(spectra.imag)
        if not squared:
            np.sqrt(out, out=out)
    return out


@numba.njit(cache=True, nogil=True)
def _magnitude_loop(spectra, out, squared):
    """out[i] = re(spectra[i])^2 + im(spectra[i])^2 (or its square root), flat arrays."""
    for i in range(spectra.size):
        value = spectra[i]
        power = value.real * value.real + value.imag * value.imag
        out[i] = power if squared else np.sqrt(power)


def weighted_sums(power: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """float64 products (N, ..., C) of float32 spectra ``power`` (N, ..., K) with ``columns`` (K, C),
    accumulated in float64 (exact enough for moments of a pure tone), a few clips at a time: the
    float64 copy of the spectra is never whole."""
    n_bins = power.shape[-1]
    sums = np.empty(power.shape[:-1] + (columns.shape[1],))
    per_clip = int(np.prod(power.shape[1:], dtype=np.int64)) * 8
    for chunk in clip_chunks(len(power), per_clip):
        part = power[chunk]
        sums[chunk] = (part.reshape(-1, n_bins).astype(np.float64) @ columns).reshape(*part.shape[:-1], -1)
    return sums


def cosine_window_power(spectra: np.ndarray, n: int, a0: float, a1: float, out: np.ndarray | None = None) -> np.ndarray:
    """Power (..., K) float32 of frames of length ``n`` under the periodic window
    a0 - a1 cos(2 pi i / n) (Hann: 0.5, 0.5; Hamming: 0.54, 0.46), from the complex64 rfft of the
    same frames unwindowed (..., K = n // 2 + 1; a view, e.g. every other bin of a twice zero-padded
    FFT, is fine): the window is a 3-tap convolution across bins, a0 X[k] - a1 / 2 (X[k-1] + X[k+1]),
    the bins past both ends being conjugates of bins inside. Saves a pass over the frames, and
    their copy: the FFT reads the strided frames directly."""
    if out is None:
        out = np.empty(spectra.shape, dtype=np.float32)
    n_bins = spectra.shape[-1]
    mirror = n_bins - 2 if n % 2 == 0 else n_bins - 1  # X[K] = conj(X[n - K])
    _cosine_window_power(np.ascontiguousarray(spectra).reshape(-1, n_bins), np.float32(a0), np.float32(a1 / 2), mirror,
                         out.reshape(-1, n_bins))  # contiguous only: each layout would be compiled anew
    return out


@numba.njit(cache=True, nogil=True)
def _cosine_window_power(spectra, a0, half_a1, mirror, out):
    n_frames, n_bins = spectra.shape
    for f in range(n_frames):
        x = spectra[f]
        for k in range(n_bins):
            below = x[k - 1] if k > 0 else np.conj(x[1])
            above = x[k + 1] if k < n_bins - 1 else np.conj(x[mirror])
            value = a0 * x[k] - half_a1 * (below + above)
            out[f, k] = value.real * value.real + value.imag * value.imag
