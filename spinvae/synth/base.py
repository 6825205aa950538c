"""The interface every synth behind spinvae implements: a parameter schema and a renderer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from spinvae.presets.schema import ParameterSchema


@dataclass(frozen=True)
class RenderSettings:
    """How presets are played: each (MIDI note, velocity) pair is held for ``note_duration``
    seconds within a render of ``duration`` seconds at ``sample_rate`` Hz."""

    sample_rate: int = 16000
    notes: tuple[tuple[int, int], ...] = ((56, 75),)
    note_duration: float = 3.0
    duration: float = 4.0

    def __post_init__(self) -> None:
        if not self.notes:
            raise ValueError("at least one (note, velocity) pair is needed")
        for note, velocity in self.notes:
            if not (0 <= note <= 127 and 1 <= velocity <= 127):
                raise ValueError(f"invalid (note, velocity) pair ({note}, {velocity})")
        if not 0 < self.note_duration <= self.duration:
            raise ValueError("need 0 < note_duration <= duration")

    @property
    def n_samples(self) -> int:
        return int(round(self.sample_rate * self.duration))


class Synth(Protocol):
    """A synthesizer: presets are integer vectors of ``schema``; one instance is used by one
    thread at a time (give each thread its own to render in parallel)."""

    schema: ParameterSchema
    sample_rate: int

    def render(self, preset: np.ndarray, note: int, velocity: int, note_duration: float, duration: float) -> np.ndarray:
        """Audio (round(sample_rate * duration),) float32 of one preset (n_params,) uint8."""
        ...
