"""The pluck synth's numerics: free, differentiable torch functions of physical controls.

Shapes: ``n`` notes (one row per preset and note), ``K`` partials, ``N`` samples. Frequencies are in
Hz, times in seconds, gains as amplitude factors unless a name says dB. Every function keeps the dtype
and device of its inputs; the phase of the sinusoids is computed in float64 whatever the dtype (on a
CPU when the device has no float64, as Apple's MPS), so that a 48 kHz render has no phase drift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import torch
from torch import Tensor

LN_1000 = math.log(1000.0)  # T60: the time to fall by 60 dB, a factor 1000 in amplitude
MIDDLE_C_HZ = 440.0 * 2.0 ** (-9 / 12)
#: partials fade out over this band, as fractions of the Nyquist frequency (a raised cosine, so that
#: the output is continuous, and once differentiable, in pitch and inharmonicity)
NYQUIST_TAPER = (0.85, 0.95)
#: floor of the pluck-position comb: |sin| is not differentiable at its zeros, sqrt(sin^2 + e^2) is
COMB_FLOOR = 1e-3
#: the noise burst is one period of band-limited noise of this length, whose spectrum is drawn once on
#: a fixed grid of NOISE_BIN_HZ, so that every sample rate plays the same noise up to its Nyquist
NOISE_SECONDS = 0.5
NOISE_BIN_HZ = 1.0 / NOISE_SECONDS
NOISE_MAX_HZ = 48000.0  # sample rates up to 96 kHz
NOISE_SEED = 20240603
#: the body filter's FFT is longer than the render by this much, so that its ringing does not wrap
#: round onto the note's start (a body mode at 70 Hz with Q 20 rings for 0.63 s to -60 dB)
BODY_TAIL_SECONDS = 0.5
#: exponentials of arguments below this are taken as 0: they are inaudible (-695 dB), and computing them
#: (and the subnormal numbers they lead to) is many times slower than computing the others
EXP_FLOOR = -80.0


def decay_exp(arg: Tensor) -> Tensor:
    """``exp(arg)`` for ``arg`` <= 0, exactly 0 below ``EXP_FLOOR``."""
    return torch.exp(arg.clamp_min(EXP_FLOOR)).masked_fill(arg < EXP_FLOOR, 0.0)


def midi_to_hz(note: Tensor) -> Tensor:
    """Equal-tempered frequency (Hz) of MIDI notes (any shape; fractional notes allowed), A4 = 440 Hz."""
    return 440.0 * torch.exp2((note - 69.0) / 12.0)


def partial_frequencies(f0: Tensor, inharmonicity: Tensor, n_partials: int) -> Tensor:
    """Stiff-string partials (n, K) in Hz: ``f_k = k f0 sqrt(1 + B k^2)`` for k = 1..K, of f0 (n,) Hz and
    stiffness B (n,) >= 0 (B = 0: harmonic)."""
    k = torch.arange(1, n_partials + 1, dtype=f0.dtype, device=f0.device)
    return k * f0[:, None] * torch.sqrt(1.0 + inharmonicity[:, None] * k**2)


def nyquist_mask(freqs: Tensor, sample_rate: float) -> Tensor:
    """Gains (same shape as ``freqs``, Hz) that fade partials out near the Nyquist frequency: 1 below
    ``NYQUIST_TAPER[0]``, a raised cosine down to exactly 0 at ``NYQUIST_TAPER[1]`` and above."""
    low, high = (fraction * sample_rate / 2 for fraction in NYQUIST_TAPER)
    x = ((freqs - low) / (high - low)).clamp(0.0, 1.0)
    return 0.5 * (1.0 + torch.cos(math.pi * x))


def partial_taper(n_partials: int, width: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Gains (K,) of partials 1..K: 1, then a raised cosine over the top ``width`` partials, so that the
    fixed partial count rounds a bright low note's spectrum off instead of cutting it."""
    k = torch.arange(1, n_partials + 1, dtype=dtype, device=device)
    x = ((k - (n_partials - width)) / (width + 1)).clamp(0.0, 1.0)
    return 0.5 * (1.0 + torch.cos(math.pi * x))


def partial_count(lowest_f0: float, sample_rate: float, n_partials: int) -> int:
    """How many of the first ``n_partials`` partials can sound below the Nyquist taper's end for any
    note at or above ``lowest_f0`` Hz (inharmonicity >= 0 only raises partials): the others are zero."""
    return max(1, min(n_partials, math.ceil(NYQUIST_TAPER[1] * sample_rate / 2 / lowest_f0)))


def spectral_envelope(freqs: Tensor, cutoff: Tensor, rolloff_db: Tensor, tilt_db: Tensor, even_gain_db: Tensor,
                      pluck_position: Tensor, comb_depth: Tensor) -> Tensor:
    """Amplitudes (n, K) of partials k = 1..K at ``freqs`` (n, K) Hz, before any normalisation.

    The product of: ``k ** (tilt / 6.02)`` (``tilt_db`` dB per octave of partial number); a smooth
    low-pass, ``(1 + (f / cutoff)^2) ** (-rolloff log2(10) / 40)`` in amplitude, flat below ``cutoff`` Hz
    and falling ``rolloff_db`` dB per octave above it; ``even_gain_db`` on even partials; the comb of
    plucking a string at ``pluck_position`` of its length, ``(1 - d) + d |sin(pi k p)|`` with d the
    ``comb_depth`` (the modes with a node at the plucking point are not excited). Controls are (n,).
    """
    k = torch.arange(1, freqs.shape[-1] + 1, dtype=freqs.dtype, device=freqs.device)
    even = (k % 2 == 0).to(freqs.dtype)
    db = (tilt_db[:, None] * torch.log2(k)
          - rolloff_db[:, None] / 2 * torch.log2(1.0 + (freqs / cutoff[:, None]) ** 2)
          + even_gain_db[:, None] * even)
    comb = torch.sqrt(torch.sin(math.pi * k * pluck_position[:, None]) ** 2 + COMB_FLOOR**2)
    return torch.pow(10.0, db / 20.0) * (1.0 - comb_depth[:, None] + comb_depth[:, None] * comb)


def fundamental_t60(decay: Tensor, keytrack: Tensor, f0: Tensor) -> Tensor:
    """T60 (n,) s of the fundamental: ``decay`` (s, at middle C) times ``(f0 / 261.6 Hz) ** -keytrack``."""
    return decay * (f0 / MIDDLE_C_HZ) ** (-keytrack)


def partial_t60(freqs: Tensor, f0: Tensor, fundamental: Tensor, decay_tilt: Tensor, damping: Tensor) -> Tensor:
    """T60 (n, K) s of partials at ``freqs`` (n, K) Hz.

    The decay rate (1 / T60) is the fundamental's ``1 / fundamental`` times ``(f_k / f0) ** decay_tilt``
    (frictional and radiation losses growing with frequency) plus ``(f_k / 4 kHz)^2 / damping`` (a
    viscous-like loss whose T60 alone is ``damping`` s at 4 kHz); controls (n,).
    """
    rate = ((freqs / f0[:, None]) ** decay_tilt[:, None] / fundamental[:, None]
            + (freqs / 4000.0) ** 2 / damping[:, None])
    return 1.0 / rate


def _float64_device(device: torch.device) -> torch.device:
    return torch.device("cpu") if device.type == "mps" else device


def decaying_sinusoids(freqs: Tensor, t60: Tensor, amplitudes: Tensor, sample_rate: float, n_samples: int,
                       block: int | None = None) -> Tensor:
    """``sum_k a_k exp(-ln(1000) t / T_k) sin(2 pi f_k t)`` at ``t = i / sample_rate``, i = 0..N-1:
    audio (n, N) in the dtype of ``amplitudes`` from partials ``freqs`` (n, K) Hz, T60 ``t60`` (n, K) s
    and ``amplitudes`` (n, K).

    Time is split as ``i = q B + r`` (blocks of B samples), and ``sin(a + b) = sin a cos b + cos a sin b``
    and ``exp(-s (a + b)) = exp(-s a) exp(-s b)`` turn the sum over partials into two matrix products
    (n, Q, K) @ (n, K, B): the cost is GEMMs of N x 2K, not N x K sines. Both phase tables are wrapped in
    float64, ``2 pi frac(f q B / sr)`` and ``2 pi frac(f r / sr)``, before they are rounded to the
    output's dtype: every sample's phase is exact to the dtype's rounding (about 1e-7 cycle in float32)
    however long the render, with no accumulated drift.
    """
    n, n_partials = freqs.shape
    dtype, device = amplitudes.dtype, amplitudes.device
    work = _float64_device(device)
    if block is None:  # balance the two tables
        block = max(16, math.ceil(math.sqrt(n_samples)))
    n_blocks = math.ceil(n_samples / block)
    cycles = (freqs.to(work, torch.float64) / sample_rate)[..., None]  # per sample
    starts = torch.arange(n_blocks, dtype=torch.float64, device=work) * block
    offsets = torch.arange(block, dtype=torch.float64, device=work)
    coarse_phase = (2.0 * math.pi * torch.frac(cycles * starts)).to(device, dtype)  # (n, K, Q)
    fine_phase = (2.0 * math.pi * torch.frac(cycles * offsets)).to(device, dtype)  # (n, K, B)
    rate = (LN_1000 / (t60 * sample_rate))[..., None]  # per sample
    coarse_gain = amplitudes[..., None] * decay_exp(-rate * starts.to(device, dtype))
    fine_gain = decay_exp(-rate * offsets.to(device, dtype))
    sines = torch.bmm((coarse_gain * torch.sin(coarse_phase)).transpose(1, 2), fine_gain * torch.cos(fine_phase))
    sines = torch.baddbmm(sines, (coarse_gain * torch.cos(coarse_phase)).transpose(1, 2),
                          fine_gain * torch.sin(fine_phase))
    return sines.reshape(n, n_blocks * block)[:, :n_samples]


def velocity_gain(velocity: Tensor, range_db: Tensor) -> Tensor:
    """Amplitude factor (n,) of MIDI velocities (n,) 0..127: 1 at 127, falling linearly in dB to
    ``-range_db`` (n,) at 0."""
    return torch.pow(10.0, -range_db * (1.0 - velocity / 127.0) / 20.0)


def bandpass_parts(freqs: Tensor, centre: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
    """Real and imaginary parts (n, F), (n, F) of the analogue band-pass
    ``(w0 / Q) s / (s^2 + (w0 / Q) s + w0^2)`` at ``freqs`` (F,) Hz (peak gain 1 at ``centre`` (n,) Hz,
    quality ``q`` (n,)).

    With ``x = f / centre``, ``d = 1 - x^2`` and ``e = x / Q`` the response is ``j e / (d + j e)``, that is
    ``(e^2 + j e d) / (d^2 + e^2)``: real arithmetic on O(1) numbers (no complex division, which is slow
    and, with frequencies in rad/s squared, poorly scaled).
    """
    x = freqs / centre[:, None]
    d = 1.0 - x * x
    e = x / q[:, None]
    den = d * d + e * e
    return e * e / den, e * d / den


def bandpass_response(freqs: Tensor, centre: Tensor, q: Tensor) -> Tensor:
    """Complex response (n, F) of :func:`bandpass_parts`."""
    return torch.complex(*bandpass_parts(freqs, centre, q))


def resonator_parts(freqs: Tensor, centre: Tensor, q: Tensor, gain_db: Tensor) -> tuple[Tensor, Tensor]:
    """Real and imaginary parts (n, F) of a peaking resonance ``1 + (G - 1) H_bp`` at ``freqs`` (F,) Hz:
    gain 1 far from ``centre`` (n,) Hz and ``G = 10^(gain_db / 20)`` at it (a dip where ``gain_db`` < 0)."""
    excess = torch.pow(10.0, gain_db / 20.0)[:, None] - 1.0
    real, imag = bandpass_parts(freqs, centre, q)
    return 1.0 + excess * real, excess * imag


def resonator_response(freqs: Tensor, centre: Tensor, q: Tensor, gain_db: Tensor) -> Tensor:
    """Complex response (n, F) of :func:`resonator_parts`."""
    return torch.complex(*resonator_parts(freqs, centre, q, gain_db))


def fast_fft_size(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (sizes an FFT is fast at)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            size = p35
            while size < n:
                size *= 2
            best = min(best, size)
            p35 *= 3
        p5 *= 5
    return best


def apply_body(signal: Tensor, sample_rate: float, resonances: Sequence[tuple[Tensor, Tensor, Tensor]]) -> Tensor:
    """``signal`` (n, N) through a cascade of peaking resonances, each (centre Hz, Q, gain dB) of (n,),
    by FFT convolution (zero-padded by ``BODY_TAIL_SECONDS``): (n, N).

    The analogue responses are sampled on the FFT's bins, so a render is the band-limited output of the
    continuous-time filter at any sample rate; the band-pass's impulse response jumps at t = 0, which
    band-limiting turns into a faint Gibbs ripple at Nyquist just before sharp onsets (about
    ``(G - 1) w0 / (pi Q sr m)`` m samples ahead for an impulse).
    """
    n_samples = signal.shape[-1]
    n_fft = fast_fft_size(n_samples + int(round(BODY_TAIL_SECONDS * sample_rate)))
    spectrum = torch.fft.rfft(signal, n=n_fft)
    freqs = torch.fft.rfftfreq(n_fft, d=1.0 / sample_rate, dtype=signal.dtype, device=signal.device)
    real, imag = None, None
    for centre, q, gain_db in resonances:  # the cascade's product in real arithmetic, one complex product at the end
        a, b = resonator_parts(freqs, centre, q, gain_db)
        real, imag = (a, b) if real is None else (real * a - imag * b, real * b + imag * a)
    if real is not None:
        spectrum = spectrum * torch.complex(real, imag)
    return torch.fft.irfft(spectrum, n=n_fft)[:, :n_samples]


@lru_cache(maxsize=1)
def _noise_spectrum() -> Tensor:
    """White noise on the fixed frequency grid ``NOISE_BIN_HZ``: complex128 (bins,) CPU, unit mean
    power per bin, 0 at DC; drawn once from a fixed-seed generator, identical on every machine."""
    n_bins = int(NOISE_MAX_HZ / NOISE_BIN_HZ) + 1
    generator = torch.Generator().manual_seed(NOISE_SEED)
    parts = torch.randn(2, n_bins, generator=generator, dtype=torch.float64) / math.sqrt(2.0)
    spectrum = torch.complex(parts[0], parts[1])
    spectrum[0] = 0.0
    return spectrum


def noise_burst(centre: Tensor, q: Tensor, length: Tensor, sample_rate: float, n_samples: int) -> Tensor:
    """The pluck's noise (n, N): band-passed noise (``centre`` (n,) Hz, quality ``q`` (n,)) of unit RMS
    under an envelope ``exp(-ln(1000) t / length)`` (``length`` (n,) s, its T60), zero after
    ``NOISE_SECONDS``.

    The noise is the same for every row and call (one fixed draw), and the same waveform at every
    sample rate up to its Nyquist frequency: its spectrum lives on a grid of ``NOISE_BIN_HZ`` Hz. The
    unit RMS comes from the band-pass's noise bandwidth ``(pi / 2) centre / q``, not from the samples,
    so it does not depend on the sample rate either.
    """
    if sample_rate / 2 > NOISE_MAX_HZ:
        raise ValueError(f"sample rates up to {2 * NOISE_MAX_HZ:.0f} Hz, not {sample_rate}")
    period = int(round(NOISE_SECONDS * sample_rate))
    n_bins = period // 2 + 1
    dtype, device = centre.dtype, centre.device
    complex_dtype = torch.promote_types(dtype, torch.complex64)
    white = _noise_spectrum()[:n_bins].to(device, complex_dtype)
    freqs = torch.arange(n_bins, dtype=dtype, device=device) * (sample_rate / period)
    # a bin of amplitude X is the sinusoid 2|X| cos(...), power 2|X|^2; with unit power per bin the
    # filtered power is (pi / 2) (centre / q) / bin width, hence the scale
    scale = torch.sqrt(sample_rate / period * q / (math.pi * centre))[:, None]
    spectrum = white * bandpass_response(freqs, centre, q) * scale
    noise = torch.fft.irfft(spectrum, n=period, norm="forward")[:, :n_samples]
    t = torch.arange(noise.shape[-1], dtype=dtype, device=device) / sample_rate
    noise = noise * decay_exp(-LN_1000 * t / length[:, None])
    return torch.nn.functional.pad(noise, (0, n_samples - noise.shape[-1]))


def attack_envelope(attack: Tensor, sample_rate: float, n_samples: int) -> Tensor:
    """Onset (n, N): ``1 - exp(-t / attack)`` with ``attack`` (n,) s."""
    t = torch.arange(n_samples, dtype=attack.dtype, device=attack.device) / sample_rate
    return -torch.expm1((-t / attack[:, None]).clamp_min(EXP_FLOOR))


def release_envelope(release: Tensor, sample_rate: float, start: int, n_samples: int, note_duration: float,
                     duration: float) -> Tensor:
    """Note-off gains (n, N - start) of samples ``start``..N-1: 1 until ``note_duration`` s, then
    ``exp(-ln(1000) u / release)`` (``release`` (n,) s, a T60) times a raised cosine from 1 at note-off
    to 0 at ``duration`` s, u the time since note-off: the note is silent at the render's end whatever
    the release."""
    t = torch.arange(start, n_samples, dtype=release.dtype, device=release.device) / sample_rate
    since = (t - note_duration).clamp_min(0.0)
    if duration <= note_duration:
        return torch.ones(release.shape[0], n_samples - start, dtype=release.dtype, device=release.device)
    taper = 0.5 * (1.0 + torch.cos(math.pi * (since / (duration - note_duration)).clamp(max=1.0)))
    return decay_exp(-LN_1000 * since / release[:, None]) * taper


def apply_release(signal: Tensor, release: Tensor, sample_rate: float, note_duration: float,
                  duration: float) -> Tensor:
    """``signal`` (n, N) times :func:`release_envelope`, computed from the note-off on only (the
    envelope is 1 before)."""
    n_samples = signal.shape[-1]
    start = min(n_samples, math.floor(note_duration * sample_rate))
    tail = signal[:, start:] * release_envelope(release, sample_rate, start, n_samples, note_duration, duration)
    return torch.cat([signal[:, :start], tail], dim=1)
