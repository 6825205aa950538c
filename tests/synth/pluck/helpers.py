"""Shared helpers of the pluck synth's tests: controls by physical value, and measurements."""

from __future__ import annotations

import numpy as np
import torch

from spinvae.synth.pluck.schema import DEFAULT_STEPS, steps_to_unit, to_physical
from spinvae.synth.pluck.synth import PluckControls

#: a bare string: every partial at the same level, no noise, no body, no second polarisation
BARE = dict(tilt=0.0, rolloff=3.0, brightness=16000.0, even_gain=0.0, comb_depth=0.0, noise_level=-300.0,
            body_gain1=0.0, body_gain2=0.0, aftersound=0.0, beat=0.0, attack=0.1, velocity_level=0.0,
            velocity_brightness=0.0, decay_keytrack=0.0)


def physical_controls(n: int = 1, dtype: torch.dtype = torch.float64, **values: float) -> PluckControls:
    """Controls (n,) of the default preset with some parameters set to physical ``values``."""
    physical = to_physical(torch.from_numpy(steps_to_unit(DEFAULT_STEPS))).to(dtype)
    controls = PluckControls.from_physical(physical.expand(n, -1).clone())
    for name, value in values.items():
        setattr(controls, name, torch.full((n,), float(value), dtype=dtype))
    return controls


def peak_frequency(x: np.ndarray, sample_rate: float, low: float, high: float, pad: int = 4) -> float:
    """The frequency (Hz) of the largest spectral peak of ``x`` between ``low`` and ``high`` Hz: Hann
    window, zero-padded FFT, parabola through the log magnitudes of the top bin and its neighbours."""
    n_fft = pad * len(x)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=n_fft))
    bin_hz = sample_rate / n_fft
    lo, hi = int(np.ceil(low / bin_hz)), int(np.floor(high / bin_hz))
    top = lo + int(np.argmax(spectrum[lo:hi + 1]))
    a, b, c = np.log(spectrum[top - 1:top + 2])
    return (top + 0.5 * (a - c) / (a - 2 * b + c)) * bin_hz


def cents(measured: float, expected: float) -> float:
    return 1200.0 * np.log2(measured / expected)
