"""Sound matching on real plucked notes: how close the matches are, and how long they take.

    python benchmarks/bench_match.py                 # 42 soundfont notes at 48 kHz (7 instruments x 6 notes)
    python benchmarks/bench_match.py --instruments harp nylon --notes 40 64 --json match.json

Each note is rendered from Debian's FluidR3 GM soundfont (4 s, held 3 s, velocity 100, 48 kHz) and
matched with the pluck synth; per note: the spectral distance (spinvae.matching.distance) of
(a) the baseline, the nearest of ``--baseline`` random procedural presets played at the note (chosen on the
first second, as the fit's own first guess is), and of
(c) the fit (``spinvae match``'s defaults, from the nearest of its own 256 candidates), all over the
whole note; with ``--ckpt`` (an audio_only model, experiments/match_encoder_pluck.yaml) also (b) that
model's encoder alone and (b+c) the fit from the encoder's guess (``spinvae match --ckpt``); the 53-feature error of each (mean absolute difference in z-units, the features' standard
deviations across the recordings); the f0 error in cents against the note played with no note given
(pyin and the spectral octave check of ``read_recording``);
seconds per note on 2 threads. As a scale for the distance: two different instruments on one note.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from spinvae.audio.soundfont import INSTRUMENTS, render_note, soundfont_available
from spinvae.features.extract import compute_features
from spinvae.matching.distance import spectral_distance
from spinvae.matching.fit import MatchConfig, match_audio, nearest_candidates, render, resample
from spinvae.matching.recording import Recording, check_single_pitch, estimate_f0
from spinvae.synth.registry import get_synth

RATE = 48000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instruments", nargs="+", default=list(INSTRUMENTS))
    parser.add_argument("--notes", type=int, nargs="+", default=[40, 47, 52, 59, 69, 88], help="MIDI notes (E2 .. E6)")
    parser.add_argument("--baseline", type=int, default=1024, help="random procedural presets of the baseline")
    parser.add_argument("--ckpt", type=Path, default=None, help="an audio_only model: adds (b) and (b+c)")
    parser.add_argument("--steps", type=int, default=MatchConfig.steps, help="Adam steps of each fit")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if reason := soundfont_available():
        raise SystemExit(f"bench_match: {reason}")
    torch.set_num_threads(args.threads)
    synth = get_synth("pluck")
    specs = [(instrument, note) for instrument in args.instruments for note in args.notes]
    audio = np.stack([render_note(instrument, note, sample_rate=RATE) for instrument, note in specs])
    notes = torch.tensor([float(note) for _, note in specs])

    cents = []
    for clip, (_, note) in zip(audio, specs):
        f0, _ = estimate_f0(clip, RATE)
        f0, _ = check_single_pitch(clip, RATE, f0)  # its octave fixes, as read_recording makes them
        cents.append(abs(1200 * np.log2(f0 / (440 * 2 ** ((note - 69) / 12)))))

    targets = torch.from_numpy(audio)
    t0 = time.perf_counter()
    coarse = MatchConfig().coarse_rate  # searched as the fit's first guess is: at 16 kHz, on the first second
    baseline, _ = nearest_candidates(synth, resample(targets, RATE, coarse), notes, coarse,
                                     MatchConfig(candidates=args.baseline))
    baseline_seconds = (time.perf_counter() - t0) / len(specs)
    config = MatchConfig(steps=args.steps)
    result = match_audio(synth, list(audio), [RATE] * len(specs), notes.tolist(), config)
    seconds = {"baseline": baseline_seconds, "fit": result.seconds / len(specs)}
    unit = {"baseline": baseline, "fit": torch.from_numpy(result.unit).float()}
    if args.ckpt:
        from spinvae.interpolation.model import load_model
        from spinvae.interpolation.sound_to_preset import check_sound_encoder, guess_presets

        module = load_model(args.ckpt)
        check_sound_encoder(module, synth.name, str(args.ckpt))
        recordings = [Recording(Path(f"{instrument}_{note}"), clip, RATE, float(note), "given", float("nan"), 1.0)
                      for clip, (instrument, note) in zip(audio, specs)]
        t0 = time.perf_counter()
        guess = guess_presets(module, recordings)
        seconds["encoder"] = (time.perf_counter() - t0) / len(specs)
        encoder_fit = match_audio(synth, list(audio), [RATE] * len(specs), notes.tolist(), config, guess=guess)
        seconds["encoder_fit"] = seconds["encoder"] + encoder_fit.seconds / len(specs)
        unit |= {"encoder": torch.from_numpy(guess).float(), "encoder_fit": torch.from_numpy(encoder_fit.unit).float()}
    cards = torch.from_numpy(synth.schema.cardinalities - 1.0).float()
    with torch.no_grad():  # every match as a preset file stores it: on the schema's grid
        renders = {name: render(synth, torch.round(u * cards) / cards, notes, config.velocity, RATE, audio.shape[1])
                   for name, u in unit.items()}
    distances = {name: spectral_distance(clip, targets, RATE).numpy() for name, clip in renders.items()}
    features = compute_features(np.concatenate([audio, *[r.numpy() for r in renders.values()]]), RATE)[0]
    recorded, matched = features[: len(specs)], features[len(specs):].reshape(len(renders), len(specs), -1)
    scale = np.nanstd(recorded, axis=0)
    scale[~(scale > 0)] = np.nan
    feature_error = {name: np.nanmean(np.abs(matched[k] - recorded) / scale, axis=1)
                     for k, name in enumerate(renders)}
    # two instruments on one note: the first two instruments' renders of each note
    pairs = [(i, j) for i, (a, n) in enumerate(specs) for j, (b, m) in enumerate(specs) if n == m and a < b]
    between = spectral_distance(targets[[i for i, _ in pairs]], targets[[j for _, j in pairs]], RATE).numpy()

    rows = {"notes": len(specs), "steps": args.steps, "instruments": args.instruments, "midi": args.notes,
            "distance_median": {k: float(np.median(v)) for k, v in distances.items()},
            "feature_error_median": {k: float(np.nanmedian(v)) for k, v in feature_error.items()},
            "fit_beats_baseline": int((distances["fit"] < distances["baseline"]).sum()),
            "f0_error_cents_median": float(np.median(cents)), "f0_error_cents_max": float(np.max(cents)),
            "seconds_per_note": seconds, "between_instruments_distance_median": float(np.median(between))}
    print(f"{len(specs)} soundfont notes at {RATE} Hz ({', '.join(args.instruments)}; MIDI {args.notes}), "
          f"{args.threads} threads\n")
    print("| match | spectral distance, median | 53-feature error (z), median | seconds per note |")
    print("| --- | ---: | ---: | ---: |")
    labels = {"baseline": f"(a) nearest of {args.baseline} procedural presets", "encoder": "(b) the encoder alone",
              "encoder_fit": f"(b+c) fit from the encoder's guess, {args.steps} steps (spinvae match --ckpt)",
              "fit": f"(c) fit from the nearest of 256, {args.steps} steps (spinvae match)"}
    for name in [k for k in labels if k in renders]:
        print(f"| {labels[name]} | {rows['distance_median'][name]:.4f} | {rows['feature_error_median'][name]:.2f} | "
              f"{seconds[name]:.2f} |")
    print(f"\nfit better than the baseline on {rows['fit_beats_baseline']} of {len(specs)} notes; "
          f"two instruments on one note: {rows['between_instruments_distance_median']:.4f}; "
          f"pyin f0 error: median {rows['f0_error_cents_median']:.1f} cents, max {rows['f0_error_cents_max']:.1f}")
    per_instrument = {ins: statistics.median(float(d) for d, (i, _) in zip(distances["fit"], specs) if i == ins)
                      for ins in args.instruments}
    print("fit distance by instrument: " + ", ".join(f"{k} {v:.4f}" for k, v in per_instrument.items()))
    if args.json:
        args.json.write_text(json.dumps(rows | {"per_instrument": per_instrument}, indent=2))


if __name__ == "__main__":
    main()
