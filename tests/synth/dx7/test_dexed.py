"""The Dexed renderer: output format, determinism across instances and threads, known pitches,
silence, delays and render settings."""

from __future__ import annotations

import numpy as np
import pytest

from spinvae.synth.dx7.schema import DX7_SCHEMA, operator_offset, init_voice
from spinvae.synth.base import RenderSettings
from spinvae.synth.dx7.dexed import DexedSynth
from spinvae.synth.dx7.render import render_presets

SR = 16000
OUTPUT_LEVEL = 16  # offset of output_level in an operator block


def peak_frequency(audio: np.ndarray, start: int = SR // 2, length: int = SR) -> tuple[float, float]:
    """Frequency (Hz, 1-Hz bins) of the spectral peak of a 1-s window, and the share of the
    window's energy within 3 bins of the peak."""
    seg = audio[start : start + length].astype(np.float64) * np.hanning(length)
    power = np.abs(np.fft.rfft(seg)) ** 2
    k = int(power.argmax())
    return k * SR / length, power[max(k - 3, 0) : k + 4].sum() / power.sum()


@pytest.fixture(scope="module")
def synth() -> DexedSynth:
    return DexedSynth(SR)


def test_render_format(synth, factory_voices):
    audio = synth.render(factory_voices[0], 60, 100, 3.0, 4.0)
    assert audio.shape == (64000,) and audio.dtype == np.float32
    assert np.isfinite(audio).all()
    assert np.abs(audio).max() > 1e-3
    short = synth.render(factory_voices[0], 60, 100, 0.5, 1.25)
    assert short.shape == (20000,)


def test_renders_are_bit_identical_across_instances_and_calls(factory_voices):
    a, b = DexedSynth(SR), DexedSynth(SR)
    v, w = factory_voices[3], factory_voices[40]
    first = a.render(v, 56, 75, 3.0, 4.0)
    a.render(w, 70, 120, 3.0, 4.0)  # another voice and note in between: no state carried over
    np.testing.assert_array_equal(a.render(v, 56, 75, 3.0, 4.0), first)
    np.testing.assert_array_equal(b.render(v, 56, 75, 3.0, 4.0), first)


def test_render_presets_is_identical_across_threads(factory_voices):
    voices = factory_voices[::16]  # 64 real voices
    settings = RenderSettings(notes=((56, 75), (64, 110)))
    one = render_presets(voices, settings, workers=1)
    two = render_presets(voices, settings, workers=2)
    assert one.shape == (64, 2, 64000) and one.dtype == np.float32
    np.testing.assert_array_equal(one, two)
    synth = DexedSynth(SR)
    for i in (0, 37, 63):
        np.testing.assert_array_equal(one[i, 1], synth.render(voices[i], 64, 110, 3.0, 4.0))
    assert (np.abs(one).max(axis=2) > 0).mean() > 0.9  # they are real sounds, not silence


@pytest.mark.parametrize("note,hz", [(69, 440.0), (57, 220.0), (81, 880.0)])
def test_init_voice_is_a_sine_at_the_note_pitch(synth, note, hz):
    audio = synth.render(init_voice(), note, 100, 3.0, 4.0)
    peak, share = peak_frequency(audio)
    assert abs(peak - hz) <= 1.0  # 1-Hz bins
    assert share > 0.99  # a single partial: INIT VOICE is OP1 alone, a sine


def test_transpose_shifts_the_pitch_by_semitones(synth):
    voice = init_voice()
    voice[DX7_SCHEMA.by_name["transpose"].index] = 36  # one octave up from C3
    peak, _ = peak_frequency(synth.render(voice, 57, 100, 3.0, 4.0))
    assert abs(peak - 440.0) <= 1.0


def test_all_output_levels_zero_is_digital_silence(synth, factory_voices):
    for voice in [init_voice(), *factory_voices[[0, 101, 500, 901]]]:
        muted = voice.copy()
        for op in range(1, 7):
            muted[operator_offset(op) + OUTPUT_LEVEL] = 0
        audio = synth.render(muted, 60, 127, 3.0, 4.0)
        assert not audio.any()
        assert np.abs(synth.render(voice, 60, 127, 3.0, 4.0)).max() > 0


def test_init_voice_stops_after_note_off(synth):
    audio = synth.render(init_voice(), 69, 100, 2.0, 3.0)
    assert np.abs(audio[: 2 * SR]).max() > 0.05
    assert np.abs(audio[int(2.5 * SR) :]).max() < 1e-4  # release rate 99


def test_delays_shift_the_audio_by_whole_samples(factory_voices):
    voices = factory_voices[[5, 6, 7, 8, 9]]
    delays = np.array([0, 1, 137, 16000, 63999])
    settings = RenderSettings()
    ref = render_presets(voices, settings)
    out = render_presets(voices, settings, delays=delays)
    assert out.shape == ref.shape == (5, 1, 64000)
    for i, d in enumerate(delays):
        if d == 0:
            np.testing.assert_array_equal(out[i], ref[i])
            continue
        assert not out[i, 0, :d].any()
        np.testing.assert_array_equal(out[i, 0, d:], ref[i, 0, :-d])
    out2 = render_presets(voices, settings, workers=2, delays=delays)
    np.testing.assert_array_equal(out2, out)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"notes": ((128, 75),)},
        {"notes": ((-1, 75),)},
        {"notes": ((60, 0),)},
        {"notes": ((60, 128),)},
        {"notes": ((60, 100), (61, 0))},
        {"notes": ()},
        {"note_duration": 4.5, "duration": 4.0},
        {"note_duration": 0.0},
    ],
)
def test_render_settings_reject_invalid_values(kwargs):
    with pytest.raises(ValueError):
        RenderSettings(**kwargs)


def test_render_settings_n_samples():
    assert RenderSettings().n_samples == 64000
    assert RenderSettings(sample_rate=22050, note_duration=1.0, duration=1.5).n_samples == 33075
    assert RenderSettings(sample_rate=44100, note_duration=0.1, duration=0.1).n_samples == 4410
    edge = RenderSettings(notes=((0, 1), (127, 127)), note_duration=4.0, duration=4.0)
    assert edge.n_samples == 64000


def test_other_sample_rate(factory_voices):
    settings = RenderSettings(sample_rate=22050, notes=((69, 100),), note_duration=1.0, duration=1.5)
    audio = render_presets(init_voice()[None], settings)
    assert audio.shape == (1, 1, 33075)
    seg = audio[0, 0, 5000:5000 + 22050].astype(np.float64) * np.hanning(22050)
    assert abs(np.abs(np.fft.rfft(seg)).argmax() - 440) <= 1  # 1-Hz bins at 22.05 kHz too
