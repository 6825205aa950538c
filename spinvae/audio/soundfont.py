"""Real plucked and struck notes, rendered from a General MIDI soundfont by the ``fluidsynth`` command.

They are the recordings the tests and demos of sound matching use: sampled instruments, not the
synths spinvae learns, so a match to them is a match to a sound no preset made. A note is one MIDI
file (program change, note-on at 0 s, note-off after ``held`` seconds) played by ``fluidsynth`` with
reverb and chorus off, so it is dry and the same samples come back for the same call.

Needs Debian's ``fluidsynth`` and ``fluid-soundfont-gm`` (:func:`soundfont_available` says what is
missing, for tests to skip with).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")

#: General MIDI programs (0-based) of plucked and struck instruments
INSTRUMENTS: dict[str, int] = {
    "nylon": 24,
    "steel": 25,
    "harp": 46,
    "harpsichord": 6,
    "koto": 107,
    "banjo": 105,
    "pizzicato": 45,
}

_INSTALL = "apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm"
_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# MIDI time: 1,000,000 us per beat and this many ticks per beat, so a tick is 0.1 ms exactly
# (fluidsynth's player works in whole milliseconds anyway)
_TICKS_PER_SECOND = 10000


def soundfont_available(soundfont: Path = SOUNDFONT) -> str | None:
    """None when the ``fluidsynth`` command and ``soundfont`` are there, else one line saying what is
    missing and what to install."""
    if shutil.which("fluidsynth") is None:
        return f"the fluidsynth command is not installed ({_INSTALL})"
    if not Path(soundfont).is_file():
        return f"soundfont {soundfont} not found ({_INSTALL})"
    return None


def note_name(note: int) -> str:
    """MIDI note number -> scientific pitch name, sharps as ``#``: 60 -> ``C4``, 61 -> ``C#4``, 0 -> ``C-1``."""
    if not 0 <= note <= 127:
        raise ValueError(f"MIDI note {note} is outside 0..127")
    return f"{_NAMES[note % 12]}{note // 12 - 1}"


def note_file_name(instrument: str, note: int) -> str:
    """The WAV file name of a rendered note: ``("nylon", 40)`` -> ``nylon_E2.wav``; the note name is one
    :func:`spinvae.matching.recording.note_from_name` reads back."""
    return f"{instrument}_{note_name(note)}.wav"


def _write_midi(path: Path, program: int, note: int, velocity: int, held: float, duration: float) -> None:
    """A one-note type-0 MIDI file on channel 0; its end of track falls at ``duration`` seconds so that
    fluidsynth renders at least that long."""
    import mido

    midi = mido.MidiFile(type=0, ticks_per_beat=_TICKS_PER_SECOND)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    on_ticks = int(round(held * _TICKS_PER_SECOND))
    end_ticks = max(int(round(duration * _TICKS_PER_SECOND)), on_ticks)
    # times are deltas in ticks
    track.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))
    track.append(mido.Message("program_change", channel=0, program=program, time=0))
    track.append(mido.Message("note_on", channel=0, note=note, velocity=velocity, time=0))
    track.append(mido.Message("note_off", channel=0, note=note, velocity=0, time=on_ticks))
    track.append(mido.MetaMessage("end_of_track", time=end_ticks - on_ticks))
    midi.save(path)


def render_note(instrument: str, note: int, velocity: int = 100, duration: float = 4.0, held: float = 3.0,
                sample_rate: int = 48000, soundfont: Path = SOUNDFONT) -> np.ndarray:
    """One note of a soundfont instrument: mono float32 (round(duration * sample_rate),), full scale 1
    (FluidR3's plucked notes peak near 0.3 at velocity 100; nothing is clipped).

    ``instrument`` is a key of :data:`INSTRUMENTS`; ``note`` a MIDI number; ``velocity`` 1..127; the
    note starts at 0 s and is released after ``held`` seconds; the render is ``duration`` seconds at
    ``sample_rate`` Hz (fluidsynth's output is cut or padded with zeros to that length). The two
    channels are averaged. Deterministic: the same call gives the same samples.

    Raises ValueError for an unknown instrument or an invalid note/velocity/time and RuntimeError
    (one line) when fluidsynth or the soundfont is missing or fails, or the note comes out silent.
    """
    soundfont = Path(soundfont)
    if instrument not in INSTRUMENTS:
        raise ValueError(f"unknown instrument {instrument!r} (one of {', '.join(INSTRUMENTS)})")
    if not (0 <= note <= 127 and 1 <= velocity <= 127):
        raise ValueError(f"invalid note {note} or velocity {velocity} (note 0..127, velocity 1..127)")
    if not (0 < held and 0 < duration and sample_rate > 0):
        raise ValueError("need held > 0, duration > 0 and sample_rate > 0")
    reason = soundfont_available(soundfont)
    if reason is not None:
        raise RuntimeError(reason)
    # fluidsynth skips a file that is not a soundfont and plays its default one instead, saying so
    # only on stderr: check the RIFF header ourselves
    with open(soundfont, "rb") as file:
        header = file.read(12)
    if header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        raise RuntimeError(f"{soundfont} is not a SoundFont (no RIFF sfbk header)")
    import soundfile

    n_samples = int(round(duration * sample_rate))
    with tempfile.TemporaryDirectory(prefix="spinvae-soundfont-") as folder:
        midi_path, wav_path = Path(folder) / "note.mid", Path(folder) / "note.wav"
        _write_midi(midi_path, INSTRUMENTS[instrument], note, velocity, held, duration)
        # -ni: no MIDI input, no shell; -g 1.0: unit gain rather than the default 0.2; -R 0 -C 0: dry
        # (no reverb or chorus tails); float samples: no 16-bit quantisation or dither
        command = ["fluidsynth", "-ni", "-q", "-g", "1.0", "-R", "0", "-C", "0", "-r", str(sample_rate),
                   "-O", "float", "-T", "wav", "-F", str(wav_path), str(soundfont), str(midi_path)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise RuntimeError(f"fluidsynth failed on {instrument} note {note}: {error}") from None
        if done.returncode != 0 or not wav_path.is_file():
            message = " ".join((done.stderr or done.stdout or f"exit status {done.returncode}").split())[:300]
            raise RuntimeError(f"fluidsynth failed on {instrument} note {note}: {message}")
        audio, rate = soundfile.read(wav_path, dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise RuntimeError(f"fluidsynth wrote {rate} Hz instead of {sample_rate} Hz")
    mono = audio.mean(axis=1)
    # a soundfont without this note, or without the program, makes fluidsynth exit 0 with silence
    if not np.any(mono):
        raise RuntimeError(f"fluidsynth rendered silence for {instrument} note {note} (outside the instrument's "
                           f"range in {soundfont.name}?)")
    out = np.zeros(n_samples, dtype=np.float32)
    out[: min(n_samples, len(mono))] = mono[:n_samples]
    return out


def render_notes(specs: list[tuple[str, int]], velocity: int = 100, duration: float = 4.0, held: float = 3.0,
                 sample_rate: int = 48000, soundfont: Path = SOUNDFONT) -> np.ndarray:
    """Notes ``[(instrument, note), ...]`` -> float32 (n, round(duration * sample_rate)), each as
    :func:`render_note` renders it with the same settings."""
    length = int(round(duration * sample_rate))
    out = np.zeros((len(specs), length), dtype=np.float32)
    for i, (instrument, note) in enumerate(specs):
        out[i] = render_note(instrument, note, velocity, duration, held, sample_rate, soundfont)
    return out
