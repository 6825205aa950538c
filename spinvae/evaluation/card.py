"""Publishing a model with what its card needs: the data it was trained on, and its figures on a fixed sample.

:func:`publish_model` writes a model folder (:mod:`spinvae.model.weights`) from a checkpoint and records
in its ``model.json`` facts

- ``data``: the dataset's recipe, the source of its presets and their licence, the presets per split
  and each split's fingerprint (:func:`spinvae.data.build.split_fingerprints`), so that a rebuild can
  prove which presets the model never saw;
- ``check``: the figures of the published weights on the first pairs of the validation split
  (:func:`spinvae.evaluation.sample.evaluate_sample`), with the presets named ``FILE:INDEX`` and the
  refinement used, which a test reproduces (``tests/pretrained``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spinvae.data.build import split_fingerprints
from spinvae.data.manifest import read_manifest
from spinvae.evaluation.sample import MethodFigures, evaluate_sample, sample_references
from spinvae.interpolation.model import export_checkpoint
from spinvae.interpolation.morph import Method
from spinvae.model.weights import ModelFiles, TrainingData, update_facts


@dataclass(frozen=True)
class SampleCheck:
    """A model's figures on a fixed sample of pairs, as ``model.json`` records them (``facts["check"]``)."""

    split: str
    references: list[str]
    refine_steps: int
    refine_weight: float
    figures: dict[str, MethodFigures]

    def to_dict(self) -> dict[str, Any]:
        return {"split": self.split, "references": self.references, "refine_steps": self.refine_steps,
                "refine_weight": self.refine_weight, "figures": {m: f.to_dict() for m, f in self.figures.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SampleCheck:
        return cls(split=data["split"], references=list(data["references"]), refine_steps=int(data["refine_steps"]),
                   refine_weight=float(data["refine_weight"]),
                   figures={Method.parse(m).id: MethodFigures(**f) for m, f in data["figures"].items()})  # (old ids too)


def training_data(data: str | Path, recipe: str, licence: str) -> TrainingData:
    """What ``model.json`` says of a model's dataset ``data`` (built from ``recipe``; ``licence`` of its presets)."""
    manifest = read_manifest(data)
    paths = [s["path"] for s in manifest.raw["sources"]]
    source = os.path.commonpath(paths) if paths and all(not p.startswith("procedural") for p in paths) else ", ".join(paths)
    return TrainingData(recipe=recipe, source=f"{source} ({len(paths)} files)" if len(paths) > 1 else source,
                        licence=licence, splits=dict(manifest.splits), split_sha256=split_fingerprints(data))


def publish_model(checkpoint: str, out: str | Path, data: str | Path, recipe: str, licence: str,
                  dtype: str = "float16", check_pairs: int = 16, refine_steps: int = 300, refine_weight: float = 0.01,
                  workers: int = 2) -> ModelFiles:
    """Write the model folder ``out`` from ``checkpoint`` with its ``data`` facts and (``check_pairs`` > 0)
    the figures of the written weights on the first ``check_pairs`` validation pairs of ``data``."""
    files = export_checkpoint(checkpoint, out, dtype=dtype,
                              facts={"data": asdict(training_data(data, recipe, licence))})
    if check_pairs <= 0:
        return files
    references = sample_references(data, "valid", check_pairs)
    with tempfile.TemporaryDirectory() as scratch:
        figures = evaluate_sample(str(files.folder), references, scratch, refine_steps, refine_weight, workers=workers)
    check = SampleCheck("valid", references, refine_steps, refine_weight, figures)
    return update_facts(files.folder, {"check": check.to_dict()})
