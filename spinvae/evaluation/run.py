"""Running an interpolation evaluation: pairs of a split, each method's sequences, rendered and featurised.

Pairs are consecutive presets (0, 1), (2, 3), ... of a split in the dataset's deterministic order.
Each method makes a T-step sequence of presets per pair (a model through its latent space, the
reference by interpolating parameters); every step is rendered with the dataset's settings (or
the ``notes`` asked for) and featurised, and the features become normalised attributes with ONE
transform for all methods (the first checkpoint's, else the dataset's), so all are measured
with the same ruler.

The work is done in blocks of pairs; each finished block is saved under ``OUT/parts/``, so an
interrupted evaluation resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from spinvae.data.build import PRESETS
from spinvae.data.manifest import DatasetManifest, read_manifest
from spinvae.data.spectrograms import analyse_presets
from spinvae.features.attributes import AttributeTransform
from spinvae.evaluation.latent import latent_quality
from spinvae.interpolation.model import encode_presets, load_model
from spinvae.interpolation.morph import Method, MorphRequest, make_morph
from spinvae.interpolation.paths import CategoricalRule, LatentMethod, positions
from spinvae.interpolation.refine import RefineConfig
from spinvae.errors import UserError
from spinvae.model.weights import read_model_files
from spinvae.pretrained import resolve_model
from spinvae.synth.base import RenderSettings
from spinvae.synth.registry import get_synth

ALL = "all"  # the split of every preset, in the order read (evaluation_pairs)
REFINEMENT_FIELDS = ("exact_before", "exact_after", "wrong_before", "wrong_after", "steps")


@dataclass
class EvaluationConfig:
    """What to evaluate.

    Args:
        data: dataset folder; split: which split's pairs.
        out: output folder.
        checkpoints: model name -> checkpoint path, model folder, ``shipped`` (the shipped model of the
            dataset's synth) or ``shipped:NAME`` (empty: the reference alone).
        steps: T, steps per sequence (both ends included).
        max_pairs: evaluate the first N pairs only.
        notes: (note, velocity) pairs to render; None: the dataset's.
        latent_method: linear or spherical latent interpolation.
        categorical: the reference's rule for categorical parameters (None: the synth's own,
            :attr:`spinvae.synth.base.Synth.reference_categorical`).
        block: pairs per saved block (the unit of resumption).
        workers: rendering and featurising processes.
        latent_report: write ``latent.json`` (how each model's latent means encode the attributes; its
            regressions take a while with many attributes, and a quick evaluation may skip them).
        refine_steps: with N > 0, each model is evaluated twice: ``NAME`` as in the reference protocol
            (ends decoded from the encoder means) and ``NAME+refined``, whose ends are codes refined
            for up to N steps (:mod:`spinvae.interpolation.refine`); 0: the protocol alone
            (:class:`spinvae.interpolation.morph.Method` names the methods).
        refine_weight: the refinement's posterior weight (smaller: more exact ends, codes further
            from the encoder's).
        refine_objective: what refinement optimises (:class:`spinvae.interpolation.refine.RefineConfig`).
        anchor: also evaluate ``NAME+bend`` (and ``NAME+refined+bend`` with refinement): the bend of the
            model's decoded path over parameter interpolation, the path moved onto the exact end presets
            (:func:`spinvae.interpolation.paths.anchor_path`). Its ends are exact by construction and a
            straight decoded path scores 0 %: not a latent morph, reported on its own rows.
    """

    data: str
    out: str
    split: str = "test"
    checkpoints: dict[str, str] = field(default_factory=dict)
    steps: int = 9
    max_pairs: int | None = None
    notes: tuple[tuple[int, int], ...] | None = None
    latent_method: LatentMethod = "linear"
    categorical: CategoricalRule | None = None
    block: int = 32
    workers: int = 2
    latent_report: bool = True
    refine_steps: int = 0
    refine_weight: float = RefineConfig.posterior_weight
    refine_objective: str = RefineConfig.objective
    anchor: bool = False


def evaluation_pairs(data: str | Path, split: str, max_pairs: int | None = None) -> pd.DataFrame:
    """The pairs of a split: columns ``sequence``, ``start_uid``, ``end_uid``, then ``start`` and ``end``
    (learnable values, arrays). ``split="all"``: every preset of the dataset in the order it was read
    (for a bank whose voices are the pairs, such as a model card's fixed sample)."""
    schema = get_synth(read_manifest(data).synth).schema
    table = pd.read_parquet(Path(data) / PRESETS)
    if split == ALL:
        table = table.sort_values("row").reset_index(drop=True)
    else:
        table = table[table["split"] == split].reset_index(drop=True)
    n = len(table) // 2 if max_pairs is None else min(len(table) // 2, max_pairs)
    if n == 0:
        raise ValueError(f"{data}: the {split} split has fewer than 2 presets")
    values = table[list(schema.learnable_names)].to_numpy(dtype=np.uint8)
    return pd.DataFrame({
        "sequence": np.arange(n),
        "start_uid": table["uid"].to_numpy()[0 : 2 * n : 2],
        "end_uid": table["uid"].to_numpy()[1 : 2 * n : 2],
        "start": list(values[0 : 2 * n : 2]),
        "end": list(values[1 : 2 * n : 2]),
    })


def _render_settings(config: EvaluationConfig, manifest: DatasetManifest) -> RenderSettings:
    return dataclasses.replace(manifest.render, notes=config.notes or manifest.render.notes)


def _attributes(presets: np.ndarray, render: RenderSettings, manifest: DatasetManifest, transform: AttributeTransform,
                workers: int) -> np.ndarray:
    """Normalised attributes (n, n_notes, A) of learnable values (n, L)."""
    synth = get_synth(manifest.synth)
    analysis = analyse_presets(synth.schema.from_learnable(presets), render, manifest.mel, workers=workers,
                               features=True, ac_backend=manifest.ac_backend, synth=synth)
    return transform.apply(analysis.features)


class ModelDataMismatch(UserError, ValueError):
    """A model of one synth asked to morph another synth's presets: one line, before any work."""


def model_identity(checkpoint: str, synth: str) -> str:
    """What an evaluation records of a model, so that resuming never mixes two models' blocks: the path of
    a checkpoint, or a model folder's spec with the sha256 of its weights (``shipped`` names whichever
    model ships, and a new one replaces it)."""
    folder = resolve_model(checkpoint, synth)
    return checkpoint if folder is None else f"{checkpoint} (sha256 {read_model_files(folder).sha256[:16]})"


class SettingsMismatch(ValueError):
    """An output folder holding an evaluation made with other settings: one line naming the setting."""


#: what the saved blocks' contents depend on (a model may be added to a folder: its blocks are new). The
#: number of pairs is not one of them: a block holds the same pairs whatever ``max_pairs`` is, so a run
#: over more (or fewer) pairs reuses every whole block it shares with the saved one.
RESUME_SETTINGS = ("data", "split", "steps", "notes", "attributes", "latent_method", "categorical", "refine", "block")


def _check_resumable(out: Path, settings: dict, overwrite: bool) -> None:
    """Refuse to resume into ``out`` when its blocks were made with other settings (or, with ``overwrite``,
    delete them and everything made from them)."""
    import shutil

    saved_path, parts = out / "evaluation.json", out / "parts"
    if not any(parts.glob("*.npz")):
        return
    try:
        saved = json.loads(saved_path.read_text())
    except (OSError, ValueError):
        saved = None
    differs = "evaluation.json (missing or unreadable)" if saved is None else next(
        (f"{key} {saved.get(key)!r} (now {settings[key]!r})" for key in RESUME_SETTINGS
         if json.loads(json.dumps(saved.get(key))) != json.loads(json.dumps(settings[key]))), None)
    if differs is None:
        for name, path in settings["checkpoints"].items():
            if name in saved.get("checkpoints", {}) and saved["checkpoints"][name] != path:
                differs = f"checkpoint {name} {saved['checkpoints'][name]!r} (now {path!r})"
    if differs is None:
        return
    if not overwrite:
        raise SettingsMismatch(f"{out}: holds an evaluation made with {differs}; give --overwrite to start it again, "
                               f"or another --out")
    shutil.rmtree(parts)
    parts.mkdir()
    for made in out.iterdir():  # the files made from the old blocks
        if made.is_file():
            made.unlink()


def run_evaluation(config: EvaluationConfig, progress: bool = True, overwrite: bool = False) -> Path:
    """Compute every block not saved yet; returns ``OUT/trajectories.csv`` (written at the end).

    An ``out`` holding blocks made with other settings is refused (:class:`SettingsMismatch`) unless
    ``overwrite``, which starts it again.

    trajectories.csv: ``sequence``, ``method``, ``note`` ("56:75"), ``step``, one column per attribute.
    presets.npz: per method, the presets of every sequence (n, T, L).
    """
    out = Path(config.out)
    parts = out / "parts"
    manifest = read_manifest(config.data)
    pairs = evaluation_pairs(config.data, config.split, config.max_pairs)
    models = {name: load_model(path, synth=manifest.synth) for name, path in config.checkpoints.items()}
    for name, module in models.items():
        if module.data.synth != manifest.synth:
            raise ModelDataMismatch(f"{config.checkpoints[name]}: a model of the {module.data.synth} synth, and "
                                    f"{config.data} holds {manifest.synth} presets")
    parts.mkdir(parents=True, exist_ok=True)  # only once the models fit the data: a refused run leaves nothing
    synth = get_synth(manifest.synth)
    categorical = config.categorical or synth.reference_categorical
    refine = RefineConfig(steps=config.refine_steps, posterior_weight=config.refine_weight,
                          objective=config.refine_objective)
    transform = next(iter(models.values())).data.attribute_transform if models else manifest.attributes
    if transform is None:
        raise ValueError(f"{config.data}: built without features; rebuild with --features true")
    render = _render_settings(config, manifest)
    settings = {
        "data": str(config.data), "split": config.split, "steps": config.steps,
        "checkpoints": {name: model_identity(path, manifest.synth) for name, path in config.checkpoints.items()},
        "synth": manifest.synth, "n_sequences": len(pairs), "notes": [list(nv) for nv in render.notes], "attributes": list(transform.kept),
        "latent_method": config.latent_method, "categorical": categorical,
        "refine": asdict(refine) if refine.steps else None, "anchor": config.anchor, "block": config.block,
    }
    _check_resumable(out, settings, overwrite)
    (out / "evaluation.json").write_text(json.dumps(settings, indent=2))
    methods = evaluation_methods(list(models), refine.steps > 0, config.anchor)

    def saved(method: Method, first: int) -> bool:
        return _block_saved(parts / f"{method.id}_{first:06d}.npz", min(config.block, len(pairs) - first))

    # a latent morph's block and its bend's come from one morph, so they are made together
    todo = [(m, s) for s in range(0, len(pairs), config.block) for m in methods if not m.bend
            and not (saved(m, s) and (m.is_reference or not config.anchor or saved(dataclasses.replace(m, bend=True), s)))]
    u = positions(config.steps)
    for method, start in tqdm(todo, desc="evaluating", unit="block", disable=not progress):
        chunk = pairs.iloc[start : start + config.block]
        request = MorphRequest(np.stack(chunk["start"]), np.stack(chunk["end"]), u, config.latent_method,
                               refine if method.refined else None, bend=config.anchor and not method.is_reference,
                               categorical=categorical)
        morph = make_morph(request, models.get(method.model), synth, name=method.model or "model",
                           workers=config.workers)
        made = {method: morph.presets if morph.decoded is None else morph.decoded}
        if request.bend:
            made[morph.method] = morph.presets
        extra = {}
        if morph.refinement is not None:
            extra = {f"refine_{k}": getattr(morph.refinement, k) for k in REFINEMENT_FIELDS}
            extra["refine_seconds"] = np.array(morph.refinement.seconds)
        for made_method, presets in made.items():
            attributes = _attributes(presets.reshape(-1, presets.shape[-1]), render, manifest, transform, config.workers)
            attributes = attributes.reshape(len(chunk), config.steps, len(render.notes), -1)
            path = parts / f"{made_method.id}_{start:06d}.npz"
            np.savez(path.with_suffix(".tmp.npz"), presets=presets, attributes=attributes,
                     **({} if made_method.bend else extra))
            path.with_suffix(".tmp.npz").replace(path)  # a block exists whole or not at all
    if config.latent_report:
        _write_latent_quality(out, models, pairs, config)
    return _assemble(out, pairs, methods, render, transform, config)


def evaluation_methods(models: list[str], refined: bool, bend: bool) -> list[Method]:
    """The methods an evaluation compares, in its order: the reference, each model's latent morph (with its
    ends refined too when ``refined``), then their bends over parameter interpolation when ``bend``."""
    latent = [Method(name) for name in models] + [Method(name, refined=True) for name in models if refined]
    return [Method(), *latent] + [dataclasses.replace(m, bend=True) for m in latent if bend]


def _block_saved(path: Path, n_pairs: int) -> bool:
    """Whether ``path`` holds a finished block of ``n_pairs`` sequences (the last block of a run over
    fewer pairs is shorter, and is computed again when a run over more pairs needs it whole)."""
    if not path.exists():
        return False
    with np.load(path) as block:
        return len(block["presets"]) == n_pairs


def _write_latent_quality(out: Path, models: dict, pairs: pd.DataFrame, config: EvaluationConfig) -> None:
    """``latent.json``: per model, how its latent means of the pairs' presets encode the attributes it
    regularised (:func:`spinvae.evaluation.latent.latent_quality`), with the dataset's attribute values."""
    table = pd.read_parquet(Path(config.data) / PRESETS).set_index("uid")
    uids = [u for pair in zip(pairs["start_uid"], pairs["end_uid"]) for u in pair]
    values = np.stack([v for pair in zip(pairs["start"], pairs["end"]) for v in pair])
    quality = {}
    for name, module in models.items():
        names = [a for a in module.attribute_names if f"attr_{a}" in table.columns]
        if not names:
            continue
        mu = encode_presets(module, values, config.workers).float().cpu().numpy()
        attributes = table.loc[uids, [f"attr_{a}" for a in names]].to_numpy(dtype=np.float64)
        quality[name] = latent_quality(mu, attributes, names, module.loss_config.chunk)
    (out / "latent.json").write_text(json.dumps(quality, indent=2))


def _assemble(out: Path, pairs: pd.DataFrame, methods: list[Method], render: RenderSettings,
              transform: AttributeTransform, config: EvaluationConfig) -> Path:
    rows, presets, refinements = [], {}, {}
    for method in methods:
        blocks = [np.load(out / "parts" / f"{method.id}_{s:06d}.npz") for s in range(0, len(pairs), config.block)]
        attributes = np.concatenate([b["attributes"] for b in blocks])  # (n, T, notes, A)
        presets[method.id] = np.concatenate([b["presets"] for b in blocks])
        n, steps, n_notes, _ = attributes.shape
        for k, (note, velocity) in enumerate(render.notes):
            frame = pd.DataFrame(attributes[:, :, k].reshape(n * steps, -1), columns=list(transform.kept))
            frame.insert(0, "step", np.tile(np.arange(steps), n))
            frame.insert(0, "note", f"{note}:{velocity}")
            frame.insert(0, "method", method.id)
            frame.insert(0, "sequence", np.repeat(pairs["sequence"].to_numpy(), steps))
            rows.append(frame)
        if method.refined and not method.bend:  # (NAME+refined+bend has the same ends' codes: not repeated)
            refinements[method.id] = _refinement_summary(blocks)
    path = out / "trajectories.csv"
    pd.concat(rows, ignore_index=True).to_csv(path, index=False)
    (out / "refinement.json").write_text(json.dumps(refinements, indent=2))
    np.savez_compressed(out / "presets.npz", **presets,
                        start=np.stack(pairs["start"]), end=np.stack(pairs["end"]))
    return path


def _refinement_summary(blocks: list) -> dict[str, float]:
    """How exact a refined method's ends are, over all its blocks: the share of end presets decoded
    exactly and the mean number of wrong parameters, before (encoder means) and after refinement,
    the Adam steps taken and the time spent."""
    merged = {k: np.concatenate([b[f"refine_{k}"] for b in blocks]) for k in REFINEMENT_FIELDS}
    seconds = float(sum(float(b["refine_seconds"]) for b in blocks))
    return {
        "n_presets": int(len(merged["exact_before"])),
        "exact_before": float(merged["exact_before"].mean()),
        "exact_after": float(merged["exact_after"].mean()),
        "wrong_parameters_before": float(merged["wrong_before"].mean()),
        "wrong_parameters_after": float(merged["wrong_after"].mean()),
        "mean_steps": float(merged["steps"].mean()),
        "seconds": seconds,
        "ms_per_preset": 1000 * seconds / max(len(merged["exact_before"]), 1),
    }
