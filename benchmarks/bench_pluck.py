"""Pluck synth benchmark: presets rendered per second beside Dexed, and the cost of a fitting step.

    python benchmarks/bench_pluck.py                          # 48 presets, 16 and 48 kHz, 2 threads
    python benchmarks/bench_pluck.py --n 96 --rounds 5 --json pluck.json

Both synths render the same job: ``--n`` presets of their own procedural generator (one note, MIDI 56 at
velocity 75, a ``--note-duration`` s note in a ``--duration`` s render), on ``--threads`` threads (the
pluck synth in batches of 16 presets on that many torch threads; Dexed with one engine per thread,
``render_presets(..., workers=threads)``). The two alternate ``--rounds`` times and each one's median
is reported, so that a busy machine slows both alike; the ratio is pluck over Dexed.

Fitting: one forward and one backward pass of ``PluckSynth.render_controls`` (batch ``--fit-batch``,
48 kHz, a 1-s note, loss the audio's mean square) from unit controls, per preset, the median of
``--fit-steps`` steps. Prints Markdown tables; ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from spinvae.synth.base import RenderSettings
from spinvae.synth.registry import get_synth

def timed(job: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    job()
    return time.perf_counter() - t0


def render_rates(n: int, sample_rate: int, duration: float, note_duration: float, threads: int, rounds: int
                 ) -> dict[str, list[float]]:
    """Presets per second of both synths over ``rounds`` alternated runs."""
    settings = RenderSettings(sample_rate=sample_rate, duration=duration, note_duration=note_duration)
    pluck, dx7 = get_synth("pluck"), get_synth("dx7")
    plucks, voices = pluck.generate(n, seed=0).params, dx7.generate(n, seed=0).params
    jobs = {
        "pluck": lambda: pluck.render(plucks, settings, workers=threads),
        "dexed": lambda: dx7.render(voices, settings, workers=threads),
    }
    for job in jobs.values():  # warm-up: allocations, kernels, engines
        job()
    rates: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(rounds):
        for name, job in jobs.items():
            rates[name].append(n / timed(job))
    return rates


def fit_step_ms(batch: int, steps: int, threads: int) -> dict[str, float]:
    """Milliseconds per preset of the forward pass, and of forward plus backward, of ``render_controls``."""
    synth = get_synth("pluck")
    settings = RenderSettings(sample_rate=48000, duration=1.0, note_duration=1.0)
    generator = torch.Generator().manual_seed(0)
    controls = (0.1 + 0.8 * torch.rand(batch, synth.schema.n_learnable, generator=generator)).requires_grad_()
    notes, velocities = torch.full((batch,), 56.0), torch.full((batch,), 75.0)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        def forward() -> None:
            with torch.no_grad():
                synth.render_controls(controls, notes, velocities, settings)

        def step() -> None:
            controls.grad = None
            synth.render_controls(controls, notes, velocities, settings).pow(2).mean().backward()

        forward(), step()  # warm-up
        forward_s = statistics.median(timed(forward) for _ in range(steps))
        step_s = statistics.median(timed(step) for _ in range(steps))
    finally:
        torch.set_num_threads(previous)
    return {"forward_ms_per_preset": forward_s / batch * 1e3, "step_ms_per_preset": step_s / batch * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=48, help="presets per render run")
    parser.add_argument("--sample-rates", type=int, nargs="+", default=[16000, 48000])
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--note-duration", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternate the two synths this many times; medians")
    parser.add_argument("--fit-batch", type=int, default=8)
    parser.add_argument("--fit-steps", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    rows = []
    for sample_rate in args.sample_rates:
        rates = render_rates(args.n, sample_rate, args.duration, args.note_duration, args.threads, args.rounds)
        rows.append({"sample_rate": sample_rate, "n": args.n, "threads": args.threads,
                     **{f"{name}_presets_per_s": statistics.median(r) for name, r in rates.items()},
                     **{f"{name}_runs": [round(x, 1) for x in r] for name, r in rates.items()}})
    fit = fit_step_ms(args.fit_batch, args.fit_steps, args.threads)

    print(f"Rendering: {args.n} presets, {args.note_duration:g}-s notes in {args.duration:g}-s renders, "
          f"{args.threads} threads, medians of {args.rounds} alternated runs\n")
    print("| sample rate | pluck presets/s | runs | Dexed presets/s | runs | pluck / Dexed |")
    print("| ---: | ---: | --- | ---: | --- | ---: |")
    for r in rows:
        print(f"| {r['sample_rate']} Hz | {r['pluck_presets_per_s']:.1f} | {', '.join(map(str, r['pluck_runs']))} | "
              f"{r['dexed_presets_per_s']:.1f} | {', '.join(map(str, r['dexed_runs']))} | "
              f"{r['pluck_presets_per_s'] / r['dexed_presets_per_s']:.2f}x |")
    print(f"\nFitting: render_controls, batch {args.fit_batch}, 48 kHz, 1-s note, {args.threads} threads, "
          f"median of {args.fit_steps} steps\n")
    print("| forward, ms per preset | forward + backward, ms per preset |")
    print("| ---: | ---: |")
    print(f"| {fit['forward_ms_per_preset']:.1f} | {fit['step_ms_per_preset']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"render": rows, "fit": {"batch": args.fit_batch, **fit}}, indent=2))


if __name__ == "__main__":
    main()
