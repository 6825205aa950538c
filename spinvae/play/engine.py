"""The audio engine: MIDI messages in, blocks of audio out, polyphonic, from a :class:`~.cache.NoteCache`.

Deterministic and clock-free: the live player (:mod:`.live`) and the offline renderer (:mod:`.offline`)
drive the same engine, the live one from JACK's process callback, the offline one from a MIDI file,
each applying the messages that arrived before a block at the start of that block.

Work is split so that no thread holds Python's lock for long (the audio callback needs it every
5.3 ms): :meth:`Engine.prepare` turns a message into an event in the MIDI thread (a note-on looks up
its rendered note), :meth:`Engine.apply` and :meth:`Engine.process` run in the audio thread, reading
each sounding note's block at its key's rate (a few microseconds a voice).

A note plays the preset of the knob's position when it starts: turning the knob changes the notes
that follow, not those sounding (their audio was rendered whole). A note-off starts a release of
``release_seconds`` (a linear fade); the sustain pedal (CC 64) holds released notes until it lifts.
A note's level is its velocity over the cache's velocity (the timbre is the cache's velocity's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mido
import numpy as np

from spinvae.errors import SettingError
from spinvae.play.cache import NoteCache, read_resampled, resampled_length

SUSTAIN_CC = 64
ALL_NOTES_OFF_CC = 123


@dataclass(frozen=True)
class EngineSettings:
    """``cc``: the controller that moves the knob; ``channel``: the MIDI channel listened to (0-based;
    None: all); ``max_voices``: notes sounding at once (the oldest is dropped); ``release_seconds``: the
    fade after a note-off; ``start``: the knob's position before its first CC; ``gain``: the mix's level
    (Dexed's notes peak up to about 2, and chords add up: the mix is clipped to [-1, 1] after it)."""

    cc: int = 1
    channel: int | None = None
    max_voices: int = 24
    release_seconds: float = 0.12
    start: int = 0
    gain: float = 0.25

    def __post_init__(self) -> None:
        if not 0 <= self.cc <= 127:
            raise SettingError("cc", self.cc, "give a MIDI controller number from 0 to 127")
        if not 0 <= self.start <= 127:
            raise SettingError("start", self.start, "give a CC value from 0 to 127")
        if self.channel is not None and not 0 <= self.channel <= 15:
            raise SettingError("channel", self.channel, "give a MIDI channel from 0 to 15 (0-based)")
        if self.max_voices < 1:
            raise SettingError("max_voices", self.max_voices, "give 1 or more")
        if self.release_seconds < 0:
            raise SettingError("release_seconds", self.release_seconds, "give 0 or more seconds")


@dataclass
class _Voice:
    key: int
    channel: int
    source: np.ndarray
    ratio: float
    length: int  # output samples
    gain: float
    at: int = 0  # next sample to play
    released_at: int | None = None  # ``at`` when the release began
    held: bool = False  # released while the sustain pedal was down


@dataclass(frozen=True)
class Event:
    """A message made ready for the audio thread: ``kind`` one of ``note_on`` (with the rendered note
    ``source`` to read at ``ratio``, and ``gain``), ``note_off``, ``sustain``, ``all_off``."""

    kind: str
    key: int = 0
    channel: int = 0
    value: int = 0
    source: np.ndarray | None = None
    ratio: float = 1.0
    gain: float = 0.0


@dataclass
class Engine:
    """The engine of one path's :class:`NoteCache`."""

    cache: NoteCache
    settings: EngineSettings = EngineSettings()
    knob: int = field(init=False)  # the knob's position, as the MIDI thread last saw it
    voices: list[_Voice] = field(init=False, default_factory=list)
    sustain: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.knob = self.settings.start
        self._release = max(1, int(round(self.settings.release_seconds * self.cache.settings.sample_rate)))

    # -- MIDI thread -----------------------------------------------------------------------------
    def prepare(self, message: mido.Message) -> Event | None:
        """The event of ``message`` (None for one the engine ignores), in the order messages arrive: a
        note-on's note is the preset of the knob's position as the messages before it left it."""
        if self.settings.channel is not None and getattr(message, "channel", self.settings.channel) != self.settings.channel:
            return None
        if message.type == "note_on" and message.velocity > 0:
            source, ratio = self.cache.source(self.knob, message.note)
            return Event("note_on", message.note, message.channel, source=source, ratio=ratio,
                         gain=message.velocity / self.cache.settings.velocity)
        if message.type in ("note_off", "note_on"):
            return Event("note_off", message.note, message.channel)
        if message.type == "control_change":
            if message.control == self.settings.cc:
                self.knob = message.value
                return None
            if message.control == SUSTAIN_CC:
                return Event("sustain", value=message.value)
            if message.control == ALL_NOTES_OFF_CC:
                return Event("all_off")
        return None

    # -- audio thread ----------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        if event.kind == "note_on":
            if len(self.voices) >= self.settings.max_voices:
                self.voices.pop(0)
            self.voices.append(_Voice(event.key, event.channel, event.source, event.ratio,
                                      resampled_length(len(event.source), event.ratio), event.gain))
        elif event.kind == "note_off":
            for voice in self.voices:
                if voice.key == event.key and voice.channel == event.channel and voice.released_at is None:
                    if self.sustain:
                        voice.held = True
                    else:
                        voice.released_at = voice.at
        elif event.kind == "sustain":
            self.sustain = event.value >= 64
            if not self.sustain:
                for voice in self.voices:
                    if voice.held and voice.released_at is None:
                        voice.released_at = voice.at
        elif event.kind == "all_off":
            self.release_all()

    def handle(self, message: mido.Message) -> None:
        """:meth:`prepare` and :meth:`apply` in one (the offline path, and tests)."""
        event = self.prepare(message)
        if event is not None:
            self.apply(event)

    def release_all(self) -> None:
        """Every sounding note starts its release (all notes off)."""
        self.sustain = False
        for voice in self.voices:
            if voice.released_at is None:
                voice.released_at = voice.at

    @property
    def sounding(self) -> int:
        return len(self.voices)

    def process(self, frames: int) -> np.ndarray:
        """The next ``frames`` samples (frames,) float32 of every sounding note, mixed and clipped to [-1, 1]."""
        out = np.zeros(frames, dtype=np.float32)
        alive = []
        for voice in self.voices:
            n = min(frames, voice.length - voice.at)
            if voice.released_at is not None:
                n = min(n, voice.released_at + self._release - voice.at)
            if n <= 0:
                continue
            chunk = read_resampled(voice.source, voice.ratio, voice.at, n) * np.float32(voice.gain)
            if voice.released_at is not None:
                done = np.arange(voice.at, voice.at + n) - voice.released_at
                chunk = chunk * (1.0 - done / self._release).astype(np.float32)
            out[:n] += chunk
            voice.at += n
            if voice.at < voice.length and (voice.released_at is None or voice.at < voice.released_at + self._release):
                alive.append(voice)
        self.voices = alive
        return np.clip(out * np.float32(self.settings.gain), -1.0, 1.0)
