"""The Yamaha DX7, through the Dexed engine of the dexed-py package."""

from __future__ import annotations

import numpy as np
from dexed._dexed import DexedSynth as _DexedEngine

from spinvae.synth.dx7.schema import DX7_SCHEMA

_ALL_OPERATORS_ON = b"\x3f"  # byte 156 of a VCED voice: the operator on/off mask


class DexedSynth:
    """Dexed rendering DX7 voices (155,) uint8 to mono float32 audio.

    Renders are bit-identical across runs and instances: the engine's state is reset for each
    note. The engine releases the GIL while it computes, so threads with one instance each
    render in parallel.
    """

    schema = DX7_SCHEMA

    def __init__(self, sample_rate: int = 16000):
        self.sample_rate = int(sample_rate)
        self._engine = _DexedEngine(float(sample_rate), 0)

    def render(self, preset: np.ndarray, note: int, velocity: int, note_duration: float, duration: float) -> np.ndarray:
        self._engine.load_sysex(np.ascontiguousarray(preset, dtype=np.uint8).tobytes() + _ALL_OPERATORS_ON)
        return self._engine.render(int(note), int(velocity), float(note_duration), float(duration))
