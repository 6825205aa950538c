"""Latent-quality benchmark: interpretability and MIG of the evaluation's latent report.

    python benchmarks/bench_latent.py [--n 3006] [--dims 256] [--attributes 39] [--baseline-attributes 4]

Times :func:`spinvae.evaluation.latent.interpretability` and :func:`mutual_information_gap` on
latent means and attributes the size of the real test split, against the straightforward
baseline they replaced (one scikit-learn regression and one ``mutual_info_score`` call per
(attribute, coordinate) pair), run in the same process on the first ``--baseline-attributes``
attributes and scaled to all of them; checks that both give the same answers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mutual_info_score

from spinvae.evaluation.latent import _discretise, interpretability, mutual_information_gap


def baseline(mu: np.ndarray, attributes: np.ndarray, bins: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z, v = _discretise(mu, bins), _discretise(attributes, bins)
    r2, best, gaps = [], [], []
    for a in range(attributes.shape[1]):
        scores = [LinearRegression().fit(mu[:, [d]], attributes[:, a]).score(mu[:, [d]], attributes[:, a])
                  for d in range(mu.shape[1])]
        best.append(int(np.argmax(scores)))
        r2.append(scores[best[-1]])
        information = np.sort([mutual_info_score(v[:, a], z[:, d]) for d in range(z.shape[1])])[::-1]
        gaps.append((information[0] - information[1]) / mutual_info_score(v[:, a], v[:, a]))
    return np.array(r2), np.array(best), np.array(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3006)
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--attributes", type=int, default=39)
    parser.add_argument("--baseline-attributes", type=int, default=4)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(args.n, args.dims))
    mixing = rng.normal(size=(args.dims, args.attributes)) * (rng.random((args.dims, args.attributes)) < 0.02)
    attributes = mu @ mixing + rng.normal(size=(args.n, args.attributes))

    t0 = time.perf_counter()
    r2, best = interpretability(mu, attributes)
    gaps = mutual_information_gap(mu, attributes)
    spinvae_s = time.perf_counter() - t0
    k = args.baseline_attributes
    t0 = time.perf_counter()
    r2_base, best_base, gaps_base = baseline(mu, attributes[:, :k])
    baseline_s = (time.perf_counter() - t0) * args.attributes / k
    assert np.allclose(r2[:k], r2_base) and (best[:k] == best_base).all() and np.allclose(gaps[:k], gaps_base)

    print(f"| figure ({args.n} presets, {args.dims} coordinates, {args.attributes} attributes) | value |")
    print("| --- | ---: |")
    print(f"| spinvae (interpretability + MIG) | {spinvae_s:.2f} s |")
    print(f"| baseline, one call per pair (scaled from {k} attributes) | {baseline_s:.1f} s |")
    print(f"| speed-up | {baseline_s / spinvae_s:.0f}x |")


if __name__ == "__main__":
    main()
