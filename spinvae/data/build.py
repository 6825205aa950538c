"""Building a dataset: presets in, renders analysed to spectrograms, splits and statistics out.

A build goes through four steps:

1. *collect*: read every preset file of the synth (for the DX7 .syx banks; searched recursively in
   folders), match recordings of single notes (``--wav``: each gets the preset of a differentiable
   synth whose render matches it, :mod:`spinvae.matching`; the matches are kept in
   ``recordings.json``, so a resumed build does not fit them again) and/or generate procedural
   presets with the synth's generator; a file that cannot be read is listed in the manifest with
   its reason and the build goes on;
2. *deduplicate* on the learnable parameters (names ignored), keeping the first occurrence in
   the order of sources (files sorted by path, then procedural presets);
3. *render* every unique preset at every (note, velocity) pair and store its dB
   mel-spectrograms, chunk by chunk, in a zarr store (``spectrograms.zarr``); each chunk is
   marked done in ``build_state.json`` only once written, so an interrupted build resumes at
   the first chunk not marked done and never reads a half-written one;
   (and, unless switched off, the 53 raw timbre features of each render, with the reasons of
   any NaN);
4. *finish*: exclude silent and near-silent renders, split the rest 80/10/10 by a seeded
   permutation, compute the dB min/max of the training split for scaling, fit the attribute
   transform on the training split (:mod:`spinvae.features.attributes`), and write
   ``presets.parquet`` and, last, ``manifest.json``. A folder with a manifest is complete.

Running the same build again on a finished folder does nothing. A build that differs only in
what the finish step decides (seed of the split, silence threshold, forced attributes) redoes
just that step; a build of other presets or render/analysis settings on an existing folder is
refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import zarr
from zarr.codecs import BloscCodec

from spinvae.audio.mel import MelSettings
from spinvae.data.manifest import MANIFEST
from spinvae.data.spectrograms import SoundAnalysis, analyse_presets
from spinvae.features.attributes import fit_attributes
from spinvae.features.extract import FEATURE_NAMES, N_FEATURES
from spinvae.matching.fit import MatchConfig
from spinvae.presets.schema import ParameterSchema
from spinvae.synth.base import PresetFileError, RenderSettings, Synth
from spinvae.synth.registry import DEFAULT_SYNTH, get_synth

PRESETS = "presets.parquet"
STORE = "spectrograms.zarr"
STATE = "build_state.json"
SPLITS = ("train", "valid", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


class BuildError(RuntimeError):
    """A build that cannot go on (for example, an output folder holding another build)."""


@dataclass(frozen=True)
class BuildConfig:
    """Everything that defines a dataset.

    ``synth``: the synth's name (:mod:`spinvae.synth.registry`); ``presets``: its preset files or
    folders (searched recursively for the synth's file suffixes); ``procedural``: number of presets
    from the synth's generator; ``wav``: recordings of single notes (files or folders) to match with
    presets of the (differentiable) synth, with ``match_steps`` Adam steps each (:mod:`spinvae.matching.fit`);
    ``seed``: seeds the generator and the split; ``silence_db``:
    renders whose RMS level is below this (dBFS) are excluded; ``chunk_size``: presets per
    stored chunk (the unit of resumption); ``workers``: rendering threads; ``features``: compute
    the 53 timbre features and the attributes; ``ac_backend``: the Audio Commons implementation
    ("native" or the original "timbral_models"); ``attributes``: force this attribute list
    instead of the correlation filter.
    """

    synth: str = DEFAULT_SYNTH
    presets: tuple[str, ...] = ()
    procedural: int = 0
    wav: tuple[str, ...] = ()
    match_steps: int = MatchConfig.steps
    seed: int = 0
    render: RenderSettings = RenderSettings()
    mel: MelSettings = MelSettings()
    silence_db: float = -60.0
    chunk_size: int = 256
    workers: int = 2
    features: bool = True
    ac_backend: str = "native"
    attributes: tuple[str, ...] | None = None

    def store_settings(self) -> dict[str, Any]:
        """The settings that define what is rendered and stored (with the presets)."""
        return {
            "render": dataclasses.asdict(self.render),
            "mel": dataclasses.asdict(self.mel),
            "chunk_size": self.chunk_size,
            "features": self.features,
            "ac_backend": self.ac_backend,
        }

    def settings(self) -> dict[str, Any]:
        """Every setting that defines the dataset (not how fast it is computed)."""
        return self.store_settings() | {
            "seed": self.seed,
            "procedural": self.procedural,
            "silence_db": self.silence_db,
            "attributes": None if self.attributes is None else list(self.attributes),
        } | ({"match_steps": self.match_steps} if self.wav else {})


@dataclass
class CollectedPresets:
    """Presets read and generated, before deduplication. ``params`` is (n, n_params) uint8."""

    params: np.ndarray
    source: list[str]
    bank_index: np.ndarray
    names: list[str]
    sources: list[dict[str, Any]] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)


def find_preset_files(paths: tuple[str, ...] | list[str], suffixes: tuple[str, ...]) -> list[Path]:
    """Every file with one of ``suffixes`` (any case) among ``paths``, folders searched recursively,
    sorted; files named directly are taken whatever their suffix."""
    found: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            found.update(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes)
        elif p.exists():
            found.add(p)
        else:
            raise BuildError(f"{p}: no such file or folder")
    return sorted(found)


def collect_presets(config: BuildConfig, log=print, out: str | Path | None = None) -> CollectedPresets:
    """Read the preset files, match the recordings (their matches kept in ``out``) and generate the
    procedural presets of ``config``."""
    synth = get_synth(config.synth)
    params, source, bank_index, names = [], [], [], []
    sources: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    for path in find_preset_files(config.presets, synth.preset_suffixes):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        try:
            bank = synth.read_bank(path)
        except PresetFileError as err:
            reason = str(err).removeprefix(f"{path}: ")
            log(f"skipped {err}")
            excluded.append({"source": str(path), "reason": reason})
            sources.append({"path": str(path), "sha256": digest, "n_voices": 0, "error": reason})
            continue
        if bank.warnings:
            log(f"{path}: read with warnings: {'; '.join(bank.warnings)}")
        params.append(bank.params)
        source += [str(path)] * len(bank.params)
        bank_index.append(np.arange(len(bank.params)))
        names += list(bank.names)
        sources.append({"path": str(path), "sha256": digest, "n_voices": len(bank.params), "warnings": list(bank.warnings)})
    if config.wav:
        for entry in _matched_recordings(out, config, synth, log):
            if entry.get("error"):
                excluded.append({"source": entry["path"], "reason": entry["error"]})
                sources.append({"path": entry["path"], "sha256": entry["sha256"], "n_voices": 0, "error": entry["error"]})
                continue
            params.append(np.array([entry["params"]], dtype=np.uint8))
            source.append(entry["path"])
            bank_index.append(np.zeros(1, dtype=np.int64))
            names.append(Path(entry["path"]).stem)
            sources.append({"path": entry["path"], "sha256": entry["sha256"], "n_voices": 1, "note": entry["note"],
                            "note_source": entry["note_source"], "fit_distance": entry["distance"]})
    if config.procedural > 0:
        generated = synth.generate(config.procedural, seed=config.seed)
        params.append(generated.params)
        source += [f"procedural:{family}" for family in generated.names]
        bank_index.append(np.arange(config.procedural))
        names += synth.preset_names(generated.params)
        sources.append({"path": f"procedural(seed={config.seed})", "sha256": None, "n_voices": config.procedural})
    if not params:
        raise BuildError(f"no presets: give --presets files or folders with {synth.name} presets, --wav recordings, "
                         f"or --procedural N")
    return CollectedPresets(np.concatenate(params), source, np.concatenate(bank_index), names, sources, excluded)


RECORDINGS = "recordings.json"


def _matched_recordings(out: str | Path | None, config: BuildConfig, synth: Synth, log) -> list[dict[str, Any]]:
    """One entry per recording of ``config.wav``: its path, sha256, and either its matched preset
    (``params``, ``note``, ``note_source``, ``distance``) or the ``error`` it was skipped for. Matches are
    kept in ``OUT/recordings.json`` by content, so a resumed build reuses them."""
    from spinvae.matching.run import audio_files, match_files

    if not synth.differentiable:
        raise BuildError(f"--wav: the {synth.name} synth is not differentiable; sound matching needs one that is")
    cache_path = None if out is None else Path(out) / RECORDINGS
    cache = json.loads(cache_path.read_text()) if cache_path is not None and cache_path.exists() else {}
    entries, todo = [], []
    for path in audio_files(config.wav):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        key = _recording_key(synth, config, digest)
        entries.append((cache[key] if key in cache else {}) | {"path": str(path), "sha256": digest})
        if key not in cache:
            todo.append(len(entries) - 1)
    if todo:
        log(f"matching {len(todo)} recording(s) with {synth.name} presets")
        matched = match_files([entries[i]["path"] for i in todo], synth,
                              MatchConfig(steps=config.match_steps, seed=config.seed), log=log)
        by_path = {str(r.path): k for k, r in enumerate(matched.recordings)}
        for i in todo:
            entry = entries[i]
            if entry["path"] in matched.skipped:
                entry["error"] = matched.skipped[entry["path"]]
            else:
                k = by_path[entry["path"]]
                recording = matched.recordings[k]
                entry.update(params=matched.result.params[k].tolist(), note=recording.note,
                             note_source=recording.note_source, distance=float(matched.result.distance[k]))
            if entry["sha256"] is not None:
                cache[_recording_key(synth, config, entry["sha256"])] = {
                    k: v for k, v in entry.items() if k not in ("path", "sha256")}
        if cache_path is not None:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            _write_json_atomically(cache_path, cache)
    return entries


def _recording_key(synth: Synth, config: BuildConfig, digest: str | None) -> str:
    """A recording's key in ``recordings.json``: what its match depends on (the steps when not the default,
    so that caches written before the option existed stay valid)."""
    steps = "" if config.match_steps == MatchConfig.steps else f":{config.match_steps}"
    return f"{synth.name}:{config.seed}{steps}:{digest}"


def preset_uids(params: np.ndarray, schema: ParameterSchema) -> list[str]:
    """A content id per preset (n, n_params): 16 hex digits hashing its learnable parameters."""
    values = schema.learnable(params)
    return [hashlib.blake2b(row.tobytes(), digest_size=8).hexdigest() for row in values]


def deduplicate(params: np.ndarray, schema: ParameterSchema) -> np.ndarray:
    """Indices of the first occurrence of each distinct learnable-parameter vector, in order."""
    _, first = np.unique(schema.learnable(params), axis=0, return_index=True)
    return np.sort(first)


def split_fingerprints(root: str | Path) -> dict[str, str]:
    """For each split of a built dataset, the sha256 of its presets' uids (sorted, one per line): two
    builds with equal fingerprints hold the same presets in each split, whatever else they store (for
    example, a model's held-out test split rebuilt without features)."""
    table = pd.read_parquet(Path(root) / PRESETS, columns=["uid", "split"])
    return {split: hashlib.sha256("\n".join(sorted(table.loc[table["split"] == split, "uid"])).encode()).hexdigest()
            for split in SPLITS}


def split_indices(n: int, seed: int) -> dict[str, np.ndarray]:
    """Split ``range(n)`` 80/10/10 by a seeded permutation; each split keeps permuted order."""
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(SPLIT_FRACTIONS[0] * n))
    n_valid = int(round(SPLIT_FRACTIONS[1] * n))
    return {"train": order[:n_train], "valid": order[n_train : n_train + n_valid], "test": order[n_train + n_valid :]}


def _write_json_atomically(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def _versions(synth: Synth) -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("spinvae", "numpy", "torch", "librosa", "zarr")} | {synth.name: synth.version()}


class _Store:
    """The chunked spectrogram store and the per-preset statistics written with it."""

    def __init__(self, root: Path, n: int, config: BuildConfig, create: bool):
        n_notes = len(config.render.notes)
        shape = (n, n_notes, config.mel.n_mels, config.mel.n_frames(config.render.n_samples))
        if create:
            group = zarr.open_group(root / STORE, mode="w")
            # one inner chunk per preset for random access in training; one shard file per
            # build chunk, so a chunk is written (and rewritten after a kill) as one file
            group.create_array(
                "db",
                shape=shape,
                chunks=(1,) + shape[1:],
                shards=(config.chunk_size,) + shape[1:],
                dtype="float16",
                compressors=[BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")],
                fill_value=0.0,
            )
            for name in ("rms_db", "db_min", "db_max"):
                group.create_array(name, shape=(n, n_notes), chunks=(config.chunk_size, n_notes), dtype="float32", fill_value=0.0)
            if config.features:
                group.create_array(
                    "features", shape=(n, n_notes, N_FEATURES), chunks=(config.chunk_size, n_notes, N_FEATURES),
                    dtype="float64", fill_value=np.nan,
                )
                with warnings.catch_warnings():  # zarr notes that its string type has no v3 spec yet
                    warnings.simplefilter("ignore")
                    group.create_array(
                        "feature_reasons", shape=(n, n_notes), chunks=(config.chunk_size, n_notes), dtype=str, fill_value=""
                    )
        group = zarr.open_group(root / STORE, mode="r+")
        self.db = group["db"]
        self.stats = {name: group[name] for name in ("rms_db", "db_min", "db_max")}
        self.features = group["features"] if config.features else None
        self.feature_reasons = group["feature_reasons"] if config.features else None

    def write(self, start: int, analysis: SoundAnalysis) -> None:
        stop = start + len(analysis.db)
        stored = analysis.db.astype(np.float16)  # statistics of the values read back, so scaling stays in [-1, 1]
        self.db[start:stop] = stored
        self.stats["rms_db"][start:stop] = analysis.rms_db
        if self.features is not None:
            self.features[start:stop] = analysis.features
            self.feature_reasons[start:stop] = analysis.feature_reasons.astype(str)
        self.stats["db_min"][start:stop] = stored.min(axis=(2, 3))
        self.stats["db_max"][start:stop] = stored.max(axis=(2, 3))


def build_dataset(out: str | Path, config: BuildConfig, log=print, progress: bool = True) -> dict[str, Any]:
    """Build (or resume, or leave alone if finished) the dataset of ``config`` in ``out``.

    Returns the manifest.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    started = time.perf_counter()
    synth = get_synth(config.synth)
    collected = collect_presets(config, log=log, out=out)
    unique = deduplicate(collected.params, synth.schema)
    params = synth.schema.canonical(collected.params[unique])  # fixed parameters at their defaults, as the model sees it
    uids = preset_uids(params, synth.schema)
    fingerprint = hashlib.sha256(  # the synth's version stands for the synth: the DX7's is dexed-py's, as always
        json.dumps([config.store_settings(), synth.version()]).encode() + synth.schema.learnable(params).tobytes()
    ).hexdigest()

    state_path = out / STATE
    state = json.loads(state_path.read_text()) if state_path.exists() else None
    if state is not None and state["fingerprint"] != fingerprint:
        raise BuildError(
            f"{out} holds another build (other presets or render settings); choose another --out or delete that folder"
        )
    if state is not None and (out / MANIFEST).exists():
        manifest = json.loads((out / MANIFEST).read_text())
        as_json = json.loads(json.dumps([collected.sources, config.settings()]))  # tuples become lists
        if [manifest["sources"], manifest["settings"]] == as_json:
            log(f"{out}: already built, nothing to do")
            return manifest
        log(f"{out}: same presets and renders, other sources or split/selection settings: redoing the final step")

    out.mkdir(parents=True, exist_ok=True)
    n_chunks = -(-len(params) // config.chunk_size)
    if state is None:
        store = _Store(out, len(params), config, create=True)
        state = {"fingerprint": fingerprint, "n_presets": len(params), "done": []}
        _write_json_atomically(state_path, state)
    else:
        store = _Store(out, len(params), config, create=False)
    done = set(state["done"])
    todo = [k for k in range(n_chunks) if k not in done]
    if done:
        log(f"{out}: resuming, {len(done)} of {n_chunks} chunks already built")

    render_seconds = 0.0
    n_done = len(params) - sum(len(params[k * config.chunk_size : (k + 1) * config.chunk_size]) for k in todo)
    with tqdm(total=len(params), initial=n_done, unit="preset", desc="render + spectrogram", disable=not progress) as bar:
        for k in todo:
            start = k * config.chunk_size
            chunk = params[start : start + config.chunk_size]
            t0 = time.perf_counter()
            analysis = analyse_presets(
                chunk, config.render, config.mel, workers=config.workers, features=config.features,
                ac_backend=config.ac_backend, synth=synth,
            )
            render_seconds += time.perf_counter() - t0
            store.write(start, analysis)
            done.add(k)
            state["done"] = sorted(done)
            _write_json_atomically(state_path, state)
            bar.update(len(chunk))

    manifest = _finish(out, config, synth, collected, unique, params, uids, store, fingerprint)
    manifest["timings"] = {"total_s": round(time.perf_counter() - started, 2), "render_analysis_s": round(render_seconds, 2)}
    _write_json_atomically(out / MANIFEST, manifest)
    return manifest


def _finish(out, config, synth, collected, unique, params, uids, store, fingerprint) -> dict[str, Any]:
    rms_db = store.stats["rms_db"][:]
    db_min = store.stats["db_min"][:]
    db_max = store.stats["db_max"][:]
    sources = [collected.source[i] for i in unique]
    bank_index = collected.bank_index[unique]
    names = [collected.names[i] for i in unique]

    excluded = list(collected.excluded)
    keep = np.ones(len(params), dtype=bool)
    for i in range(len(params)):
        quietest = int(np.argmin(rms_db[i]))
        level = float(rms_db[i, quietest])
        if not np.isfinite(level):
            reason = "silent" if level == -np.inf else "non-finite audio"
        elif level < config.silence_db:
            reason = f"near-silent: {level:.1f} dBFS RMS below {config.silence_db:g}"
        else:
            continue
        note, velocity = config.render.notes[quietest]
        keep[i] = False
        excluded.append(
            {"source": sources[i], "bank_index": int(bank_index[i]), "name": names[i],
             "uid": uids[i], "note": note, "velocity": velocity, "reason": reason}
        )

    rows = np.flatnonzero(keep)
    splits = split_indices(len(rows), config.seed)
    train_rows = rows[splits["train"]]
    if len(train_rows) == 0:
        raise BuildError(f"{len(rows)} presets left after excluding {len(excluded)}: too few to make a training split")
    normalization = {"db_min": float(db_min[train_rows].min()), "db_max": float(db_max[train_rows].max())}

    attribute_columns: dict[str, np.ndarray] = {}
    feature_report = None
    if store.features is not None:
        features = store.features[:]  # (n_unique, n_notes, 53)
        failed = store.feature_reasons[:][rows] != ""
        transform = fit_attributes(features[train_rows].reshape(-1, N_FEATURES), FEATURE_NAMES, forced=config.attributes)
        attributes = transform.apply(features).mean(axis=1)  # a preset's attribute: the mean over its notes
        attribute_columns = {f"attr_{name}": attributes[:, k] for k, name in enumerate(transform.kept)}
        kept_features = features[rows]
        feature_report = {
            "names": list(FEATURE_NAMES),
            "nan_per_feature": {n: int(np.isnan(kept_features[..., j]).sum()) for j, n in enumerate(FEATURE_NAMES)},
            "renders_with_nan": int(failed.sum()),
            "attributes": transform.to_dict(),
        }

    frames = []
    values = synth.schema.learnable(params)
    for split in SPLITS:
        r = rows[splits[split]]
        frame = pd.DataFrame(
            {
                "uid": [uids[i] for i in r],
                "split": split,
                "name": [names[i].rstrip() for i in r],
                "source": [sources[i] for i in r],
                "bank_index": bank_index[r],
                "row": r,
                "rms_db": rms_db[r, 0],
            }
        )
        frame = pd.concat(
            [frame, pd.DataFrame(values[r], columns=synth.schema.learnable_names)]
            + [pd.DataFrame({name: column[r] for name, column in attribute_columns.items()})],
            axis=1,
        )
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table.to_parquet(out / PRESETS, index=False)

    reasons: dict[str, int] = {}
    for entry in excluded:
        key = entry["reason"].split(":")[0]
        reasons[key] = reasons.get(key, 0) + 1
    return {
        "format": 1,
        "synth": synth.name,
        "fingerprint": fingerprint,
        "settings": config.settings(),
        "versions": _versions(synth),
        "sources": collected.sources,
        "n_voices_read": int(len(collected.params)),
        "n_unique": int(len(params)),
        "n_duplicates": int(len(collected.params) - len(params)),
        "n_presets": int(len(rows)),
        "splits": {split: int(len(splits[split])) for split in SPLITS},
        "excluded_by_reason": reasons,
        "excluded": excluded,
        "normalization": normalization,
        "features": feature_report,
        "store": {
            "path": STORE,
            "array": "db",
            "dtype": "float16",
            "shape": list(store.db.shape),
            "bytes_on_disk": _disk_bytes(out / STORE),
        },
    }


def _disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
