"""Timbre-feature benchmark: the 53 native features against the original Audio Commons package.

    OMP_NUM_THREADS=1 python benchmarks/bench_features.py   # 256 real renders (procedural without ../shared)

Measured in one process on the same clips: the first call (set-up and the compiled loops), native
features per clip on one core (batches of 32) and on two threads, each family separately (the
fastest of a few interleaved runs), the estimated time for 30,243 clips on two threads, and the
original ``timbral_models`` 0.4 on a few clips (when installed) for the ratio. Run it with
``OMP_NUM_THREADS=1``. Prints a Markdown table; ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from spinvae.data.build import BuildConfig, collect_presets, deduplicate
from spinvae.synth.dx7.schema import DX7_SCHEMA
from spinvae.features.audio_commons import audio_commons_features
from spinvae.data.spectrograms import features_in_processes
from spinvae.features.extract import compute_features
from spinvae.features.timbre_toolbox import timbre_toolbox_features
from spinvae.synth.dx7.render import render_presets

SHARED_DX7 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dx7"


def seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="clips")
    parser.add_argument("--n-original", type=int, default=6, help="clips for the original package (2.5 s each)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each figure (the fastest counts)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    config = BuildConfig(presets=(str(SHARED_DX7),)) if SHARED_DX7.is_dir() else BuildConfig(procedural=4 * args.n)
    collected = collect_presets(config, log=lambda *_: None)
    presets = collected.params[deduplicate(collected.params, DX7_SCHEMA)]
    audio = render_presets(presets[np.random.default_rng(0).permutation(len(presets))[: 2 * args.n]], workers=2)[:, 0]
    audio = audio[10 * np.log10(np.mean(audio.astype(np.float64) ** 2, axis=1) + 1e-30) > -60][: args.n]
    sr = 16000
    n = len(audio)

    torch.set_num_threads(1)
    figures: dict[str, float] = {"clips": n}
    # first call: set-up for the rate and length, and the numba loops loaded from their cache (or
    # compiled, in a fresh environment: NUMBA_CACHE_DIR pointing to an empty folder shows that)
    figures["first_call_s_setup_and_compiled_loops"] = seconds(lambda: compute_features(audio[:32], sr))
    features_in_processes(audio[:64], sr, "native", 2)  # start the build's pool of 2 feature processes
    runs = {
        "all_53_ms_per_clip_1_core": lambda: compute_features(audio, sr, workers=1),
        "all_53_ms_per_clip_2_processes_as_in_builds": lambda: features_in_processes(audio, sr, "native", 2),
        "all_53_ms_per_clip_2_threads": lambda: compute_features(audio, sr, workers=2),
        "ac_7_ms_per_clip_1_core": lambda: [audio_commons_features(audio[s : s + 32], sr) for s in range(0, n, 32)],
        "tt_46_ms_per_clip_1_core": lambda: [timbre_toolbox_features(audio[s : s + 32], sr) for s in range(0, n, 32)],
    }
    # the fastest of --repeats interleaved runs: the machine is shared, other jobs only ever add time
    times = {key: [] for key in runs}
    for _ in range(args.repeats):
        for key, run in runs.items():
            times[key].append(seconds(run) / n * 1e3)
    figures.update({key: min(values) for key, values in times.items()})
    figures["est_minutes_for_30243_clips_2_threads"] = figures["all_53_ms_per_clip_2_threads"] * 30243 / 6e4
    figures["est_minutes_for_30243_clips_2_processes"] = (
        figures["all_53_ms_per_clip_2_processes_as_in_builds"] * 30243 / 6e4)
    try:
        from spinvae.features.timbral_models_backend import audio_commons_features_original

        k = min(args.n_original, n)
        original = seconds(lambda: audio_commons_features_original(audio[:k], sr)) / k
        figures["original_ac_7_s_per_clip"] = original
        figures["native_ac_speedup_vs_original"] = original / (figures["ac_7_ms_per_clip_1_core"] / 1e3)
    except ImportError as err:
        print(f"original package not measured: {err}")

    print(f"timbre features on {'real DX7 renders' if SHARED_DX7.is_dir() else 'procedural renders'}: {n} clips of 4 s at 16 kHz")
    print("| figure | value |\n| --- | ---: |")
    for key, value in figures.items():
        print(f"| {key} | {value:,.2f} |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
