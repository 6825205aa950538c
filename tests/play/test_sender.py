"""The preset messages a knob sends to a synth over MIDI: rate-limited, the last position always sent."""

from __future__ import annotations

import numpy as np

from spinvae.play.sender import PresetSender


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sender(path, interval=0.05):
    clock, sent = Clock(), []
    return PresetSender(path.synth, path.presets, sent.append, interval, clock=clock), clock, sent


def test_a_fast_knob_sends_one_message_per_interval_and_ends_on_its_last_value(dx7_path):
    s, clock, sent = sender(dx7_path)
    for value in range(128):  # the whole knob in 12.7 ms: a CC every 0.1 ms
        s.move(value)
        clock.now += 1e-4
    assert len(sent) == 1  # the first position went at once, the rest were kept
    assert not s.poll()  # 12.7 ms after the first message: not yet
    clock.now = 0.05
    assert s.poll() and len(sent) == 2
    np.testing.assert_array_equal(dx7_path.synth.read_preset_message(bytes(sent[-1].bytes())), dx7_path.presets[127])
    assert s.last_sent == 127 and not s.poll()


def test_slow_moves_each_send_at_once_and_a_repeated_position_is_not_resent(dx7_path):
    s, clock, sent = sender(dx7_path)
    for value in (3, 70, 70, 12):
        assert s.move(value)
        clock.now += 0.06
    assert [dx7_path.synth.read_preset_message(bytes(m.bytes())).tolist() for m in sent] == \
        [dx7_path.presets[v].tolist() for v in (3, 70, 12)]


def test_flush_sends_the_kept_position_at_once(dx7_path):
    s, clock, sent = sender(dx7_path, interval=10.0)
    s.move(1)
    s.move(99)
    assert len(sent) == 1
    s.flush()
    assert len(sent) == 2 and s.last_sent == 99
    assert sent[0].type == "sysex" and len(sent[0].bytes()) == 163  # a DX7 single-voice dump
