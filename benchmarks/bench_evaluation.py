"""Evaluation benchmark: how long the interpolation evaluation takes per sequence.

    python benchmarks/bench_evaluation.py --data datasets/dx7_cpu [--ckpt CKPT] [--pairs 64]

Runs ``spinvae evaluate`` on the first ``--pairs`` pairs of the test split (the reference alone, or
a model and the reference) in a fresh folder, and extrapolates to the reference protocol's 1,500
sequences x 9 steps (13,500 renders and featurisations per method). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from spinvae.evaluation.report import write_results
from spinvae.evaluation.run import EvaluationConfig, run_evaluation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--ckpt", default=None)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        config = EvaluationConfig(data=args.data, out=out, max_pairs=args.pairs, workers=args.workers,
                                  checkpoints={"model": args.ckpt} if args.ckpt else {})
        run_evaluation(EvaluationConfig(**{**config.__dict__, "max_pairs": 2, "out": out + "/warm"}), progress=False)
        t0 = time.perf_counter()
        run_evaluation(config, progress=False)
        evaluate_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_results(out)
        report_s = time.perf_counter() - t0
    methods = 2 if args.ckpt else 1
    per_sequence = evaluate_s / args.pairs
    print(f"| figure ({args.pairs} pairs, {methods} method(s), {args.workers} workers) | value |\n| --- | ---: |")
    print(f"| renders + features per second | {args.pairs * 9 * methods / evaluate_s:.1f} |")
    print(f"| seconds per sequence (all methods) | {per_sequence:.3f} |")
    print(f"| estimated minutes for 1,500 sequences | {per_sequence * 1500 / 60:.1f} |")
    print(f"| metrics, summary and reports (s) | {report_s:.1f} |")


if __name__ == "__main__":
    main()
