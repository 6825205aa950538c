"""Recordings in: the pitch of real soundfont notes (pYIN alone, from the file name, given), note
names, and each refusal with its one-line reason naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from spinvae.matching.recording import Recording, RecordingError, note_from_name, read_recording
from tests.matching.conftest import SAMPLE_RATE, SOUNDFONT_NOTES


def refusal(path: Path, **kwargs) -> str:
    """The reason :func:`read_recording` gives for refusing ``path``, checked to be one line naming it."""
    with pytest.raises(RecordingError) as caught:
        read_recording(path, **kwargs)
    error = caught.value
    assert str(error) == f"{path}: {error.reason}" and "\n" not in str(error)
    assert error.path == path
    return error.reason


@pytest.mark.parametrize("instrument, note", SOUNDFONT_NOTES)
def test_pyin_alone_finds_the_note(soundfont_notes, tmp_path, instrument, note):
    hidden = tmp_path / "recording.wav"  # no note in the name
    shutil.copy(soundfont_notes[instrument, note], hidden)
    recording = read_recording(hidden)
    assert isinstance(recording, Recording) and recording.note_source == "pyin"
    assert abs(recording.note - note) < 0.5, (instrument, recording.note)
    assert recording.f0_hz == pytest.approx(440.0 * 2 ** ((recording.note - 69) / 12))
    assert recording.voiced > 0.8
    assert recording.sample_rate == SAMPLE_RATE and recording.audio.dtype == np.float32
    assert recording.audio.shape == (2 * SAMPLE_RATE,) and recording.seconds == pytest.approx(2.0)


@pytest.mark.parametrize("instrument, note", SOUNDFONT_NOTES)
def test_the_file_name_names_the_note(soundfont_notes, instrument, note):
    recording = read_recording(soundfont_notes[instrument, note])
    assert recording.note_source == "file name"
    assert abs(recording.note - note) < 0.5  # the measured, fractional note


def test_a_given_note_wins_and_a_disagreeing_measure_is_kept_apart(soundfont_notes):
    path = soundfont_notes["nylon", 40]
    assert read_recording(path, note=40).note_source == "given"
    # F#2 given to an E2 recording: the label is trusted, the measured pitch is recorded
    detuned = read_recording(path, note=42)
    assert detuned.note_source == "given" and detuned.note == 42.0
    assert abs(12 * np.log2(detuned.f0_hz / 440.0) + 69 - 40) < 0.5


def test_a_44_1_khz_stereo_file_reads_at_its_own_rate(soundfont_notes, tmp_path):
    import librosa

    audio, _ = soundfile.read(soundfont_notes["harp", 72], dtype="float32")
    audio = librosa.resample(audio, orig_sr=SAMPLE_RATE, target_sr=44100)
    path = tmp_path / "harp_C5_44k.wav"
    soundfile.write(path, np.stack([audio, 0.5 * audio], axis=1), 44100)  # stereo: mixed to mono
    recording = read_recording(path)
    assert recording.sample_rate == 44100 and recording.audio.shape == audio.shape
    np.testing.assert_allclose(recording.audio, 0.75 * audio, atol=1e-4)
    assert recording.note_source == "file name" and abs(recording.note - 72) < 0.5


@pytest.mark.parametrize("name, note", [
    ("guitar_E2.wav", 40), ("harp-C#4-soft.wav", 61), ("Bb3", 58), ("a4", 69), ("A0.flac", 21),
    ("piano C8.aiff", 108), ("sub_C-1.wav", 0), ("folder/koto_D4_take2.wav", 62), ("Cb4.wav", 59),
    ("bass_take2.wav", None), ("decay.wav", None), ("A440.wav", None), ("cafe2.wav", None),
    ("chord_C4-E4-G4.wav", None), ("take.wav", None), ("G#9.wav", None),
])
def test_note_from_name(name, note):
    assert note_from_name(name) == note


def test_refusals_name_the_file_and_the_reason(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.touch()
    assert refusal(empty) == "empty file"

    frames = tmp_path / "no_frames.wav"
    soundfile.write(frames, np.zeros(0, np.float32), SAMPLE_RATE)
    assert refusal(frames) == "empty file"

    short = tmp_path / "short.wav"
    soundfile.write(short, 0.3 * np.sin(2 * np.pi * 440 * np.arange(4800) / SAMPLE_RATE), SAMPLE_RATE)
    assert refusal(short) == "too short: 0.10 s (at least 0.25 s)"

    silence = tmp_path / "silence.wav"
    soundfile.write(silence, np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    assert refusal(silence) == "silent: -inf dBFS RMS (below -60)"

    quiet = tmp_path / "quiet.wav"  # a sine of RMS -72 dBFS
    sine = np.sqrt(2) * 10 ** (-72 / 20) * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE) / SAMPLE_RATE)
    soundfile.write(quiet, sine.astype(np.float32), SAMPLE_RATE, subtype="FLOAT")
    assert refusal(quiet) == "silent: -72.0 dBFS RMS (below -60)"

    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n")
    assert refusal(text).startswith("cannot read audio: ")

    missing = tmp_path / "missing.wav"
    assert refusal(missing) == "cannot read audio: no such file"


def test_white_noise_is_refused(tmp_path):
    path = tmp_path / "noise.wav"
    soundfile.write(path, 0.1 * np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE), SAMPLE_RATE)
    reason = refusal(path)
    assert reason.startswith("no single pitch found (unpitched, polyphonic or noise): voiced in ")
    assert reason.endswith(" % of frames")


@pytest.fixture(scope="module")
def chord_file(soundfont_notes, tmp_path_factory) -> Path:
    """C4 + E4 + G4 of the nylon guitar, mixed."""
    from spinvae.audio.soundfont import render_notes

    path = tmp_path_factory.mktemp("chord") / "chord.wav"
    notes = render_notes([("nylon", 60), ("nylon", 64), ("nylon", 67)], duration=2.0, held=1.5,
                         sample_rate=SAMPLE_RATE)
    soundfile.write(path, notes.sum(axis=0) / 3, SAMPLE_RATE)
    return path


def test_a_chord_is_refused(chord_file, tmp_path):
    assert refusal(chord_file).startswith("no single pitch found (unpitched, polyphonic or noise): ")
    # named after its root, it is still refused
    named = tmp_path / "chord_C4.wav"
    shutil.copy(chord_file, named)
    assert refusal(named).startswith("no single pitch found (unpitched, polyphonic or noise): ")


def test_a_note_out_of_range_is_refused(soundfont_notes, tmp_path):
    path = soundfont_notes["koto", 62]
    assert refusal(path, note=5.2) == "pitch out of range: MIDI 5.2 (the synth plays 21..108)"
    low = tmp_path / "sub_C-1.wav"  # named below the synth's keyboard
    shutil.copy(path, low)
    assert refusal(low) == "pitch out of range: MIDI 0.0 (the synth plays 21..108)"
