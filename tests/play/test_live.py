"""The live players on a real JACK server (dummy driver) with real MIDI ports (python-rtmidi over JACK MIDI)."""

from __future__ import annotations

import threading
import time

import mido
import numpy as np
import pytest

from spinvae.play.cache import CacheSettings, NoteCache
from spinvae.play.engine import Engine, EngineSettings
from spinvae.play.live import play_to_audio, play_to_midi
from spinvae.play.offline import render_events
from spinvae.play.ports import PortError, list_ports
from tests.play.conftest import BLOCK, RATE, decoded, jack_ports


def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


class Synth:
    """A MIDI input standing for the synth: every message it receives, in order."""

    def __init__(self, midi: mido.Backend) -> None:
        self.received: list[mido.Message] = []
        self.port = midi.open_input("synth", virtual=True, client_name="test-synth", callback=self.received.append)


@pytest.fixture
def midi(jack_server):
    return jack_ports()


def start(target, **kwargs) -> tuple[threading.Thread, threading.Event, threading.Event]:
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=target, kwargs=kwargs | {"stop": stop, "ready": lambda *_: ready.set()},
                              daemon=True)
    thread.start()
    assert ready.wait(10), "the player did not start"
    return thread, stop, ready


def test_presets_sent_through_ports_decode_to_the_paths_and_the_last_knob_value_wins(midi, dx7_path):
    synth = Synth(midi)
    controller = midi.open_output("keys", virtual=True, client_name="test-keys")
    try:
        thread, stop, _ = start(play_to_midi, path=dx7_path, midi_in="keys", midi_out="synth",
                                min_interval=0.03)
        wait_for(lambda: len(synth.received) >= 1)
        assert (decoded(dx7_path.synth, synth.received[0]) == dx7_path.presets[dx7_path.home]).all()  # the start
        controller.send(mido.Message("note_on", note=60, velocity=90))
        for value in range(0, 128, 3):  # fast: 43 values in about 20 ms
            controller.send(mido.Message("control_change", control=1, value=value))
            time.sleep(0.0005)
        controller.send(mido.Message("control_change", control=1, value=127))
        wait_for(lambda: any(m.type == "note_on" for m in synth.received))
        time.sleep(0.2)  # the rate limiter lets the last position out
        presets = [m for m in synth.received if m.type == "sysex"]
        for message in presets:  # every dump is one of the path's presets
            assert any((decoded(dx7_path.synth, message) == p).all() for p in dx7_path.presets)
        assert (decoded(dx7_path.synth, presets[-1]) == dx7_path.presets[127]).all()  # the knob's last value
        assert 2 <= len(presets) <= 6  # 20 ms of turning at one dump per 30 ms: never one per CC value
        stop.set()
        thread.join(10)
        assert not thread.is_alive()
        tail = synth.received[-17:]  # all notes off: the held note's note-off, then CC 123 on every channel
        assert tail[0].type == "note_off" and tail[0].note == 60
        assert [(m.type, m.control, m.channel) for m in tail[1:]] == [("control_change", 123, c) for c in range(16)]
    finally:
        controller.close()
        synth.port.close()


def test_a_port_that_does_not_exist_is_one_line_naming_the_ports(midi, dx7_path):
    with pytest.raises(PortError) as caught:
        play_to_midi(dx7_path, "no such keyboard", None, stop=threading.Event())
    message = str(caught.value)
    assert "\n" not in message and message.startswith("MIDI input 'no such keyboard': no such port")
    assert "spinvae play --list-ports" in message


def test_list_ports_shows_the_jack_midi_ports(midi):
    controller = midi.open_output("keys", virtual=True, client_name="test-keys")
    try:
        ports = list_ports()
        assert any(name.endswith(":keys") for name in ports["midi inputs"])
        assert "audio outputs" in ports
    finally:
        controller.close()


RECORDER = """
import sys, time, numpy as np, jack
client = jack.Client("recorder", no_start_server=True)
port = client.inports.register("in")
blocks = []
client.set_process_callback(lambda frames: blocks.append(port.get_array().copy()))
with client:
    client.connect("spinvae:out_1", port)
    print("ready", flush=True)
    time.sleep(float(sys.argv[2]))
np.save(sys.argv[1], np.concatenate(blocks))
"""


def test_the_live_engine_plays_what_the_offline_renderer_renders(midi, dx7_path, tmp_path):
    """A note through a real MIDI port into the engine on JACK, captured by another JACK client (in a process
    of its own), equals the offline render of the same messages from the block where it starts."""
    import subprocess
    import sys

    cache = NoteCache(dx7_path.synth, dx7_path.presets, CacheSettings(sample_rate=RATE, lowest_key=60,
                                                                      highest_key=60, note_seconds=0.5))
    settings = EngineSettings(release_seconds=0.05)
    controller = midi.open_output("keys", virtual=True, client_name="test-keys")  # before any Python JACK callback
    thread, stop, _ = start(play_to_audio, engine=Engine(cache, settings), midi_in="keys", connect=False)
    try:
        recorder = subprocess.Popen([sys.executable, "-c", RECORDER, str(tmp_path / "live.npy"), "1.2"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert recorder.stdout.readline().strip() == "ready"
        time.sleep(0.1)
        controller.send(mido.Message("control_change", control=1, value=127))
        controller.send(mido.Message("note_on", note=60, velocity=100))
        time.sleep(0.3)
        controller.send(mido.Message("note_off", note=60))
        assert recorder.wait(20) == 0
    finally:
        stop.set()
        thread.join(10)
        controller.close()
    assert not thread.is_alive()
    live = np.load(tmp_path / "live.npy")
    first = int(np.flatnonzero(live)[0])
    offline = render_events(Engine(cache, settings), [(0.0, mido.Message("control_change", control=1, value=127)),
                                                      (0.0, mido.Message("note_on", note=60, velocity=100))], BLOCK)
    n = int(0.25 * RATE)  # a quarter second before the note-off, from the first sample that sounds
    start_offline = int(np.flatnonzero(offline)[0])
    assert (first - start_offline) % BLOCK == 0  # the note began at the start of a block, as offline
    np.testing.assert_array_equal(live[first : first + n], offline[start_offline : start_offline + n])
    assert np.abs(live[-BLOCK:]).max() == 0  # released and silent after


def test_without_a_server_the_players_say_what_to_start(monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "spinvae-no-such-server")
    monkeypatch.setenv("SPINVAE_MIDI_API", "UNIX_JACK")
    with pytest.raises(PortError, match="^no JACK server is running: start one"):
        list_ports()


def test_the_audio_player_offers_its_own_midi_port_and_stops_cleanly(midi, dx7_path):
    import subprocess
    import sys

    cache = NoteCache(dx7_path.synth, dx7_path.presets, CacheSettings(sample_rate=RATE, lowest_key=60, highest_key=60,
                                                                      note_seconds=0.2))
    thread, stop, _ = start(play_to_audio, engine=Engine(cache), midi_in=None, connect=False)
    try:  # listed from another process: no second JACK client in a process whose callback is Python's
        listed = subprocess.run([sys.executable, "-c", "from spinvae.play.ports import list_ports; print(list_ports())"],
                                capture_output=True, text=True, timeout=60)
    finally:
        stop.set()
        thread.join(10)
    assert "'spinvae-midi:in'" in listed.stdout, listed.stdout + listed.stderr
    assert not thread.is_alive()
