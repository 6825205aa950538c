"""The engine fed a MIDI file: a WAV out, deterministic (the oracle of the live engine, and audio examples
without hardware).

Messages are timed as the file says (tempo changes included, through mido) and applied, as the live
player applies them, at the start of the block they fall in (``block`` frames; 256 at 48 kHz is
5.3 ms). The render goes on until the last note has died away (at most the cache's note length after
the last message).
"""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np

from spinvae.play.engine import Engine


class MidiFileError(ValueError):
    """A MIDI file that cannot be read: one line naming it."""


def read_midi_messages(path: str | Path) -> list[tuple[float, mido.Message]]:
    """(seconds from the start, message) for every channel message of a MIDI file, in order."""
    path = Path(path)
    if not path.is_file():
        raise MidiFileError(f"{path}: no such MIDI file")
    try:
        midi = mido.MidiFile(path)
        events, now = [], 0.0
        for message in midi:  # merged tracks, times in seconds
            now += message.time
            if not message.is_meta and hasattr(message, "channel"):
                events.append((now, message.copy(time=0)))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as err:
        raise MidiFileError(f"{path}: not a readable MIDI file ({type(err).__name__}: {str(err)[:80]})") from None
    return events


def blocks_of(events: list[tuple[float, mido.Message]], sample_rate: int, block: int) -> dict[int, list[mido.Message]]:
    """The messages applied at the start of each block: block index -> messages, in order."""
    out: dict[int, list[mido.Message]] = {}
    for seconds, message in events:
        out.setdefault(int(round(seconds * sample_rate)) // block, []).append(message)
    return out


def render_events(engine: Engine, events: list[tuple[float, mido.Message]], block: int = 256) -> np.ndarray:
    """The engine's output (n,) float32 for ``events`` (seconds, message), block by block."""
    rate = engine.cache.settings.sample_rate
    schedule = blocks_of(events, rate, block)
    last = max(schedule, default=0)
    tail = int(np.ceil(engine.cache.settings.note_seconds * rate / block)) + 1
    out = []
    index = 0
    while index <= last or engine.sounding:
        for message in schedule.get(index, []):
            engine.handle(message)
        out.append(engine.process(block))
        index += 1
        if index > last + tail:  # every note has ended by now
            break
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def render_midi_file(engine: Engine, path: str | Path, out: str | Path, block: int = 256) -> tuple[Path, float]:
    """Render MIDI file ``path`` with ``engine`` into the WAV ``out`` (24-bit); returns it and its length (s)."""
    import soundfile

    audio = render_events(engine, read_midi_messages(path), block)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # 24-bit PCM: libsndfile stamps float WAVs with the time they were written (their PEAK chunk), and a
    # render should be the same file every time
    soundfile.write(out, audio, engine.cache.settings.sample_rate, subtype="PCM_24")
    return out, len(audio) / engine.cache.settings.sample_rate
