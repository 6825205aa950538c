"""Soundfont notes: pitch of a rendered A4, exact lengths, determinism, decay after the note-off,
note names; skipped, with what to install, where fluidsynth or the soundfont is missing."""

from __future__ import annotations

import numpy as np
import pytest

from spinvae.audio.soundfont import (
    INSTRUMENTS, note_file_name, note_name, render_note, render_notes, soundfont_available,
)

needs_soundfont = pytest.mark.skipif(soundfont_available() is not None, reason=str(soundfont_available()))


def fft_peak_hz(audio: np.ndarray, sample_rate: int, low: float, high: float) -> float:
    """The frequency (Hz) of the strongest spectral peak between ``low`` and ``high`` Hz: Hann-windowed
    FFT, zero-padded, refined by a parabola through the log magnitudes around the peak bin."""
    n_fft = 1 << 20
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)), n_fft))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    k = int(np.argmax(np.where((freqs > low) & (freqs < high), spectrum, 0.0)))
    a, b, c = np.log(spectrum[k - 1:k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sample_rate / n_fft


@needs_soundfont
def test_harp_a4_is_440_hz():
    sr = 48000
    audio = render_note("harp", 69, sample_rate=sr)
    hz = fft_peak_hz(audio[int(0.1 * sr):int(1.1 * sr)], sr, 400.0, 480.0)
    assert abs(1200 * np.log2(hz / 440.0)) < 10.0, hz


@needs_soundfont
@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_length_is_exact(sample_rate):
    audio = render_note("nylon", 52, duration=1.3, held=1.0, sample_rate=sample_rate)
    assert audio.shape == (round(1.3 * sample_rate),) and audio.dtype == np.float32
    assert 0.01 < np.abs(audio).max() <= 1.0


@needs_soundfont
def test_deterministic_and_batch():
    first = render_note("banjo", 50, duration=1.0, held=0.5)
    assert np.array_equal(first, render_note("banjo", 50, duration=1.0, held=0.5))
    both = render_notes([("banjo", 50), ("koto", 62)], duration=1.0, held=0.5)
    assert both.shape == (2, 48000) and np.array_equal(both[0], first)
    assert not np.array_equal(both[0], both[1])


@needs_soundfont
def test_harp_decays_after_the_note():
    sr = 48000
    audio = render_note("harp", 69, duration=4.0, held=3.0, sample_rate=sr)
    first = np.sqrt(np.mean(audio[:sr] ** 2))
    last = np.sqrt(np.mean(audio[-sr // 5:] ** 2))
    assert 20 * np.log10(last / first) < -40.0


@needs_soundfont
def test_refusals(tmp_path):
    with pytest.raises(ValueError, match="unknown instrument"):
        render_note("kazoo", 60)
    with pytest.raises(ValueError, match="invalid note"):
        render_note("harp", 128)
    # fluidsynth itself would fall back on its default soundfont
    fake = tmp_path / "fake.sf2"
    fake.write_text("not a soundfont")
    with pytest.raises(RuntimeError, match="fake.sf2 is not a SoundFont"):
        render_note("harp", 60, soundfont=fake)
    with pytest.raises(RuntimeError, match="rendered silence for pizzicato note 100"):
        render_note("pizzicato", 100, duration=0.5, held=0.25)


def test_missing_soundfont_is_explained(tmp_path):
    reason = soundfont_available(tmp_path / "none.sf2")
    assert reason is not None and "none.sf2" in reason and "apt-get install" in reason and "\n" not in reason


def test_note_names_round_trip():
    from spinvae.matching.recording import note_from_name

    assert note_file_name("nylon", 40) == "nylon_E2.wav"
    assert note_name(61) == "C#4" and note_name(0) == "C-1" and note_name(127) == "G9"
    for instrument in INSTRUMENTS:
        for note in range(128):
            assert note_from_name(note_file_name(instrument, note)) == note
