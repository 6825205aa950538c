"""Playing live: a MIDI input drives either a synth on a MIDI output (:func:`play_to_midi`) or the audio
engine on a JACK server (:func:`play_to_audio`), until ``stop`` is set (Ctrl-C in the command).

Both close cleanly: every note still sounding gets its note-off (and All Notes Off on every channel of
a MIDI output), and the ports and the JACK client are closed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import mido
from spinvae.play.engine import ALL_NOTES_OFF_CC, Engine
from spinvae.play.path import PlayPath
from spinvae.play.ports import CLIENT, NO_JACK, PortError, open_input, open_output, quiet_jack
from spinvae.play.sender import PresetSender


@dataclass
class MidiThrough:
    """The MIDI-output player's state: notes pass through to ``out``, the knob's CC moves ``sender``."""

    out: mido.ports.BaseOutput
    sender: PresetSender
    cc: int
    channel: int | None = None
    sounding: set[tuple[int, int]] = field(default_factory=set)  # (channel, key)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, message: mido.Message) -> None:
        if self.channel is not None and getattr(message, "channel", self.channel) != self.channel:
            self.out.send(message)
            return
        if message.type == "control_change" and message.control == self.cc:
            self.sender.move(message.value)
            return
        with self.lock:
            if message.type == "note_on" and message.velocity > 0:
                self.sounding.add((message.channel, message.note))
            elif message.type in ("note_off", "note_on"):
                self.sounding.discard((message.channel, message.note))
            self.out.send(message)

    def all_notes_off(self) -> None:
        with self.lock:
            for channel, key in sorted(self.sounding):
                self.out.send(mido.Message("note_off", channel=channel, note=key))
            self.sounding.clear()
            for channel in range(16):
                self.out.send(mido.Message("control_change", channel=channel, control=ALL_NOTES_OFF_CC, value=0))


def play_to_midi(path: PlayPath, midi_in: str | None, midi_out: str | None, cc: int = 1, channel: int | None = None,
                 min_interval: float = 0.05, stop: threading.Event | None = None, ready=None) -> MidiThrough:
    """Notes from ``midi_in`` pass to ``midi_out``; the knob's CC sends the preset of each position (the
    synth's preset message, on ``channel`` or 0), rate-limited to one per ``min_interval`` seconds; the
    start preset is sent first. Runs until ``stop`` is set; ``ready(through)`` is called once the ports
    are open."""
    stop = stop or threading.Event()
    out = open_output(midi_out)
    through = MidiThrough(out, PresetSender(path.synth, path.presets, out.send, min_interval, channel or 0), cc, channel)
    try:
        inp = open_input(midi_in, through)
    except PortError:
        out.close()
        raise
    try:
        through.sender.move(path.home)
        if ready is not None:
            ready(through)
        while not stop.wait(0.002):  # the rate limiter's clock: a kept position leaves when its time comes
            through.sender.poll()
        through.sender.flush()
    finally:
        inp.close()
        through.all_notes_off()
        time.sleep(0.05)  # let JACK carry the last messages out before the port goes
        out.close()
    return through


@dataclass
class AudioStats:
    """What the JACK player measured: blocks processed, deadlines missed (xruns), the block size and rate."""

    blocks: int = 0
    xruns: int = 0
    block: int = 0
    sample_rate: int = 0
    callback_seconds: list[float] = field(default_factory=list)


def play_to_audio(engine: Engine, midi_in: str | None, connect: bool = True, stop: threading.Event | None = None,
                  ready=None, measure: bool = False) -> AudioStats:
    """The engine on a JACK server: MIDI from ``midi_in`` (prepared in rtmidi's thread, applied at the start
    of the next block), the mix on two output ports (``spinvae:out_1``/``_2``), connected to the physical
    playback ports when ``connect``. Runs until ``stop`` is set; all notes are released and faded out
    before the client closes. ``ready(client, queue)`` is called once running."""
    quiet_jack()
    import jack

    stop = stop or threading.Event()
    rate = engine.cache.settings.sample_rate
    try:
        client = jack.Client(CLIENT, no_start_server=True)
    except jack.JackOpenError:
        raise PortError(NO_JACK) from None
    if client.samplerate != rate:
        client.close()
        raise PortError(f"the JACK server runs at {client.samplerate} Hz and the notes were rendered at {rate} Hz: "
                        f"give --sample-rate {client.samplerate}")
    stats = AudioStats(block=client.blocksize, sample_rate=client.samplerate)
    events: deque = deque()
    outs = [client.outports.register(f"out_{i}") for i in (1, 2)]

    @client.set_process_callback
    def process(frames: int) -> None:
        started = time.perf_counter() if measure else 0.0
        while events:
            engine.apply(events.popleft())
        block = engine.process(frames)
        for port in outs:
            port.get_array()[:] = block
        stats.blocks += 1
        if measure:
            stats.callback_seconds.append(time.perf_counter() - started)

    @client.set_xrun_callback
    def xrun(delay: float) -> None:
        stats.xruns += 1

    def on_message(message: mido.Message) -> None:
        event = engine.prepare(message)
        if event is not None:
            events.append(event)

    # rtmidi opens and closes its JACK client holding the GIL, and JACK waits for every active client's
    # process callback (Python, so wanting the GIL) while a client opens or closes: the MIDI input opens
    # before the audio client is activated and closes after it is deactivated
    try:
        inp = open_input(midi_in, on_message)
    except PortError:
        client.close()
        raise
    try:
        with client:
            if connect:
                for port, target in zip(outs, client.get_ports(is_audio=True, is_input=True, is_physical=True)):
                    client.connect(port, target)
            if ready is not None:
                ready(client, events)
            stop.wait()
            events.append(engine.prepare(mido.Message("control_change", control=ALL_NOTES_OFF_CC, value=0)))
            deadline = time.monotonic() + engine.settings.release_seconds + 0.2
            while engine.sounding and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        inp.close()
    return stats
