"""Notes rendered ahead of time: every distinct preset of a path at a few key centres, played at any key.

Dexed renders one whole note at a time (it does not stream), and a live note cannot wait for a render;
the pluck synth renders whole notes too. So before playing, every distinct preset of the path is
rendered at key centres ``key_step`` semitones apart (one velocity, the note held for the whole
render); a key between centres plays the nearest centre's note resampled (as a sampler does: a key
``k`` semitones away plays ``2 ** (k / 12)`` times faster, at most ``key_step / 2`` semitones off, which
shortens or lengthens the note by at most 19 % for the default 6).

Memory: distinct presets x centres x ``note_seconds`` x rate x 4 bytes: with the defaults (C2..C7, 11
centres, 2.5 s, 48 kHz) 5.3 MB a preset, 675 MB when every CC value decodes to another preset (a
parameter-by-parameter morph of the pluck synth); a model's path usually holds far fewer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from spinvae.errors import SettingError

from spinvae.synth.base import RenderSettings, Synth


@dataclass(frozen=True)
class CacheSettings:
    """``sample_rate`` (Hz); key centres from ``lowest_key`` to ``highest_key`` every ``key_step``
    semitones (MIDI); notes rendered at ``velocity``, ``note_seconds`` long, held throughout."""

    sample_rate: int = 48000
    lowest_key: int = 36
    highest_key: int = 96
    key_step: int = 6
    velocity: int = 100
    note_seconds: float = 2.5

    def __post_init__(self) -> None:
        if not 0 <= self.lowest_key <= self.highest_key <= 127:
            raise SettingError("key_range", f"{self.lowest_key}:{self.highest_key}",
                               "give LOW:HIGH MIDI keys with 0 <= LOW <= HIGH <= 127")
        if self.key_step < 1:
            raise SettingError("key_step", self.key_step, "give 1 or more semitones")
        if not 1 <= self.velocity <= 127:
            raise SettingError("velocity", self.velocity, "give a MIDI velocity from 1 to 127")
        if self.note_seconds <= 0:
            raise SettingError("note_seconds", self.note_seconds, "give a positive length in seconds")

    @property
    def centres(self) -> np.ndarray:
        return np.arange(self.lowest_key, self.highest_key + 1, self.key_step)


class NoteCache:
    """The notes of every distinct preset of ``presets`` (P, n_params) at the key centres of ``settings``."""

    def __init__(self, synth: Synth, presets: np.ndarray, settings: CacheSettings = CacheSettings(), workers: int = 2):
        started = time.perf_counter()
        self.settings = settings
        distinct, self.index = np.unique(np.asarray(presets, dtype=np.uint8), axis=0, return_inverse=True)
        self.index = self.index.reshape(-1)
        self.centres = settings.centres
        render = RenderSettings(sample_rate=settings.sample_rate,
                                notes=tuple((int(c), settings.velocity) for c in self.centres),
                                note_duration=settings.note_seconds, duration=settings.note_seconds)
        self.audio = synth.render(distinct, render, workers=workers)  # (distinct, centres, samples)
        fade = min(len(self.audio[0, 0]), int(0.01 * settings.sample_rate))  # no click where a render ends
        self.audio[..., -fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        self.seconds = time.perf_counter() - started

    @property
    def nbytes(self) -> int:
        return self.audio.nbytes

    def source(self, position: int, key: int) -> tuple[np.ndarray, float]:
        """The rendered note (n,) float32 that CC value ``position``'s preset plays MIDI ``key`` from, and the
        rate (source samples per output sample) to read it at."""
        c = int(np.argmin(np.abs(self.centres - key)))
        return self.audio[self.index[position], c], float(2.0 ** ((key - self.centres[c]) / 12.0))

    def note(self, position: int, key: int) -> np.ndarray:
        """The whole note (n,) float32 of CC value ``position``'s preset at MIDI ``key``."""
        source, ratio = self.source(position, key)
        return read_resampled(source, ratio, 0, resampled_length(len(source), ratio))


def resampled_length(n: int, ratio: float) -> int:
    """Output samples of a source of ``n`` samples read at ``ratio`` source samples per output sample."""
    return n if ratio == 1.0 else int(np.ceil((n - 1) / ratio))


def read_resampled(source: np.ndarray, ratio: float, start: int, n: int) -> np.ndarray:
    """Output samples ``start`` .. ``start + n`` (float32) of ``source`` read at ``ratio`` (linear interpolation).

    Block by block in the audio callback as in one piece offline: sample i is always the same sum, so a
    note read in blocks equals the note read whole."""
    if ratio == 1.0:
        return source[start : start + n]
    at = np.arange(start, start + n, dtype=np.float64) * ratio
    i = np.minimum(at.astype(np.int64), len(source) - 2)
    frac = (at - i).astype(np.float32)
    return source[i] + frac * (source[i + 1] - source[i])
