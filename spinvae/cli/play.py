"""``spinvae play``: a knob (a MIDI CC) moves a morph or a timbre knob while a keyboard plays (spinvae.play)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from spinvae.errors import SettingError
from spinvae.cli.commands import (UserError, knob_inputs, model_or_synth, refine_steps_option, refine_weight_option,
                                  resolve_preset)


def _path(args: Any):
    from spinvae.interpolation.refine import RefineConfig
    from spinvae.play.path import knob_path, morph_path

    refine = RefineConfig(steps=refine_steps_option(args.refine_steps), posterior_weight=refine_weight_option(args.refine_weight))
    if args.extrapolate < 0:
        raise UserError(f"--extrapolate {args.extrapolate}: give 0 or more")
    if args.preset or args.attribute:  # a timbre knob
        if not (args.preset and args.attribute):
            raise UserError("a timbre knob needs --preset and --attribute")
        module, values, label = knob_inputs(args)
        return knob_path(module, values, args.attribute, args.amount, refine, args.workers,
                         f"{args.attribute} on {label}", anchor=args.anchor)
    if not (args.start and args.end):
        raise UserError("give --start and --end (a morph), or --preset and --attribute (a timbre knob)")
    module, synth = model_or_synth(args, "play")
    start, start_label = resolve_preset(args.start, args.data, synth)
    end, end_label = resolve_preset(args.end, args.data, synth)
    return morph_path(synth, start, end, -args.extrapolate, 1.0 + args.extrapolate, module, args.latent, refine,
                      workers=args.workers, label=f"{start_label} -> {end_label}", anchor=args.anchor)


def _settings(args: Any):
    """The note cache's and the engine's settings, checked before any work."""
    from spinvae.play.cache import CacheSettings
    from spinvae.play.engine import EngineSettings

    try:
        low, high = (int(k) for k in str(args.key_range).split(":"))
    except ValueError:
        raise UserError(f"--key-range {args.key_range}: give LOW:HIGH MIDI keys, e.g. 36:96") from None
    try:
        return (CacheSettings(sample_rate=args.sample_rate, lowest_key=low, highest_key=high, key_step=args.key_step,
                              velocity=args.velocity, note_seconds=args.note_seconds),
                EngineSettings(cc=args.cc, channel=args.channel))
    except SettingError as err:  # one option named, as the user spelled it
        raise UserError(f"--{err.field.replace('_', '-')} {err.value}: {err.reason}") from None


def _engine(args: Any, path, cache_settings, engine_settings):
    import dataclasses

    from spinvae.play.cache import NoteCache
    from spinvae.play.engine import Engine

    print(f"rendering {path.distinct} distinct presets at {len(cache_settings.centres)} keys "
          f"({cache_settings.lowest_key}..{cache_settings.highest_key} every {cache_settings.key_step}), "
          f"{cache_settings.note_seconds:g} s at {cache_settings.sample_rate} Hz ...", flush=True)
    cache = NoteCache(path.synth, path.presets, cache_settings, args.workers)
    print(f"  {cache.seconds:.1f} s, {cache.nbytes / 2**20:.0f} MiB", flush=True)
    return Engine(cache, dataclasses.replace(engine_settings, start=path.home))


def _until_interrupted() -> threading.Event:
    """An event set by Ctrl-C (SIGINT) or SIGTERM, so that the players close cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def play(args: Any) -> None:
    import time

    from spinvae.play.ports import list_ports

    if args.list_ports:
        for kind, names in list_ports().items():
            print(f"{kind}:" + "".join(f"\n  {name}" for name in names) if names else f"{kind}: none")
        return
    cache_settings, engine_settings = _settings(args)
    if args.block < 1:
        raise UserError(f"--block {args.block}: give a positive number of frames")
    if args.midi_file and not args.out:
        raise UserError("--midi-file needs --out take.wav")
    if args.midi_file and args.to == "midi":
        raise UserError("--midi-file renders audio offline; --to midi sends to a synth live: give one")
    if args.min_interval < 0:
        raise UserError(f"--min-interval {args.min_interval}: give 0 or more seconds")
    if args.midi_file:
        from pathlib import Path

        from spinvae.play.offline import MidiFileError, read_midi_messages

        try:
            read_midi_messages(args.midi_file)  # a bad file is refused before the path is decoded
        except MidiFileError as err:
            raise UserError(str(err)) from None
        if Path(args.out).suffix.lower() != ".wav":
            raise UserError(f"--out {args.out}: give a .wav file")

    started = time.perf_counter()
    path = _path(args)
    if args.to == "midi" and not path.synth.midi_presets:
        raise UserError(f"--to midi: the {path.synth.name} synth takes no preset over MIDI; play it with --to audio")
    print(f"{path.label}: {len(path.presets)} positions decoded in {time.perf_counter() - started:.1f} s "
          f"({path.distinct} distinct presets); the knob starts at CC {args.cc} = {path.home}", flush=True)

    if args.to == "midi":
        from spinvae.play.live import play_to_midi

        stop = _until_interrupted()
        play_to_midi(path, args.midi_in, args.midi_out, args.cc, args.channel, args.min_interval, stop,
                     ready=lambda _: print("playing: notes pass through, the knob sends presets; Ctrl-C stops",
                                           flush=True))
        print("stopped: all notes off")
        return

    engine = _engine(args, path, cache_settings, engine_settings)
    if args.midi_file:
        from spinvae.play.offline import render_midi_file

        out, seconds = render_midi_file(engine, args.midi_file, args.out, args.block)
        print(f"wrote {out} ({seconds:.1f} s)")
        return
    from spinvae.play.live import play_to_audio

    stop = _until_interrupted()
    stats = play_to_audio(engine, args.midi_in, connect=not args.no_connect, stop=stop,
                          ready=lambda client, _: print(f"playing on JACK ({client.samplerate} Hz, blocks of "
                                                        f"{client.blocksize}); Ctrl-C stops", flush=True))
    print(f"stopped: all notes off ({stats.blocks} blocks, {stats.xruns} missed deadlines)")
