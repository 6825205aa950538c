"""Data-pipeline benchmark: render, spectrogram and whole-build throughput, disk use, reads.

    python benchmarks/bench_data.py            # 2,048 real voices (or procedural ones without ../shared)
    python benchmarks/bench_data.py --full     # also the whole build of every real voice

Each figure that has a baseline is measured against it in the same process: threads against
one thread, spectrogram implementation against a plain dense torch one. Prints a Markdown table
and writes the figures as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from spinvae.audio.mel import MelSettings, mel_spectrogram
from spinvae.data.build import BuildConfig, build_dataset, collect_presets, deduplicate
from spinvae.synth.dx7.schema import DX7_SCHEMA
from spinvae.data.datamodule import PresetDataset
from spinvae.synth.base import RenderSettings
from spinvae.synth.dx7.render import render_presets

SHARED_DX7 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dx7"


def timed(fn, repeat: int = 3) -> float:
    """Best wall time of ``repeat`` runs (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def dense_mel_baseline(audio: torch.Tensor, filters: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """The straightforward torch spectrogram: complex abs and a dense filter-bank product."""
    spec = torch.stft(audio, 1024, 256, window=window, center=True, pad_mode="constant", return_complex=True).abs()
    return 20.0 * torch.log10(torch.matmul(filters, spec).clamp_min(1e-6))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2048, help="presets for the render/spectrogram/build figures")
    parser.add_argument("--full", action="store_true", help="also build every real voice (about 31k)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()

    source = "real DX7 banks" if SHARED_DX7.is_dir() else "procedural presets"
    config = BuildConfig(presets=(str(SHARED_DX7),)) if SHARED_DX7.is_dir() else BuildConfig(procedural=args.n)
    collected = collect_presets(config, log=lambda *_: None)
    presets = collected.params[deduplicate(collected.params, DX7_SCHEMA)]
    sample = presets[np.random.default_rng(0).permutation(len(presets))[: args.n]]
    settings = RenderSettings()
    figures: dict[str, float] = {"n": len(sample)}

    one = timed(lambda: render_presets(sample[:512], settings, workers=1), repeat=1)
    two = timed(lambda: render_presets(sample[:512], settings, workers=2), repeat=1)
    figures |= {"render_1_thread_per_s": 512 / one, "render_2_threads_per_s": 512 / two, "render_ms_per_clip": one / 512 * 1e3}

    audio = torch.from_numpy(render_presets(sample[:256], settings, workers=2)[:, 0])
    torch.set_num_threads(1)
    mel = mel_spectrogram(settings.sample_rate, MelSettings())
    blocks = audio.split(16)
    ours = timed(lambda: [mel(b) for b in blocks])
    base = timed(lambda: [dense_mel_baseline(b, mel.filters, mel.window) for b in blocks])
    assert torch.allclose(torch.cat([mel(b) for b in blocks]), torch.cat([dense_mel_baseline(b, mel.filters, mel.window) for b in blocks]), atol=1e-2)
    torch.set_num_threads(2)
    figures |= {"mel_per_s_1_thread": 256 / ours, "mel_dense_baseline_per_s_1_thread": 256 / base, "mel_speedup_vs_dense": base / ours}

    tmp = Path(tempfile.mkdtemp())
    try:
        subset = tmp / "subset"
        sub_config = BuildConfig(procedural=args.n) if not SHARED_DX7.is_dir() else None
        if sub_config is None:
            # a build of the sampled real voices: write them as banks so the build reads .syx as usual
            from spinvae.synth.dx7.sysex import write_banks

            write_banks(sample, tmp / "syx" / "sample.syx")
            sub_config = BuildConfig(presets=(str(tmp / "syx"),))
        t0 = time.perf_counter()
        manifest = build_dataset(subset, sub_config, log=lambda *_: None, progress=False)
        build_s = time.perf_counter() - t0
        n_unique = manifest["n_unique"]
        figures |= {
            "build_per_s": n_unique / build_s,
            "build_s": build_s,
            "disk_bytes_per_preset": manifest["store"]["bytes_on_disk"] / n_unique,
            "float32_bytes_per_preset": 4 * int(np.prod(manifest["store"]["shape"][1:])),
        }
        dataset = PresetDataset(subset, "train")
        figures["read_item_ms"] = timed(lambda: [dataset[i] for i in range(200)], repeat=1) / 200 * 1e3
        augmented = PresetDataset(subset, "train", augment=True)
        figures["augmented_item_ms"] = timed(lambda: [augmented[i] for i in range(200)], repeat=1) / 200 * 1e3
        if args.full and SHARED_DX7.is_dir():
            t0 = time.perf_counter()
            full = build_dataset(tmp / "full", BuildConfig(presets=(str(SHARED_DX7),)), log=lambda *_: None, progress=True)
            figures |= {
                "full_build_s": time.perf_counter() - t0,
                "full_n_unique": full["n_unique"],
                "full_n_presets": full["n_presets"],
                "full_disk_bytes": full["store"]["bytes_on_disk"],
                "full_excluded": len(full["excluded"]),
            }
    finally:
        shutil.rmtree(tmp)

    print(f"data pipeline on {source}, {len(sample)} presets, {torch.get_num_threads()} cores")
    print("| figure | value |\n| --- | ---: |")
    for key, value in figures.items():
        print(f"| {key} | {value:,.2f} |" if isinstance(value, float) else f"| {key} | {value:,} |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
