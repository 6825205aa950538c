"""The pluck synth's parameters: one table, its :class:`ParameterSchema` and the unit <-> physical maps.

Every parameter is a real number stored on a grid of 128 steps (``kind="continuous"``, ``max=127``).
Step ``s`` is the unit value ``u = s / 127`` and the physical value ``to_physical(u)``: ``low + u (high
- low)`` on a linear scale, ``low (high / low) ** u`` on a log scale (frequencies, times, Q factors, so
that a step is the same ratio everywhere in the range). ``docs/synths.md`` tabulates the parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from spinvae.presets.schema import Parameter, ParameterSchema

N_STEPS = 128
MAX_STEP = N_STEPS - 1

Scale = Literal["linear", "log"]


@dataclass(frozen=True)
class PluckParameter:
    """One physical control of the pluck synth: its range ``low..high`` in ``unit`` on ``scale``, the
    physical value its default step is nearest to, and what it does."""

    name: str
    low: float
    high: float
    unit: str
    scale: Scale
    default: float
    meaning: str

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"{self.name}: need low < high")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"{self.name}: a log scale needs low > 0")
        if not self.low <= self.default <= self.high:
            raise ValueError(f"{self.name}: default outside its range")

    def unit_value(self, physical: float) -> float:
        """``physical`` as a unit value (0 at ``low``, 1 at ``high``)."""
        if self.scale == "log":
            return math.log(physical / self.low) / math.log(self.high / self.low)
        return (physical - self.low) / (self.high - self.low)

    @property
    def default_step(self) -> int:
        return int(round(self.unit_value(self.default) * MAX_STEP))


# ranges in dB span 31.75 dB where 0 dB (or -6 dB/oct) should be exactly on the grid: steps of 0.25 dB
PLUCK_PARAMETERS: tuple[PluckParameter, ...] = (
    # level and dynamics
    PluckParameter("level", 0.0, 1.0, "gain", "linear", 0.5,
                   "output amplitude at full velocity (the string's partial amplitudes sum to it)"),
    PluckParameter("velocity_level", 0.0, 40.0, "dB", "linear", 20.0,
                   "level drop from velocity 127 down to velocity 0 (linear in dB)"),
    PluckParameter("velocity_brightness", 0.0, 4.0, "oct", "linear", 1.0,
                   "how far the brightness cutoff falls from velocity 127 down to velocity 0"),
    # the string's spectrum at the pluck
    PluckParameter("inharmonicity", 0.0, 0.001, "B", "linear", 0.0,
                   "stiffness coefficient B: partial k sits at k f0 sqrt(1 + B k^2)"),
    PluckParameter("brightness", 200.0, 16000.0, "Hz", "log", 3000.0,
                   "cutoff of the spectral envelope's low-pass, above which partials roll off"),
    PluckParameter("rolloff", 3.0, 48.0, "dB/oct", "linear", 12.0,
                   "slope of the spectral envelope above the brightness cutoff"),
    PluckParameter("tilt", -19.75, 12.0, "dB/oct", "linear", -6.0,
                   "slope of partial amplitudes over partial number (-6: amplitudes 1/k)"),
    PluckParameter("even_gain", -25.75, 6.0, "dB", "linear", 0.0,
                   "gain of even partials relative to odd ones"),
    PluckParameter("pluck_position", 0.02, 0.5, "fraction", "log", 0.15,
                   "plucking point as a fraction of the string's length (comb notches at multiples of 1/p)"),
    PluckParameter("comb_depth", 0.0, 1.0, "fraction", "linear", 0.7,
                   "how deep the pluck-position comb cuts (0: no comb, 1: |sin(pi k p)|)"),
    # decay
    PluckParameter("decay", 0.05, 30.0, "s", "log", 3.0,
                   "T60 (time to fall 60 dB) of the fundamental at middle C (MIDI 60)"),
    PluckParameter("decay_keytrack", 0.0, 1.5, "exponent", "linear", 0.7,
                   "the fundamental's T60 scales as (f0 / 261.6 Hz) ** -decay_keytrack"),
    PluckParameter("decay_tilt", 0.0, 2.0, "exponent", "linear", 1.0,
                   "within a note, partial k's decay rate grows as (f_k / f0) ** decay_tilt"),
    PluckParameter("damping", 0.01, 20.0, "s", "log", 1.0,
                   "T60 of the extra loss (growing as frequency squared) on its own at 4 kHz"),
    PluckParameter("beat", 0.0, 8.0, "cents", "linear", 1.0,
                   "detuning of the string's second polarisation (beats between the two)"),
    PluckParameter("aftersound", 0.0, 0.6, "fraction", "linear", 0.2,
                   "share of the amplitude in the second polarisation"),
    PluckParameter("aftersound_decay", 1.0, 4.0, "ratio", "log", 2.0,
                   "how many times longer the second polarisation rings"),
    # onset and the pluck's noise
    PluckParameter("attack", 0.1, 30.0, "ms", "log", 0.5,
                   "time constant of the onset (1 - exp(-t / attack))"),
    PluckParameter("noise_level", -60.0, 0.0, "dB", "linear", -30.0,
                   "RMS of the pluck's noise burst relative to the string's level"),
    PluckParameter("noise_length", 1.0, 200.0, "ms", "log", 10.0,
                   "T60 of the noise burst"),
    PluckParameter("noise_freq", 100.0, 12000.0, "Hz", "log", 2000.0,
                   "centre of the noise burst's band-pass"),
    PluckParameter("noise_q", 0.3, 8.0, "Q", "log", 1.0,
                   "quality factor of the noise burst's band-pass (higher: narrower)"),
    # body
    PluckParameter("body_freq1", 70.0, 800.0, "Hz", "log", 110.0,
                   "first body resonance (the air mode of a guitar)"),
    PluckParameter("body_q1", 1.0, 20.0, "Q", "log", 8.0,
                   "quality factor of the first body resonance"),
    PluckParameter("body_gain1", -12.0, 19.75, "dB", "linear", 6.0,
                   "peak gain of the first body resonance (0: none, below 0: a dip)"),
    PluckParameter("body_freq2", 150.0, 5000.0, "Hz", "log", 400.0,
                   "second body resonance (a plate or membrane mode)"),
    PluckParameter("body_q2", 1.0, 20.0, "Q", "log", 4.0,
                   "quality factor of the second body resonance"),
    PluckParameter("body_gain2", -12.0, 19.75, "dB", "linear", 3.0,
                   "peak gain of the second body resonance"),
    # note-off
    PluckParameter("release", 0.01, 3.0, "s", "log", 0.2,
                   "T60 of the fade after note-off (a raised-cosine taper also ends it at the render's end)"),
)

PARAMETER_NAMES: tuple[str, ...] = tuple(p.name for p in PLUCK_PARAMETERS)
N_PARAMS = len(PLUCK_PARAMETERS)
PARAMETER_INDEX: dict[str, int] = {name: i for i, name in enumerate(PARAMETER_NAMES)}

PLUCK_SCHEMA = ParameterSchema(
    "pluck",
    tuple(Parameter(index=i, name=p.name, max=MAX_STEP, kind="continuous", default=p.default_step, type_name=p.name)
          for i, p in enumerate(PLUCK_PARAMETERS)),
)

DEFAULT_STEPS = np.array([p.default_step for p in PLUCK_PARAMETERS], dtype=np.uint8)

_IS_LOG = np.array([p.scale == "log" for p in PLUCK_PARAMETERS])
# log-scale bounds are stored as logarithms, so both scales are one affine map from the unit value
_LOW = np.array([math.log(p.low) if p.scale == "log" else p.low for p in PLUCK_PARAMETERS])
_HIGH = np.array([math.log(p.high) if p.scale == "log" else p.high for p in PLUCK_PARAMETERS])


def _table(like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    dtype = like.dtype if like.is_floating_point() else torch.float64
    return (torch.as_tensor(_LOW, dtype=dtype, device=like.device),
            torch.as_tensor(_HIGH, dtype=dtype, device=like.device),
            torch.as_tensor(_IS_LOG, device=like.device))


def to_physical(unit: Tensor) -> Tensor:
    """Physical values (..., P) of unit values ``unit`` (..., P) (0 at each parameter's ``low``, 1 at
    its ``high``; values outside [0, 1] extrapolate the same map). Differentiable; keeps the dtype
    (float64 for integer input) and the device."""
    unit = torch.as_tensor(unit)
    low, high, is_log = _table(unit)
    affine = low + unit * (high - low)
    return torch.where(is_log, torch.exp(affine), affine)


def to_unit(physical: Tensor) -> Tensor:
    """Inverse of :func:`to_physical`: unit values (..., P) of physical values (..., P) (log-scale
    values must be positive)."""
    physical = torch.as_tensor(physical)
    low, high, is_log = _table(physical)
    # the log of a linear-scale value is never used, but must not be NaN where it is masked out
    value = torch.where(is_log, torch.log(torch.where(is_log, physical, torch.ones_like(physical))), physical)
    return (value - low) / (high - low)


def steps_to_unit(values: np.ndarray) -> np.ndarray:
    """Unit values (..., P) float64 of grid steps ``values`` (..., P) uint8: ``step / 127``."""
    return np.asarray(values, dtype=np.float64) / MAX_STEP


def unit_to_steps(unit: np.ndarray) -> np.ndarray:
    """The nearest grid steps (..., P) uint8 of unit values (..., P) (clipped to 0..127)."""
    return np.clip(np.rint(np.asarray(unit, dtype=np.float64) * MAX_STEP), 0, MAX_STEP).astype(np.uint8)
