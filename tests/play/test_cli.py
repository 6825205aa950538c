"""``spinvae play``: offline renders of MIDI files, one-line refusals, a clean close on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import mido
import pytest

from spinvae.cli.main import main
from spinvae.synth.registry import get_synth
from tests.play.conftest import jack_ports


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    folder = tmp_path_factory.mktemp("play")
    synth = get_synth("dx7")
    synth.write_bank(folder / "bank.syx", synth.generate(8, seed=2).params)
    pluck = get_synth("pluck")
    pluck.write_bank(folder / "pluck.json", pluck.generate(2, seed=2).params)
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track += [mido.Message("note_on", note=60, velocity=100), mido.Message("control_change", control=1, value=127, time=240),
              mido.Message("note_on", note=67, velocity=80, time=0), mido.Message("note_off", note=60, time=240),
              mido.Message("note_off", note=67, time=240)]
    midi.save(folder / "take.mid")
    return folder


def play(bank, *extra):
    return main(["play", "--method", "reference", "--synth", "dx7", "--start", f"{bank / 'bank.syx'}:0",
                 "--end", f"{bank / 'bank.syx'}:5", "--key-range", "60:66", "--note-seconds", "1", *extra])


def test_a_midi_file_renders_to_the_same_wav_every_time(bank, tmp_path, capsys):
    assert play(bank, "--midi-file", str(bank / "take.mid"), "--out", str(tmp_path / "a.wav")) == 0
    assert play(bank, "--midi-file", str(bank / "take.mid"), "--out", str(tmp_path / "b.wav")) == 0
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    import soundfile

    audio, rate = soundfile.read(tmp_path / "a.wav")
    # the last note-off at 0.75 s (120 bpm), then its 0.12-s release: the render ends when every note has
    assert rate == 48000 and 0.86 <= len(audio) / rate <= 0.88 and abs(audio).max() > 0.01
    printed = capsys.readouterr().out
    assert "128 positions decoded" in printed and "wrote" in printed


@pytest.mark.parametrize("extra, message", [
    (["--key-range", "90:30", "--midi-file", "x.mid", "--out", "x.wav"], "--key-range 90:30: give LOW:HIGH MIDI keys with"),
    (["--key-step", "0", "--midi-file", "x.mid", "--out", "x.wav"], "--key-step 0: give 1 or more"),
    (["--velocity", "200", "--midi-file", "x.mid", "--out", "x.wav"], "--velocity 200: give a MIDI velocity"),
    (["--channel", "16", "--midi-file", "x.mid", "--out", "x.wav"], "--channel 16: give a MIDI channel"),
    (["--key-range", "low", "--midi-file", "x.mid", "--out", "x.wav"], "--key-range low: give LOW:HIGH"),
    (["--cc", "200", "--midi-file", "x.mid", "--out", "x.wav"], "spinvae: error: --cc 200: give a MIDI controller number"),
    (["--midi-file", "MISSING"], "--midi-file needs --out"),
    (["--midi-file", "NOTMIDI", "--out", "x.wav"], "not a readable MIDI file"),
    (["--midi-file", "MIDI", "--out", "x.flac"], "give a .wav file"),
])
def test_bad_options_are_refused_in_one_line_before_any_work(bank, tmp_path, capsys, extra, message):
    (tmp_path / "bad.mid").write_text("not midi")
    extra = [str(bank / "take.mid") if e == "MIDI" else str(tmp_path / "bad.mid") if e == "NOTMIDI" else e
             for e in extra]
    assert play(bank, *extra) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spinvae: error: ") and message in lines[0], captured.err
    assert "decoded" not in captured.out


def test_the_pluck_synth_cannot_be_sent_presets_over_midi(bank, capsys):
    code = main(["play", "--method", "reference", "--synth", "pluck", "--start", f"{bank / 'pluck.json'}:0",
                 "--end", f"{bank / 'pluck.json'}:1", "--to", "midi"])
    assert code == 2
    assert "the pluck synth takes no preset over MIDI; play it with --to audio" in capsys.readouterr().err


def test_without_a_jack_server_listing_ports_says_what_to_start(monkeypatch, capsys):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "spinvae-no-such-server")
    monkeypatch.setenv("SPINVAE_MIDI_API", "UNIX_JACK")
    assert main(["play", "--list-ports"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spinvae: error: no JACK server is running: start one")


def test_ctrl_c_closes_cleanly_with_all_notes_off(jack_server, bank):
    midi = jack_ports()
    received: list[mido.Message] = []
    synth_port = midi.open_input("synth", virtual=True, client_name="cli-synth", callback=received.append)
    controller = midi.open_output("keys", virtual=True, client_name="cli-keys")
    command = [sys.executable, "-m", "spinvae.cli.main", "play", "--method", "reference", "--synth", "dx7",
               "--start", f"{bank / 'bank.syx'}:0", "--end", f"{bank / 'bank.syx'}:5", "--to", "midi",
               "--midi-in", "cli-keys", "--midi-out", "cli-synth"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while not any(m.type == "sysex" for m in received):  # the start preset: playing
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "spinvae play did not start"
            time.sleep(0.05)
        controller.send(mido.Message("note_on", note=62, velocity=100))
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        controller.close()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped: all notes off" in out and "Traceback" not in err
    time.sleep(0.1)
    synth_port.close()
    assert any(m.type == "note_off" and m.note == 62 for m in received)
    assert sum(m.type == "control_change" and m.control == 123 for m in received) == 16
