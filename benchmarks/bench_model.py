"""Model benchmark: parameter counts, training samples/s and peak memory of experiment configs.

    python benchmarks/bench_model.py                       # cpu.yaml and spinvae2.yaml on this machine
    python benchmarks/bench_model.py --configs experiments/smoke.yaml --batch 16

Each config's ``model.vae`` section builds the model for its dataset's spectrogram shape (64 x 126
for the cpu recipe, 257 x 251 for the reference one) and trains on random batches (the data
pipeline is benchmarked in bench_data.py). Every configuration runs in its own process, so peak
memory is that process's maximum resident set growth over the model's start (CPU: parameters,
activations, gradients and Adam state). Prints a Markdown table; ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"datasets/dx7_cpu": (1, 64, 126), "datasets/dx7": (1, 257, 251), "datasets/default": (1, 257, 251)}


def measure(config_path: str, batch: int, steps: int, threads: int) -> dict:
    """Run in a child process: build, warm up, time ``steps`` optimisation steps."""
    import resource
    import time

    import torch

    from spinvae.model.tokens import TokenLayout
    from spinvae.model.vae import SpinVAE, VAEConfig
    from spinvae.presets.dx7 import DX7_SCHEMA
    from spinvae.training.objective import LossConfig, total_loss

    torch.set_num_threads(threads)
    config = yaml.safe_load(Path(config_path).read_text())
    shape = SHAPES.get(config["data"]["data_dir"].rstrip("/"), (1, 257, 251))
    vae = SpinVAE(VAEConfig(**config["model"]["vae"]), TokenLayout.from_schema(DX7_SCHEMA), shape)
    loss_config = LossConfig(**{k: v for k, v in config["model"].get("loss", {}).items() if k != "attributes"})
    optimizer = torch.optim.Adam(vae.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    classes = torch.where(torch.from_numpy(DX7_SCHEMA.is_categorical), torch.randint(0, 2, (batch, 144), generator=g), -1)
    numbers = torch.rand(batch, 144, generator=g) * torch.from_numpy(~DX7_SCHEMA.is_categorical)
    spectrogram = torch.rand(batch, *shape, generator=g) * 2 - 1
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def step() -> None:
        out = vae(classes, numbers, spectrogram)
        loss = total_loss(loss_config, vae.loss_terms(out, classes, numbers, spectrogram, loss_config.free_bits),
                          loss_config.beta)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()  # warm-up: allocations, kernels
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - t0) / steps
    return {
        "config": config_path,
        "spectrogram": "x".join(map(str, shape[1:])),
        "parameters_m": sum(p.numel() for p in vae.parameters()) / 1e6,
        "batch": batch,
        "threads": threads,
        "samples_per_s": batch / seconds,
        "peak_memory_gb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_start) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["experiments/cpu.yaml", "experiments/spinvae2.yaml"])
    parser.add_argument("--batch", type=int, nargs="+", default=None, help="per config (default: the config's)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--memory-at", type=int, default=None,
                        help="also estimate peak memory at this batch from two smaller ones (linear in batch)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.steps, int(args.child[2]))))
        return
    def child(path: str, batch: int, steps: int) -> dict:
        out = subprocess.run([sys.executable, __file__, "--child", path, str(batch), str(args.threads),
                              "--steps", str(steps)], cwd=ROOT, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    rows = []
    for i, path in enumerate(args.configs):
        batch = args.batch[i] if args.batch else yaml.safe_load((ROOT / path).read_text())["data"]["batch_size"]
        row = child(path, batch, args.steps)
        if args.memory_at:
            half = child(path, batch // 2, 1)["peak_memory_gb"]
            per_sample = (row["peak_memory_gb"] - half) / (batch - batch // 2)
            row["estimated_memory_gb_at"] = [args.memory_at, half + per_sample * (args.memory_at - batch // 2)]
        rows.append(row)
    print("| config | spectrogram | parameters | batch | training samples/s | peak memory | estimated peak memory |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        estimate = r.get("estimated_memory_gb_at")
        estimate = f"{estimate[1]:.1f} GB at batch {estimate[0]}" if estimate else ""
        print(f"| {r['config']} | {r['spectrogram']} | {r['parameters_m']:.1f} M | {r['batch']} | "
              f"{r['samples_per_s']:.1f} | {r['peak_memory_gb']:.2f} GB | {estimate} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
