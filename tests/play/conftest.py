"""A real JACK server (the dummy driver: no sound card) for the live players' tests, and small paths."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import mido
import numpy as np
import pytest

from spinvae.play.path import morph_path
from spinvae.synth.registry import get_synth

RATE, BLOCK = 48000, 256


@pytest.fixture(scope="session")
def jack_server():
    """``jackd --no-realtime -d dummy`` at 48 kHz, 256-frame blocks, under a name of its own (so a server
    the user runs is never touched); clients of this process reach it through JACK_DEFAULT_SERVER, and
    MIDI goes through JACK (containers have no ALSA sequencer)."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd not found: apt-get install --no-install-recommends jackd2")
    name = f"spinvae-test-{uuid.uuid4().hex[:8]}"
    server = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", str(RATE), "-p", str(BLOCK)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    previous = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "SPINVAE_MIDI_API", "JACK_NO_START_SERVER")}
    os.environ.update(JACK_DEFAULT_SERVER=name, SPINVAE_MIDI_API="UNIX_JACK", JACK_NO_START_SERVER="1")
    import jack

    from spinvae.play.ports import quiet_jack

    quiet_jack()
    for _ in range(50):  # up to 5 s for the server to come up
        try:
            jack.Client("probe", no_start_server=True).close()
            break
        except jack.JackOpenError:
            if server.poll() is not None:
                pytest.skip(f"jackd could not start: {server.stderr.read().decode(errors='replace').strip()[-200:]}")
            time.sleep(0.1)
    else:
        server.kill()
        pytest.skip("jackd did not answer within 5 s")
    yield name
    server.terminate()
    server.wait(timeout=10)
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def dx7_path():
    """A parameter-by-parameter morph between two generated DX7 voices: 128 distinct-enough presets."""
    synth = get_synth("dx7")
    values = synth.schema.learnable(synth.generate(8, seed=4).params)
    return morph_path(synth, values[1], values[6], label="test")


def jack_ports(client_name: str = "test"):
    """mido's JACK MIDI backend, its ports named ``client_name:...``."""
    return mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)


def decoded(synth, message: mido.Message) -> np.ndarray:
    return synth.read_preset_message(bytes(message.bytes()))
