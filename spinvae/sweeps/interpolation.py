"""The quick interpolation evaluation of a trial's model: :func:`spinvae.evaluation.run.run_evaluation`
on a few pairs of a split, scored against the reference (parameter interpolation).

The reference's sequences depend on the dataset and the evaluation settings only, never on the
model (its attributes use the dataset's transform, which is also the one every trial's checkpoint
carries), so a study evaluates them once: the first trial computes them into
``STUDY_DIR/reference/<settings hash>/`` and every trial copies the saved blocks into its own
evaluation, which then only renders its model's sequences.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from spinvae.data.manifest import read_manifest
from spinvae.features.attributes import AttributeTransform
from spinvae.evaluation.report import write_results
from spinvae.evaluation.run import EvaluationConfig, run_evaluation
from spinvae.interpolation.morph import REFERENCE, Method
from spinvae.sweeps.config import INTERPOLATION_METRICS, EvaluationSettings, interpolation_variant

MODEL = "model"


def scores_from_summary(summary: dict[str, Any], method: str = MODEL) -> dict[str, float]:
    """``interpolation/<metric>/<statistic>`` of ``method`` in a :func:`write_results` summary, and
    ``interpolation/<variant>/<metric>/<statistic>`` of the variant's method (refined, bend, refined+bend:
    :class:`spinvae.interpolation.morph.Method`) where the summary has it, averaged over the rendered notes."""
    scores: dict[str, float] = {}
    for name in INTERPOLATION_METRICS:
        *_, metric, statistic = name.split("/")
        variant = set(interpolation_variant(name).split("+"))
        evaluated = Method(method, refined="refined" in variant, bend="bend" in variant).id
        values = [float(per_method[evaluated][metric][statistic]) for per_method in summary["notes"].values()
                  if evaluated in per_method]
        if values:
            scores[name] = float(np.mean(values))
    return scores


def _cache_key(config: EvaluationConfig) -> str:
    """What the reference's sequences depend on."""
    settings = {"data": str(Path(config.data).resolve()), "split": config.split, "steps": config.steps,
                "max_pairs": config.max_pairs, "notes": config.notes, "categorical": config.categorical,
                "block": config.block}
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def cached_reference(config: EvaluationConfig, cache_root: Path) -> Path:
    """The folder of the reference's evaluation under these settings, computed on first use.

    Computed in a private folder then renamed into place, so that workers sharing the cache never
    read a half-written one (the first rename wins; a later worker's copy is dropped).
    """
    folder = cache_root / _cache_key(config)
    if not folder.is_dir():
        cache_root.mkdir(parents=True, exist_ok=True)
        scratch = cache_root / f".{folder.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        run_evaluation(replace(config, out=str(scratch), checkpoints={}), progress=False)
        try:
            scratch.rename(folder)
        except OSError:
            shutil.rmtree(scratch, ignore_errors=True)
    return folder


def interpolation_scores(checkpoint: str, data_dir: str, transform: AttributeTransform | None,
                         settings: EvaluationSettings, out: Path, reference_cache: Path | None) -> dict[str, float]:
    """Evaluate a trained model's interpolations on the first pairs of a split; its scores by name.

    ``transform`` is the model's attribute transform (its ``data_info``): the cached reference is
    used only when it is the dataset's, as the evaluation would otherwise measure with another ruler.
    """
    config = EvaluationConfig(
        data=data_dir, out=str(out), split=settings.split, checkpoints={MODEL: checkpoint}, steps=settings.steps,
        max_pairs=settings.max_pairs, notes=settings.notes, latent_method=settings.latent_method,
        categorical=settings.categorical, workers=settings.workers, latent_report=False,
        refine_steps=settings.refine_steps, refine_weight=settings.refine_weight, anchor=settings.anchor,
    )
    dataset_transform = read_manifest(data_dir).attributes
    if (reference_cache is not None and transform is not None and dataset_transform is not None
            and transform.to_dict() == dataset_transform.to_dict()):
        parts = out / "parts"
        parts.mkdir(parents=True, exist_ok=True)
        cached = cached_reference(config, reference_cache)
        for block in (cached / "parts").glob(f"{REFERENCE}_*.npz"):
            shutil.copyfile(block, parts / block.name)
        shutil.copyfile(cached / "evaluation.json", out / "evaluation.json")  # the settings its blocks were made with
    run_evaluation(config, progress=False)
    return scores_from_summary(write_results(out, html=False))
