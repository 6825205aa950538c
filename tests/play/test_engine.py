"""The audio engine and its offline renderer: known answers from the note cache, releases, the knob, determinism."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from spinvae.play.cache import CacheSettings, NoteCache
from spinvae.play.engine import Engine, EngineSettings
from spinvae.play.offline import MidiFileError, read_midi_messages, render_events, render_midi_file
from spinvae.play.path import morph_path
from spinvae.synth.registry import get_synth

RATE = 16000  # the engine is rate-agnostic: 16 kHz keeps the cache small


@pytest.fixture(scope="module")
def cache():
    synth = get_synth("pluck")
    values = synth.schema.learnable(synth.generate(2, seed=3).params)
    path = morph_path(synth, values[0], values[1])
    return NoteCache(synth, path.presets, CacheSettings(sample_rate=RATE, lowest_key=48, highest_key=72, key_step=12,
                                                         velocity=100, note_seconds=1.0), workers=1)


def on(note, velocity=100):
    return mido.Message("note_on", note=note, velocity=velocity)


def off(note):
    return mido.Message("note_off", note=note)


def cc(control, value):
    return mido.Message("control_change", control=control, value=value)


def run(engine, blocks, block=256):
    return np.concatenate([engine.process(block) for _ in range(blocks)])


def test_a_note_at_a_key_centre_is_the_cached_render_at_the_mix_level(cache):
    engine = Engine(cache, EngineSettings(gain=0.5))
    engine.handle(on(60, velocity=50))
    out = run(engine, 20)
    expected = cache.audio[cache.index[0], 1][: len(out)] * 0.5 * 0.5  # velocity 50 of 100, gain 0.5
    np.testing.assert_allclose(out, np.clip(expected, -1, 1), atol=1e-7)


def test_a_key_between_centres_plays_the_nearest_centre_resampled(cache):
    note = cache.note(0, 62)  # 2 semitones above the centre 60: 2 ** (2/12) faster, so shorter
    assert len(note) == pytest.approx(RATE / 2 ** (2 / 12), abs=2)
    np.testing.assert_allclose(cache.note(0, 60), cache.audio[cache.index[0], 1])
    assert cache.note(0, 30).shape == (int(np.ceil((RATE - 1) / 2 ** ((30 - 48) / 12))),)  # below the lowest centre


def test_a_note_read_block_by_block_is_the_note_read_whole(cache):
    engine = Engine(cache, EngineSettings(gain=1.0))
    engine.handle(on(63))  # 3 semitones above a centre: read at 2 ** (3/12) in every block
    out = run(engine, 30, block=100)
    np.testing.assert_array_equal(out, np.clip(cache.note(0, 63)[: len(out)], -1, 1))


def test_the_knob_changes_the_notes_that_follow(cache):
    engine = Engine(cache, EngineSettings(gain=1.0))
    engine.handle(cc(1, 127))
    engine.handle(on(48))
    end = run(engine, 4)
    np.testing.assert_allclose(end, np.clip(cache.audio[cache.index[127], 0][:1024], -1, 1), atol=1e-7)
    assert not np.allclose(cache.audio[cache.index[127], 0], cache.audio[cache.index[0], 0])
    other = Engine(cache, EngineSettings(gain=1.0, cc=74))  # another knob CC: CC 1 is ignored
    other.handle(cc(1, 127))
    other.handle(on(48))
    np.testing.assert_allclose(run(other, 4), np.clip(cache.audio[cache.index[0], 0][:1024], -1, 1), atol=1e-7)


def test_a_note_off_fades_out_within_the_release_and_the_pedal_holds_it(cache):
    settings = EngineSettings(release_seconds=0.05, gain=1.0)
    engine = Engine(cache, settings)
    engine.handle(on(60))
    run(engine, 2)
    engine.handle(off(60))
    tail = run(engine, 8)
    release = int(0.05 * RATE)
    assert np.abs(tail[release:]).max() == 0 and engine.sounding == 0
    assert np.abs(tail[:100]).max() > 0

    held = Engine(cache, settings)
    held.handle(cc(64, 127))
    held.handle(on(60))
    held.handle(off(60))
    assert np.abs(run(held, 8)[-256:]).max() > 0 and held.sounding == 1  # sustained
    held.handle(cc(64, 0))
    run(held, 8)
    assert held.sounding == 0


def test_voices_are_capped_and_all_notes_off_releases_them(cache):
    engine = Engine(cache, EngineSettings(max_voices=3))
    for key in (48, 50, 52, 55, 57):
        engine.handle(on(key))
    assert engine.sounding == 3 and [v.key for v in engine.voices] == [52, 55, 57]
    engine.handle(cc(123, 0))
    run(engine, 20)
    assert engine.sounding == 0


def test_a_channel_filter_ignores_other_channels(cache):
    engine = Engine(cache, EngineSettings(channel=2))
    engine.handle(mido.Message("note_on", channel=0, note=60, velocity=100))
    assert engine.sounding == 0
    engine.handle(mido.Message("note_on", channel=2, note=60, velocity=100))
    assert engine.sounding == 1


def take(path):
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=600000))  # 100 bpm: a beat is 0.6 s
    track += [cc(1, 0), on(48), cc(1, 64).copy(time=120), on(55).copy(time=0), off(48).copy(time=240),
              cc(1, 127).copy(time=60), on(60).copy(time=0), off(55).copy(time=480), off(60).copy(time=240)]
    midi.save(path)
    return path


def test_a_midi_file_renders_the_same_every_time_with_its_tempo(cache, tmp_path):
    events = read_midi_messages(take(tmp_path / "take.mid"))
    assert [round(t, 4) for t, _ in events][:3] == [0.0, 0.0, 0.15]  # 120 ticks at 600 ms a beat
    first, seconds = render_midi_file(Engine(cache), tmp_path / "take.mid", tmp_path / "a.wav")
    second, _ = render_midi_file(Engine(cache), tmp_path / "take.mid", tmp_path / "b.wav")
    assert first.read_bytes() == second.read_bytes()
    assert 1.5 < seconds < 1.5 + 1.0 + 0.1  # the last note-off at 1.5 s, then at most the note's length
    # the third note (CC 127 before it) is the end preset's C4: the file's blocks as the engine renders them
    audio = render_events(Engine(cache, EngineSettings(gain=1.0)), [(0.0, cc(1, 127)), (0.0, on(60))], block=256)
    np.testing.assert_allclose(audio[:RATE // 2], np.clip(cache.audio[cache.index[127], 1][:RATE // 2], -1, 1), atol=1e-7)


def test_a_file_that_is_not_midi_is_refused_in_one_line(tmp_path):
    (tmp_path / "bad.mid").write_bytes(b"MThd not really")
    with pytest.raises(MidiFileError, match=r"bad.mid: not a readable MIDI file"):
        read_midi_messages(tmp_path / "bad.mid")
    with pytest.raises(MidiFileError, match="no such MIDI file"):
        read_midi_messages(tmp_path / "missing.mid")
