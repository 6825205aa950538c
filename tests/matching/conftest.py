"""Real notes for the matching tests: plucked and struck soundfont notes rendered once per module
(skipped, saying what to install, where fluidsynth or the soundfont is missing)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: (instrument, MIDI note) of the rendered notes: E2 nylon, A3 steel, C5 harp, G4 harpsichord,
#: D4 koto, D3 banjo
SOUNDFONT_NOTES: tuple[tuple[str, int], ...] = (
    ("nylon", 40), ("steel", 57), ("harp", 72), ("harpsichord", 67), ("koto", 62), ("banjo", 50),
)
SAMPLE_RATE = 48000


@pytest.fixture(scope="module")
def soundfont_notes(tmp_path_factory) -> dict[tuple[str, int], Path]:
    """WAVs (48 kHz, 24-bit, 2 s with the note released at 1.5 s) of :data:`SOUNDFONT_NOTES`, named
    as :func:`spinvae.audio.soundfont.note_file_name` names them (``nylon_E2.wav``)."""
    import soundfile

    from spinvae.audio.soundfont import note_file_name, render_note, soundfont_available

    reason = soundfont_available()
    if reason is not None:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("soundfont_notes")
    files = {}
    for instrument, note in SOUNDFONT_NOTES:
        path = folder / note_file_name(instrument, note)
        audio = render_note(instrument, note, duration=2.0, held=1.5, sample_rate=SAMPLE_RATE)
        soundfile.write(path, audio, SAMPLE_RATE, subtype="PCM_24")
        files[instrument, note] = path
    return files
