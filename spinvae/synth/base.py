"""The interface every synth behind spinvae implements (docs/synths.md).

A synth is a plug-in: a package under :mod:`spinvae.synth` with one :class:`Synth` subclass,
registered by name in :mod:`spinvae.synth.registry`. Nothing outside its package names it: data,
model, training, interpolation, evaluation and the command line reach it through
:func:`spinvae.synth.registry.get_synth` and this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

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

    @classmethod
    def from_dict(cls, data: dict) -> RenderSettings:
        """From plain values (a manifest's or a checkpoint's ``render``: notes as lists)."""
        return cls(int(data["sample_rate"]), tuple(tuple(int(x) for x in nv) for nv in data["notes"]),
                   float(data["note_duration"]), float(data["duration"]))


def parse_notes(pairs: list[str]) -> tuple[tuple[int, int], ...]:
    """``["56:75", "48:100"]`` -> ((56, 75), (48, 100)); ValueError naming a pair that is not NOTE:VELOCITY."""
    notes = []
    for pair in pairs:
        try:
            note, velocity = (int(x) for x in str(pair).split(":"))
        except ValueError:
            raise ValueError(f"{pair!r} is not NOTE:VELOCITY (for example 56:75)") from None
        notes.append((note, velocity))
    return tuple(notes)


class PresetFileError(ValueError):
    """A preset file that cannot be read: the message is one line naming the file and the reason."""


@dataclass(frozen=True)
class PresetBank:
    """Presets read from one file or made by a generator.

    ``params`` (n, n_params) uint8 in the synth's schema; ``names`` one per preset (the preset's own
    name, or its family for generated ones); ``warnings`` problems that did not stop the reading (a
    bad checksum), one line each, for the caller to show.
    """

    params: np.ndarray
    names: tuple[str, ...]
    warnings: tuple[str, ...] = ()


class Synth(ABC):
    """A synthesizer behind spinvae: its parameter schema, how it sounds, its files and its defaults.

    Presets are integer vectors (n_params,) uint8 of :attr:`schema` (continuous parameters on the
    schema's grid). An instance holds no per-render state: :meth:`render` may be called from any
    thread.
    """

    #: the name users choose it by (``--synth NAME``), recorded in manifests, checkpoints and reports
    name: ClassVar[str]
    schema: ClassVar[ParameterSchema]
    #: file name suffixes :meth:`read_bank` reads (lower case, with the dot), the first one what
    #: :meth:`write_bank` writes
    preset_suffixes: ClassVar[tuple[str, ...]]
    #: presets a written bank file holds at most (None: any number)
    bank_size: ClassVar[int | None] = None
    #: train-time variations of each training preset (:meth:`vary`); 1: the preset alone
    n_variations: ClassVar[int] = 1
    #: the reference interpolation's rule for categorical parameters (``normalised`` or ``switch``,
    #: :func:`spinvae.interpolation.paths.parameter_path`)
    reference_categorical: ClassVar[str] = "normalised"
    #: whether :meth:`render_controls` renders differentiably from continuous controls
    differentiable: ClassVar[bool] = False
    #: whether :meth:`preset_message` sends a preset over MIDI (a synth outside spinvae plays it)
    midi_presets: ClassVar[bool] = False

    @abstractmethod
    def version(self) -> str:
        """The engine's version: part of a dataset's fingerprint, so a new engine rebuilds renders."""

    @abstractmethod
    def render(self, params: np.ndarray, settings: RenderSettings, workers: int = 1,
               delays: np.ndarray | None = None) -> np.ndarray:
        """Audio (n, n_notes, n_samples) float32 of presets ``params`` (n, n_params) at every
        (note, velocity) of ``settings``; ``delays`` (n,) delays each preset's note-on by that many
        samples (the train-time audio augmentation), keeping the length. Deterministic."""

    @abstractmethod
    def read_bank(self, path: str | Path) -> PresetBank:
        """The presets of one file; raises :class:`PresetFileError` for a file it cannot read."""

    @abstractmethod
    def write_bank(self, path: str | Path, params: np.ndarray, names: list[str] | None = None) -> list[Path]:
        """Write presets (n, n_params) to ``path`` (more files, numbered, when n exceeds
        :attr:`bank_size`); returns the files written."""

    @abstractmethod
    def generate(self, n: int, seed: int = 0) -> PresetBank:
        """``n`` presets of the synth's procedural generator (the embedded default data), the same
        for the same seed; ``names`` are their families."""

    def read_preset(self, reference: str) -> tuple[np.ndarray, str]:
        """One preset (n_params,) and its name from ``FILE:INDEX`` (INDEX 0-based among the file's
        presets) or ``FILE`` (a file of one preset); :class:`PresetFileError` (one line) otherwise."""
        path, sep, index = reference.rpartition(":")
        if not sep or not index.isdigit():
            path, index = reference, None
        if not Path(path).is_file():
            raise PresetFileError(f"{path}: cannot read: no such file (give FILE or FILE:INDEX, INDEX 0-based)")
        bank = self.read_bank(path)
        if index is None:
            if len(bank.params) != 1:
                raise PresetFileError(f"{path}: holds {len(bank.params)} presets; give FILE:INDEX (INDEX 0-based)")
            index = "0"
        if int(index) >= len(bank.params):
            raise PresetFileError(f"{path}: preset {index} asked for, the file holds {len(bank.params)} (0-based index)")
        return bank.params[int(index)], bank.names[int(index)].rstrip()

    def preset_names(self, params: np.ndarray) -> list[str]:
        """A display name per preset (n, n_params): the preset's own, or an empty string."""
        return [""] * len(np.asarray(params))

    def vary(self, values: np.ndarray, variation: int, rng: np.random.Generator) -> np.ndarray:
        """Variation ``variation`` (0 .. n_variations - 1, 0 the preset unchanged) of learnable
        values (n, n_learnable) uint8, as a new array."""
        if not 0 <= variation < self.n_variations:
            raise ValueError(f"{self.name}: variation {variation} outside 0..{self.n_variations - 1}")
        return np.array(values, dtype=np.uint8, copy=True)

    def preset_message(self, params: np.ndarray, channel: int = 0) -> bytes:
        """Synths that take presets over MIDI: the complete MIDI message (a sysex, ``F0 .. F7``) that
        makes the receiving synth play preset ``params`` (n_params,) (``spinvae play --midi-out``)."""
        raise NotImplementedError(f"the {self.name} synth takes no preset over MIDI")

    def read_preset_message(self, message: bytes) -> np.ndarray:
        """The preset (n_params,) uint8 a :meth:`preset_message` carries; ValueError for another message."""
        raise NotImplementedError(f"the {self.name} synth takes no preset over MIDI")

    def render_controls(self, controls, notes, velocities, settings: RenderSettings):
        """Differentiable synths: audio (n, n_samples) torch tensor from learnable values as
        continuous controls (n, n_learnable) in [0, 1] (``step / (n_steps - 1)``, between steps too),
        one (note, velocity) per row."""
        raise NotImplementedError(f"the {self.name} synth is not differentiable")


class Voice(Protocol):
    """A one-note renderer of a synth whose engine renders note by note (the DX7's Dexed); one
    instance is used by one thread at a time (give each thread its own to render in parallel)."""

    schema: ParameterSchema
    sample_rate: int

    def render(self, preset: np.ndarray, note: int, velocity: int, note_duration: float, duration: float) -> np.ndarray:
        """Audio (round(sample_rate * duration),) float32 of one preset (n_params,) uint8."""
        ...
