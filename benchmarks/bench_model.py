"""Model benchmark: parameter counts, training samples/s and peak memory of experiment configs.

    python benchmarks/bench_model.py                       # cpu.yaml and spinvae2.yaml on this machine
    python benchmarks/bench_model.py --configs experiments/smoke.yaml --batch 16

Each config's ``model.vae`` section builds the model for its dataset's spectrogram shape (64 x 126
for the cpu recipe, 257 x 251 for the reference one) and trains on random batches (the data
pipeline is benchmarked in bench_data.py). Every configuration runs in its own process, so peak
memory is that process's maximum resident set growth over the model's start (CPU: parameters,
activations, gradients and Adam state). Prints a Markdown table; ``--json`` writes the figures.

The step is the training step's: forward, every loss term (the attribute regularisation included),
backward, Adam. ``--baseline REV`` measures the same configs with the package as it was at git
revision REV (exported to a temporary folder) in the same command, ``--compile`` adds a run with
the networks compiled (``torch.compile``, as ``model.compile: true`` does), and ``--rounds N``
alternates the variants N times and reports each one's median, so that a busy machine slows all
of them alike:

    python benchmarks/bench_model.py --configs experiments/cpu.yaml --baseline 870e57f --compile --rounds 5

``--profile`` instead says where one step's time goes (``torch.profiler``, self time of each operator over
``--steps`` steps, grouped: matrix products, fused attention, convolutions, normalisation, softmax and
losses, the optimiser, elementwise work and copies), with the matrix products' and convolutions' FLOPs
(``torch.utils.flop_counter``) and the rate each group reaches:

    python benchmarks/bench_model.py --configs experiments/pretrained_dx7_stage2.yaml --profile --steps 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"datasets/dx7_cpu": (1, 64, 126), "datasets/dx7": (1, 257, 251), "datasets/default": (1, 257, 251)}


def measure(config_path: str, batch: int, steps: int, threads: int, compile: bool = False,
            profiled: bool = False) -> dict:
    """Run in a child process: build, warm up, time ``steps`` optimisation steps."""
    import resource
    import time

    import torch

    import spinvae
    from spinvae.model.tokens import TokenLayout
    from spinvae.model.vae import SpinVAE, VAEConfig
    from spinvae.synth.dx7.schema import DX7_SCHEMA
    from spinvae.training.objective import LossConfig, attribute_term, total_loss

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
    n_attributes = min(39, vae.config.dim_z // loss_config.chunk)
    attributes = torch.randn(batch, n_attributes, generator=g)
    low, high = attributes.min(dim=0).values, attributes.max(dim=0).values
    if compile:
        for network in (vae.preset_encoder, vae.audio_encoder, vae.preset_decoder, vae.spectrogram_decoder):
            if network is not None:
                network.compile()
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def step() -> None:
        out = vae(classes, numbers, spectrogram)
        terms = vae.loss_terms(out, classes, numbers, spectrogram, loss_config.free_bits)
        if loss_config.attribute_loss != "none":
            terms["attribute"] = attribute_term(loss_config, out.mu, attributes, low, high)
        loss = total_loss(loss_config, terms, loss_config.beta)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    t0 = time.perf_counter()
    step()  # warm-up: allocations, kernels (and the compilation)
    step()
    first_seconds = time.perf_counter() - t0
    if profiled:
        return {"config": config_path, "batch": batch, "threads": threads, **profile(step, steps)}
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
        "warm_up_s": first_seconds,
        "package": str(Path(spinvae.__file__).parent),
    }


#: operator name fragments -> the group a profile puts them in (first match wins; the rest is "elementwise and copies")
PROFILE_GROUPS = (
    ("fused attention", ("scaled_dot_product", "_flash_attention")),
    ("matrix products", ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::linear", "aten::matmul")),
    ("convolutions", ("convolution", "mkldnn_conv", "conv2d", "conv_transpose")),
    ("normalisation", ("layer_norm", "batch_norm", "group_norm")),
    ("softmax and losses", ("softmax", "nll_loss", "cross_entropy", "logsumexp")),
    ("optimiser (Adam)", ("_foreach", "adam", "zero_")),
)


def _group(name: str) -> str:
    return next((group for group, keys in PROFILE_GROUPS if any(k in name for k in keys)), "elementwise and copies")


def profile(step, steps: int) -> dict:
    """Where ``step``'s time goes: per group of operators, milliseconds a step (self time) and share; with
    the FLOPs a step of each group counts (matrix products, attention and convolutions) and its GFLOP/s."""
    import time

    import torch
    from torch.profiler import ProfilerActivity
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step()
    flops: dict[str, float] = {}
    for op, count in counter.get_flop_counts()["Global"].items():  # keys like aten.mm
        group = _group(str(op).replace(".", "::", 1))
        flops[group] = flops.get(group, 0.0) + count
    t0 = time.perf_counter()
    with torch.profiler.profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    wall_ms = 1000 * (time.perf_counter() - t0) / steps
    groups: dict[str, float] = {}
    top: dict[str, float] = {}
    for event in prof.key_averages():
        ms = event.self_cpu_time_total / 1000 / steps
        groups[_group(event.key)] = groups.get(_group(event.key), 0.0) + ms
        top[event.key] = ms
    return {"wall_ms": wall_ms, "groups": groups, "flops": flops, "top": sorted(top.items(), key=lambda kv: -kv[1])[:15],
            "total_gflop": counter.get_total_flops() / 1e9}


def exported_package(revision: str, into: Path) -> Path:
    """The ``spinvae`` package of git ``revision``, exported under ``into`` (a PYTHONPATH entry)."""
    archive = subprocess.run(["git", "archive", revision, "spinvae"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["experiments/cpu.yaml", "experiments/spinvae2.yaml"])
    parser.add_argument("--batch", type=int, nargs="+", default=None, help="per config (default: the config's)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--memory-at", type=int, default=None,
                        help="also estimate peak memory at this batch from two smaller ones (linear in batch)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--baseline", default=None, help="also measure the package of this git revision")
    parser.add_argument("--compile", action="store_true", help="also measure with the networks compiled")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the variants this many times; medians")
    parser.add_argument("--profile", action="store_true", help="where a step's time goes, by group of operators")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.child:
        path, batch, threads, compile = args.child
        print(json.dumps(measure(path, int(batch), args.steps, int(threads), compile == "1", args.profile)))
        return
    if args.profile:
        for path in args.configs:
            batch = args.batch[0] if args.batch else yaml.safe_load((ROOT / path).read_text())["data"]["batch_size"]
            out = subprocess.run([sys.executable, __file__, "--child", path, str(batch), str(args.threads), "0",
                                  "--steps", str(args.steps), "--profile"], cwd=ROOT, capture_output=True, text=True,
                                 check=True)
            print_profile(json.loads(out.stdout.strip().splitlines()[-1]))
        return

    def child(path: str, batch: int, steps: int, compile: bool = False, package: Path | None = None) -> dict:
        env = dict(os.environ)
        if package is not None:  # the exported package comes first on the path
            env["PYTHONPATH"] = os.pathsep.join([str(package), env.get("PYTHONPATH", "")])
        out = subprocess.run([sys.executable, __file__, "--child", path, str(batch), str(args.threads),
                              "1" if compile else "0", "--steps", str(steps)], cwd=ROOT, capture_output=True,
                             text=True, check=True, env=env)
        return json.loads(out.stdout.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory() as tmp:
        variants: list[tuple[str, bool, Path | None]] = [("this checkout", False, None)]
        if args.compile:
            variants.append(("this checkout, compiled", True, None))
        if args.baseline:
            variants.insert(0, (f"baseline {args.baseline}", False, exported_package(args.baseline, Path(tmp))))
        rows = []
        for i, path in enumerate(args.configs):
            batch = args.batch[i] if args.batch else yaml.safe_load((ROOT / path).read_text())["data"]["batch_size"]
            runs: dict[str, list[dict]] = {name: [] for name, _, _ in variants}
            for _ in range(args.rounds):
                for name, compile, package in variants:
                    runs[name].append(child(path, batch, args.steps, compile, package))
            for name, _, package in variants:
                row = dict(runs[name][0], variant=name)
                row["samples_per_s"] = statistics.median(r["samples_per_s"] for r in runs[name])
                row["samples_per_s_runs"] = [round(r["samples_per_s"], 1) for r in runs[name]]
                if package is not None:
                    assert row["package"].startswith(str(package)), row["package"]  # really the old code
                if args.memory_at:
                    half = child(path, batch // 2, 1, False, package)["peak_memory_gb"]
                    per_sample = (row["peak_memory_gb"] - half) / (batch - batch // 2)
                    row["estimated_memory_gb_at"] = [args.memory_at, half + per_sample * (args.memory_at - batch // 2)]
                rows.append(row)
    print("| config | variant | spectrogram | parameters | batch | training samples/s (median) | runs | "
          "ratio to first | warm-up (2 steps) | peak memory | estimated peak memory |")
    print("| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    first = {}
    for r in rows:
        first.setdefault(r["config"], r["samples_per_s"])
        estimate = r.get("estimated_memory_gb_at")
        estimate = f"{estimate[1]:.1f} GB at batch {estimate[0]}" if estimate else ""
        print(f"| {r['config']} | {r['variant']} | {r['spectrogram']} | {r['parameters_m']:.1f} M | {r['batch']} | "
              f"{r['samples_per_s']:.1f} | {', '.join(map(str, r['samples_per_s_runs']))} | "
              f"{r['samples_per_s'] / first[r['config']]:.2f}x | {r['warm_up_s']:.1f} s | {r['peak_memory_gb']:.2f} GB | "
              f"{estimate} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


def print_profile(result: dict) -> None:
    """A Markdown table of :func:`profile`'s groups, and the operators that take the most time."""
    wall, groups, flops = result["wall_ms"], result["groups"], result["flops"]
    profiled = sum(groups.values())
    print(f"{result['config']}, batch {result['batch']}, {result['threads']} threads: {wall:.0f} ms a step "
          f"({1000 * result['batch'] / wall:.0f} samples/s), {result['total_gflop']:.1f} GFLOP counted "
          f"({result['total_gflop'] / wall * 1000:.0f} GFLOP/s over the step)")
    print("| group | ms a step (self time) | share | GFLOP a step | GFLOP/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for group, ms in sorted(groups.items(), key=lambda kv: -kv[1]):
        gflop = flops.get(group, 0.0) / 1e9
        rate = f"{gflop / ms * 1000:.0f}" if gflop else ""
        print(f"| {group} | {ms:.1f} | {ms / profiled:.0%} | {gflop:.2f} | {rate} |")
    print("\nmost time (self, ms a step): " + ", ".join(f"{k} {v:.1f}" for k, v in result["top"]))


if __name__ == "__main__":
    main()
