"""How far two sounds are: a multi-resolution STFT distance, per clip (auraloss's STFT losses).

The distance between clips x and y (n, N) at a sample rate is the mean, over FFT sizes
``fft_sizes(sample_rate)`` (hop a quarter of the size, Hann window), of the mean absolute difference
of their STFT magnitudes plus that of their log magnitudes (Engel et al. 2020's spectral loss): the
linear term weighs the loud partials, the log term the quiet tail and the noise. Magnitudes are
divided by the window's sum (a full-scale sinusoid peaks near 0.5 at every size); the sizes scale
with the rate (each covers the same duration, and a bin the same width in Hz), and the differences are
summed over bins and divided by the number of bins below 8 kHz, so a sound band-limited to 8 kHz is
at the same distance at 16, 44.1 or 48 kHz (what a wider band adds counts on top). auraloss's floor of
1e-8 in power puts the log term's floor 80 dB below a full-scale sinusoid. Zero for equal clips,
symmetric.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from auraloss.freq import STFTLoss

#: the FFT sizes at 48 kHz (4 ms to 128 ms): attack transients to the lowest partials' spacing
SIZES_AT_48K = (192, 384, 768, 1536, 3072, 6144)


def fft_sizes(sample_rate: int) -> tuple[int, ...]:
    """:data:`SIZES_AT_48K` scaled to ``sample_rate`` (even sizes, at least 64 samples)."""
    return tuple(max(64, 2 * round(size * sample_rate / 48000 / 2)) for size in SIZES_AT_48K)


@lru_cache(maxsize=16)
def _losses(sample_rate: int) -> tuple[STFTLoss, ...]:
    return tuple(STFTLoss(fft_size=size, hop_size=size // 4, win_length=size, w_sc=0.0, w_log_mag=1.0,
                          w_lin_mag=1.0, reduction="none") for size in fft_sizes(sample_rate))


def spectral_distance(x: torch.Tensor, y: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Distances (n,) between clips ``x`` and ``y`` (n, N) at ``sample_rate`` Hz (differentiable)."""
    if x.shape != y.shape or x.dim() != 2:
        raise ValueError(f"spectral_distance needs two (n, N) tensors of one shape, got {tuple(x.shape)}, {tuple(y.shape)}")
    per_size = []
    for loss in _losses(sample_rate):
        scale = 2.0 / loss.fft_size
        bins_below_8k = loss.fft_size * 8000 / sample_rate
        per_size.append(loss(x[:, None] * scale, y[:, None] * scale).sum(dim=-2).mean(dim=-1) / bins_below_8k)
    return torch.stack(per_size).mean(dim=0)


#: frames of the loudness envelope: 20 ms, hop 10 ms; levels floored 80 dB below full scale
LOUDNESS_FRAME_S, LOUDNESS_HOP_S, LOUDNESS_FLOOR_DB = 0.02, 0.01, -80.0


def loudness_envelope(x: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """The RMS level in dB (n, frames) of clips ``x`` (n, N), 20-ms frames every 10 ms (differentiable)."""
    frame, hop = round(LOUDNESS_FRAME_S * sample_rate), round(LOUDNESS_HOP_S * sample_rate)
    power = x.unfold(-1, frame, hop).pow(2).mean(dim=-1)
    return 10.0 * torch.log10(power.clamp(min=10 ** (LOUDNESS_FLOOR_DB / 10)))


def loudness_distance(x: torch.Tensor, y: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Mean absolute difference (n,) of the loudness envelopes of ``x`` and ``y`` (n, N), in units of
    10 dB (so that it weighs about as much as :func:`spectral_distance` for a few dB apart): the optional
    loudness term of the fit, for a note whose level must follow the recording's over time (a decay
    the spectra alone weigh little in their quiet tail). Independent of the sample rate."""
    if x.shape != y.shape or x.dim() != 2:
        raise ValueError(f"loudness_distance needs two (n, N) tensors of one shape, got {tuple(x.shape)}, {tuple(y.shape)}")
    return (loudness_envelope(x, sample_rate) - loudness_envelope(y, sample_rate)).abs().mean(dim=-1) / 10.0
