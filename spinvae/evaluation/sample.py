"""A model measured on a small fixed sample of pairs: the figures a model card records and a test reproduces.

The sample is a list of presets named ``FILE:INDEX`` (in pairs: start, end, start, end, ...), taken
from a split of a built dataset by :func:`sample_references`. :func:`evaluate_sample` writes them as
one bank, builds a dataset of that bank alone (the model's render and spectrogram settings, no
features: the model's attribute transform measures every method), evaluates the model against
parameter interpolation on each pair (:func:`spinvae.evaluation.run.run_evaluation`, ``split="all"``)
and returns the headline figures of each method (:func:`headline_figures`), which is what
``docs/models.md`` quotes from any evaluation too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spinvae.data.build import PRESETS, BuildConfig, build_dataset, preset_uids
from spinvae.evaluation.report import write_results
from spinvae.evaluation.run import ALL, EvaluationConfig, run_evaluation
from spinvae.interpolation.model import load_model


@dataclass(frozen=True)
class MethodFigures:
    """One method against parameter interpolation: change % of smoothness and non-linearity (average over
    attributes of the per-attribute median and mean change; negative is better), attributes significantly
    better / worse (Wilcoxon, 5 %), and how exact the sequences' ends are (share of categorical parameters
    right, mean error of numerical ones in steps)."""

    smoothness_median_pct: float
    smoothness_mean_pct: float
    smoothness_improved: int
    smoothness_worse: int
    nonlinearity_median_pct: float
    nonlinearity_mean_pct: float
    nonlinearity_improved: int
    nonlinearity_worse: int
    n_attributes: int
    categorical_accuracy: float
    numerical_error_steps: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def headline_figures(summary: dict[str, Any], note: str | None = None) -> dict[str, MethodFigures]:
    """Each non-reference method's :class:`MethodFigures` from an evaluation's ``summary.json`` content
    (its first note unless ``note`` is given)."""
    notes = summary["notes"]
    entries = notes[note or next(iter(notes))]
    figures = {}
    for method, entry in entries.items():
        if entry.get("is_reference"):
            continue
        s, n = entry["smoothness"], entry["nonlinearity"]
        ends = summary["endpoints"].get(method, {})
        figures[method] = MethodFigures(
            smoothness_median_pct=s["median_change_pct"], smoothness_mean_pct=s["mean_change_pct"],
            smoothness_improved=s["improved_features"], smoothness_worse=s["worse_features"],
            nonlinearity_median_pct=n["median_change_pct"], nonlinearity_mean_pct=n["mean_change_pct"],
            nonlinearity_improved=n["improved_features"], nonlinearity_worse=n["worse_features"],
            n_attributes=s["n_features"], categorical_accuracy=ends.get("categorical_accuracy", float("nan")),
            numerical_error_steps=ends.get("numerical_error_steps", float("nan")),
        )
    return figures


def sample_references(data: str | Path, split: str, n_pairs: int) -> list[str]:
    """``FILE:INDEX`` of the presets of the first ``n_pairs`` pairs of a split of a built dataset, in order
    (the pairs :func:`spinvae.evaluation.run.evaluation_pairs` makes)."""
    table = pd.read_parquet(Path(data) / PRESETS, columns=["split", "source", "bank_index"])
    table = table[table["split"] == split].head(2 * n_pairs)
    if len(table) < 2 * n_pairs:
        raise ValueError(f"{data}: the {split} split has {len(table)} presets, fewer than {2 * n_pairs}")
    return [f"{source}:{index}" for source, index in zip(table["source"], table["bank_index"])]


def evaluate_sample(model: str, references: list[str], out: str | Path, refine_steps: int, refine_weight: float,
                    anchor: bool = True, workers: int = 2) -> dict[str, MethodFigures]:
    """Evaluate ``model`` (a checkpoint or model folder, :func:`spinvae.interpolation.model.load_model`) on the
    pairs of ``references`` (``FILE:INDEX``, start and end alternating) against parameter interpolation:
    methods ``model`` (the reference protocol), ``model+refined`` (with ``refine_steps`` > 0) and their bends
    over parameter interpolation (``+bend``, :class:`spinvae.interpolation.morph.Method`). ``out`` receives the bank, its dataset and the evaluation (started again each call)."""
    if len(references) < 2 or len(references) % 2:
        raise ValueError(f"{len(references)} presets: a sample is pairs of presets (an even number, at least 2)")
    module = load_model(model)
    synth = module.synth
    params = np.stack([synth.schema.canonical(synth.read_preset(r)[0]) for r in references])
    if len(set(preset_uids(params, synth.schema))) < len(params):
        raise ValueError("the sample repeats a preset: a dataset keeps one copy, which would pair other presets")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    banks = synth.write_bank(out / "sample", params)
    data = out / "data"
    render, mel = module.data.render, module.data.mel
    build_dataset(data, BuildConfig(synth=synth.name, presets=tuple(str(b) for b in banks), render=render, mel=mel,
                                    features=False, workers=workers), log=lambda *_: None, progress=False)
    # the bank file may hold more voices than the sample (a DX7 bank is padded to 32): the sample's presets must
    # be the dataset's first ones, in order, none excluded as silent
    table = pd.read_parquet(data / PRESETS, columns=["uid", "row"]).sort_values("row")
    if table["uid"].head(len(params)).tolist() != preset_uids(params, synth.schema):
        raise ValueError("a preset of the sample is silent at the model's notes, so the dataset would pair others")
    config = EvaluationConfig(data=str(data), out=str(out / "evaluation"), split=ALL, checkpoints={"model": model},
                              max_pairs=len(params) // 2, workers=workers, latent_report=False, refine_steps=refine_steps,
                              refine_weight=refine_weight, anchor=anchor)
    run_evaluation(config, progress=False, overwrite=True)
    summary = write_results(out / "evaluation", html=False, workers=workers)
    return headline_figures(summary)
