"""Live morphing (spinvae play) on a real JACK server (dummy driver, 48 kHz, 256-frame blocks): how fast.

    python benchmarks/bench_play.py                       # DX7 reference morph, 1,000 events each, 60-s soak
    python benchmarks/bench_play.py --ckpt CKPT --events 2000 --soak 120

1. decoding the 128 positions of a morph (a model's, with --ckpt, and the reference's);
2. CC -> preset message: a CC sent from a MIDI port to ``play_to_midi``, until its DX7 single-voice dump
   arrives at another MIDI port (both JACK MIDI, so each hop waits for a JACK period);
3. note-on -> first audio block: a note-on sent from a MIDI port until the start of the JACK process
   callback that renders its first samples (the block then leaves at the next period: add 5.3 ms);
4. a soak: ``--soak`` seconds of playing (a note every 40 ms, four at once, the knob swept), counting
   the deadlines missed (JACK xruns) and timing the process callback; then as long idle (the same client,
   no notes): the control, what the non-realtime server misses on this machine by itself.

Starts and stops its own JACK server (``jackd --no-realtime -d dummy``, under a name of its own).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import mido
import numpy as np

from spinvae.play.cache import CacheSettings, NoteCache
from spinvae.play.engine import Engine, EngineSettings, Event
from spinvae.play.live import play_to_audio, play_to_midi
from spinvae.play.path import morph_path
from spinvae.synth.registry import get_synth

RATE, BLOCK = 48000, 256


def start_jack() -> subprocess.Popen:
    name = f"spinvae-bench-{uuid.uuid4().hex[:8]}"
    server = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", str(RATE), "-p", str(BLOCK)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ.update(JACK_DEFAULT_SERVER=name, SPINVAE_MIDI_API="UNIX_JACK")
    import jack

    from spinvae.play.ports import quiet_jack

    quiet_jack()
    for _ in range(100):
        try:
            jack.Client("probe", no_start_server=True).close()
            return server
        except jack.JackOpenError:
            time.sleep(0.1)
    raise SystemExit("bench_play: jackd did not start (apt-get install jackd2)")


def percentiles(values: list[float]) -> dict[str, float]:
    ms = np.asarray(values) * 1e3
    return {"median_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()),
            "n": len(ms)}


def run_player(target, **kwargs) -> tuple[threading.Thread, threading.Event, dict]:
    stop, ready, result = threading.Event(), threading.Event(), {}
    thread = threading.Thread(target=lambda: result.update(value=target(**kwargs, stop=stop,
                                                                          ready=lambda *_: ready.set())), daemon=True)
    thread.start()
    if not ready.wait(30):
        raise SystemExit("bench_play: the player did not start")
    return thread, stop, result


def cc_to_preset(path, events: int) -> dict[str, float]:
    midi = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)
    arrived: list[float] = []
    synth = midi.open_input("synth", virtual=True, client_name="bench-synth",
                            callback=lambda m: arrived.append(time.perf_counter()) if m.type == "sysex" else None)
    keys = midi.open_output("keys", virtual=True, client_name="bench-keys")
    thread, stop, _ = run_player(play_to_midi, path=path, midi_in="bench-keys", midi_out="bench-synth",
                                 min_interval=0.0)
    time.sleep(0.2)
    latencies = []
    rng = np.random.default_rng(0)
    previous = path.home
    for _ in range(events):
        value = int(rng.integers(0, 128))
        while value == previous:  # a CC to the position the synth holds sends nothing
            value = int(rng.integers(0, 128))
        previous = value
        count = len(arrived)
        sent = time.perf_counter()
        keys.send(mido.Message("control_change", control=1, value=value))
        deadline = sent + 1.0
        while len(arrived) == count and time.perf_counter() < deadline:
            time.sleep(0.0002)
        if len(arrived) > count:
            latencies.append(arrived[count] - sent)
        time.sleep(0.002)
    stop.set()
    thread.join(10)
    keys.close()
    synth.close()
    return percentiles(latencies) | {"lost": events - len(latencies)}


class TimedEngine(Engine):
    """An engine that notes when each note-on is applied (at the start of the callback rendering its first block)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.applied: list[float] = []

    def apply(self, event: Event) -> None:
        if event.kind == "note_on":
            self.applied.append(time.perf_counter())
        super().apply(event)


def note_to_audio(cache: NoteCache, events: int) -> dict[str, float]:
    midi = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)
    keys = midi.open_output("keys", virtual=True, client_name="bench-keys")
    engine = TimedEngine(cache, EngineSettings(max_voices=8))
    thread, stop, _ = run_player(play_to_audio, engine=engine, midi_in="bench-keys", connect=False)
    time.sleep(0.2)
    latencies = []
    for i in range(events):
        count = len(engine.applied)
        sent = time.perf_counter()
        keys.send(mido.Message("note_on", note=48 + i % 36, velocity=100))
        deadline = sent + 1.0
        while len(engine.applied) == count and time.perf_counter() < deadline:
            time.sleep(0.0002)
        if len(engine.applied) > count:
            latencies.append(engine.applied[count] - sent)
        keys.send(mido.Message("note_off", note=48 + i % 36))
        time.sleep(0.004)
    stop.set()
    thread.join(10)
    keys.close()
    return percentiles(latencies) | {"lost": events - len(latencies)}


def soak(cache: NoteCache, seconds: float, play: bool = True) -> dict[str, float]:
    """``seconds`` of playing (or, with ``play`` False, of the same client idle: the control, what the server
    and the machine miss by themselves)."""
    midi = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)
    keys = midi.open_output("keys", virtual=True, client_name="bench-keys")
    engine = Engine(cache, EngineSettings(max_voices=16))
    thread, stop, result = run_player(play_to_audio, engine=engine, midi_in="bench-keys", connect=False, measure=True)
    started, i, notes = time.perf_counter(), 0, 0
    while time.perf_counter() - started < seconds:
        if not play:
            time.sleep(0.04)
            continue
        keys.send(mido.Message("control_change", control=1, value=(i * 3) % 128))
        key = 48 + (i * 5) % 36
        keys.send(mido.Message("note_on", note=key, velocity=60 + i % 60))
        notes += 1
        if i >= 4:
            keys.send(mido.Message("note_off", note=48 + ((i - 4) * 5) % 36))
        i += 1
        time.sleep(0.04)
    stop.set()
    thread.join(10)
    keys.close()
    stats = result["value"]
    callback = np.asarray(stats.callback_seconds) * 1e3
    budget = 1e3 * BLOCK / RATE
    return {"seconds": seconds, "notes": notes, "blocks": stats.blocks, "xruns": stats.xruns,
            "callback_median_ms": float(np.median(callback)), "callback_p99_ms": float(np.percentile(callback, 99)),
            "callback_max_ms": float(callback.max()), "block_budget_ms": budget,
            "callbacks_over_budget": int((callback > budget).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, default=None, help="a DX7 model: also time its decoding of 128 positions")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--soak", type=float, default=60.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    synth = get_synth("dx7")
    values = synth.schema.learnable(synth.generate(8, seed=4).params)
    rows: dict[str, object] = {}
    t0 = time.perf_counter()
    path = morph_path(synth, values[1], values[6])
    rows["decode_reference_s"] = time.perf_counter() - t0
    if args.ckpt:
        from spinvae.interpolation.model import load_model
        from spinvae.interpolation.refine import RefineConfig

        module = load_model(args.ckpt)
        for steps in (0, 200):
            t0 = time.perf_counter()
            morph_path(synth, values[1], values[6], module=module, refine=RefineConfig(steps=steps))
            rows[f"decode_model_refine{steps}_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cache = NoteCache(synth, path.presets, CacheSettings(sample_rate=RATE))
    rows["cache"] = {"seconds": time.perf_counter() - t0, "mib": cache.nbytes / 2**20, "distinct": path.distinct}
    server = start_jack()
    try:
        rows["cc_to_preset"] = cc_to_preset(path, args.events)
        rows["note_on_to_block"] = note_to_audio(cache, args.events)
        rows["soak"] = soak(cache, args.soak)
        rows["soak_idle"] = soak(cache, args.soak, play=False)
    finally:
        server.terminate()
        server.wait(10)
    print(json.dumps(rows, indent=2))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
