"""Refinement benchmark: how many end presets a refinement setting reproduces exactly, and how fast.

    python benchmarks/bench_refine.py [--ckpt shipped] [--data datasets/dx7_cpu] [--split valid]
        [--pairs 128] [--settings likelihood:0.01:300 margin:0.01:300 ...] [--threads 2]

The end presets of the first ``--pairs`` pairs of a split (the presets ``spinvae evaluate --max-pairs``
refines: 2 x pairs of them) are refined from their encoder means with each setting
``OBJECTIVE:POSTERIOR_WEIGHT:STEPS[:LR[:MARGIN]]`` (:class:`spinvae.interpolation.refine.RefineConfig`), in
one process, one after the other. Printed per setting: the mean number of wrong parameters and the share of
presets decoded exactly before (encoder means), the same after, the median steps taken, and the
wall time per preset (the whole refinement divided by the presets; batches of 512).
Settings are chosen on the validation split (``--split valid``, the default).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from spinvae.data.manifest import read_manifest
from spinvae.evaluation.run import evaluation_pairs
from spinvae.interpolation.model import load_model, refined_codes
from spinvae.interpolation.refine import RefineConfig


def parse_setting(text: str) -> RefineConfig:
    parts = text.split(":")
    if not 3 <= len(parts) <= 5:
        raise SystemExit(f"--settings {text}: expected OBJECTIVE:WEIGHT:STEPS[:LR[:MARGIN]]")
    objective, weight, steps = parts[0], float(parts[1]), int(parts[2])
    lr = float(parts[3]) if len(parts) > 3 else RefineConfig.lr
    margin = float(parts[4]) if len(parts) > 4 else RefineConfig.margin
    return RefineConfig(steps=steps, lr=lr, posterior_weight=weight, objective=objective, margin=margin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default="shipped")
    parser.add_argument("--data", default="datasets/dx7_cpu")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--pairs", type=int, default=128)
    parser.add_argument("--settings", nargs="+", default=["likelihood:0.01:300", "margin:0.01:300"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    module = load_model(args.ckpt, synth=read_manifest(args.data).synth)  # shipped: the dataset's synth's model
    pairs = evaluation_pairs(args.data, args.split, args.pairs)
    values = np.stack([v for pair in zip(pairs["start"], pairs["end"]) for v in pair])
    print(f"{len(values)} end presets of the first {len(pairs)} {args.split} pairs of {args.data}; model {args.ckpt}; "
          f"{args.threads} threads")
    print(f"{'setting':34s} {'wrong before':>12s} {'exact before':>12s} {'exact after':>11s} {'wrong after':>11s} {'median steps':>12s} "
          f"{'s / preset':>10s}")
    for text in args.settings:
        config = parse_setting(text)
        result = refined_codes(module, values, config)
        print(f"{text:34s} {result.wrong_before.mean():12.2f} {100 * result.exact_before.mean():11.1f}% {100 * result.exact_after.mean():10.1f}% "
              f"{result.wrong_after.mean():11.2f} {np.median(result.steps):12.0f} {result.seconds / len(values):10.3f}",
              flush=True)


if __name__ == "__main__":
    main()
