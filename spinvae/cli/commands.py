"""What the ``spinvae`` subcommands do, once their arguments are parsed."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from spinvae.audio.mel import MelSettings
from spinvae.data.build import BuildConfig, BuildError, build_dataset
from spinvae.data.manifest import MANIFEST, DatasetManifest, ManifestError, read_manifest
from spinvae.synth.base import RenderSettings, Synth
from spinvae.synth.base import parse_notes as parse_note_pairs
from spinvae.synth.registry import get_synth


from spinvae.errors import UserError


def synth_option(name: str | None) -> Synth:
    """The synth of ``--synth NAME`` (None: the default synth); a UserError naming the known ones."""
    try:
        return get_synth(name)
    except ValueError as err:
        raise UserError(f"--synth: {err}") from None


def parse_notes(pairs: list[str]) -> tuple[tuple[int, int], ...]:
    """``["56:75", "48:100"]`` -> ((56, 75), (48, 100)); a UserError for the option ``--notes``."""
    try:
        return parse_note_pairs(pairs)
    except ValueError as err:
        raise UserError(f"--notes: {err}") from None


def data_build(args: Any) -> dict[str, Any]:
    if args.match_steps < 0:
        raise UserError(f"--match-steps {args.match_steps}: must be 0 or more")
    try:
        config = BuildConfig(
            synth=args.synth,
            presets=tuple(args.presets),
            wav=tuple(args.wav),
            match_steps=args.match_steps,
            procedural=args.procedural,
            seed=args.seed,
            render=RenderSettings(args.sample_rate, parse_notes(args.notes), args.note_duration, args.duration),
            mel=MelSettings(args.n_fft, args.hop_length, args.n_mels),
            silence_db=args.silence_db,
            chunk_size=args.chunk_size,
            workers=args.workers,
            features=args.features,
            ac_backend=args.ac_backend,
            attributes=None if args.attributes is None else tuple(args.attributes),
        )
        manifest = build_dataset(args.out, config, progress=args.progress)
    except (BuildError, ValueError) as err:
        raise UserError(str(err)) from None
    print(format_summary(Path(args.out), read_manifest(args.out)))
    return manifest


def data_info(folder: str) -> None:
    if not (Path(folder) / MANIFEST).exists():
        raise UserError(f"{folder}: no {MANIFEST} (not a built dataset, or its build has not finished)")
    try:
        manifest = read_manifest(folder)
    except ManifestError as err:
        raise UserError(str(err)) from None
    print(format_summary(Path(folder), manifest))


def format_summary(folder: Path, dataset: DatasetManifest) -> str:
    """Counts per split, exclusions by reason, sources and disk size of a built dataset."""
    manifest = dataset.raw
    disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    splits = manifest["splits"]
    settings = manifest["settings"]
    notes = " ".join(f"{n}:{v}" for n, v in settings["render"]["notes"])
    sources = manifest["sources"]
    n_files = sum(1 for s in sources if not s["path"].startswith("procedural"))
    n_bad = sum(1 for s in sources if s.get("error"))
    lines = [
        f"dataset {folder} ({dataset.synth} presets)",
        f"  presets     {manifest['n_presets']:>7}  (train {splits['train']}, valid {splits['valid']}, test {splits['test']})",
        f"  voices read {manifest['n_voices_read']:>7}  ({manifest['n_duplicates']} duplicates removed, {manifest['n_unique']} unique)",
        f"  sources     {n_files:>7} preset files ({n_bad} unreadable)"
        + "".join(f" + {s['n_voices']} {s['path']}" for s in sources if s["path"].startswith("procedural")),
        f"  excluded    {len(manifest['excluded']):>7}"
        + "".join(f"  {reason}: {count}" for reason, count in sorted(manifest["excluded_by_reason"].items())),
        f"  audio       {settings['render']['sample_rate']} Hz, notes {notes}, "
        f"{settings['render']['note_duration']} s held of {settings['render']['duration']} s",
        f"  spectrogram {' x '.join(str(d) for d in manifest['store']['shape'][1:])} (notes x mels x frames), "
        f"dB range of train [{manifest['normalization']['db_min']:.1f}, {manifest['normalization']['db_max']:.1f}]",
        f"  disk        {disk / 1e6:>7.1f} MB ({disk / max(manifest['n_unique'], 1) / 1e3:.1f} kB per preset)",
    ]
    features = manifest.get("features")
    if features:
        kept = features["attributes"]["kept"]
        n_ac = sum(name.startswith("ac_") for name in kept)
        lines.append(
            f"  attributes  {len(kept):>7} of {len(features['names'])} features ({n_ac} ac + {len(kept) - n_ac} tt); "
            f"{features['renders_with_nan']} renders with a NaN feature"
        )
    return "\n".join(lines)


def render(args: Any) -> None:
    import soundfile

    synth = synth_option(args.synth)
    try:
        preset, _ = synth.read_preset(args.preset)
        settings = RenderSettings(args.sample_rate, ((args.note, args.velocity),), args.note_duration, args.duration)
    except ValueError as err:  # PresetFileError among them
        raise UserError(str(err)) from None
    audio = synth.render(preset[None], settings)[0, 0]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(args.out, audio, settings.sample_rate, subtype="FLOAT")
    print(f"wrote {args.out} ({len(audio) / settings.sample_rate:.2f} s, note {args.note}, velocity {args.velocity})")


def features(args: Any) -> None:
    """One CSV row per audio file: ``file``, the 53 features, and ``reasons`` for any NaN; a file that
    cannot be read gets a row of NaN with its reason (one line said about it), and the others go on."""
    import numpy as np
    import pandas as pd
    import soundfile
    from tqdm.auto import tqdm

    from spinvae.features.extract import FEATURE_NAMES, compute_features

    clips: dict[str, tuple[np.ndarray, int]] = {}
    rows: dict[str, tuple[np.ndarray, str]] = {}
    for name in args.files:
        try:
            audio, sample_rate = soundfile.read(name, dtype="float32", always_2d=True)
            if audio.size == 0:
                raise ValueError("empty file")
        except (OSError, RuntimeError, ValueError, soundfile.LibsndfileError) as err:
            reason = f"cannot read audio: {' '.join(str(err).split())}"
            print(f"skipped {name}: {reason}")
            rows[name] = (np.full(len(FEATURE_NAMES), np.nan), reason)
            continue
        clips[name] = (audio.mean(axis=1), sample_rate)
    if not clips:
        raise UserError(f"no readable audio among {len(args.files)} file(s) (reasons above)")
    # clips of the same rate and length are featurised together, in batches
    groups: dict[tuple[int, int], list[str]] = {}
    for name, (audio, sample_rate) in clips.items():
        groups.setdefault((sample_rate, len(audio)), []).append(name)
    with tqdm(total=len(clips), unit="file", desc="features", disable=not args.progress) as bar:
        for (sample_rate, _), names in groups.items():
            for start in range(0, len(names), 64):
                batch = names[start : start + 64]
                values, reasons = compute_features(
                    np.stack([clips[n][0] for n in batch]), sample_rate, workers=args.workers, ac_backend=args.ac_backend
                )
                rows.update({n: (v, r) for n, v, r in zip(batch, values, reasons)})
                bar.update(len(batch))
    table = pd.DataFrame([rows[n][0] for n in args.files], columns=FEATURE_NAMES)
    table.insert(0, "file", args.files)
    table["reasons"] = [rows[n][1] for n in args.files]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(f"wrote {args.out} ({len(table)} files x {len(FEATURE_NAMES)} features)")


def parse_checkpoints(specs: list[str]) -> dict[str, str]:
    """``["cpu=runs/a.ckpt", "runs/b.ckpt"]`` -> {"cpu": "runs/a.ckpt", "model2": "runs/b.ckpt"} (``model``
    alone for a single unnamed checkpoint). A model is a checkpoint file, a model folder, ``shipped`` (the
    shipped model of the dataset's synth) or ``shipped:NAME``; an unnamed shipped one is named after it
    (``shipped``, ``shipped_NAME``)."""
    from spinvae.pretrained import SHIPPED, is_model_folder, shipped_folder

    out: dict[str, str] = {}
    for i, spec in enumerate(specs):
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = ("model" if len(specs) == 1 else f"model{i + 1}"), spec
            if spec == SHIPPED or spec.startswith(SHIPPED + ":"):
                name = spec.replace(":", "_")
        if name in out or name == "reference":
            raise UserError(f"--ckpt: model name {name!r} used twice or reserved")
        if path.startswith(SHIPPED + ":"):
            shipped_folder(path.split(":", 1)[1])  # a PretrainedError naming the shipped ones
        elif path != SHIPPED and not (Path(path).is_file() or is_model_folder(path)):
            raise UserError(f"--ckpt: {path}: no such checkpoint or model folder")
        out[name] = path
    return out


def evaluate(args: Any) -> None:
    """Run (or resume) an interpolation evaluation and write its results."""
    from spinvae.evaluation.report import write_results
    from spinvae.evaluation.run import EvaluationConfig, run_evaluation

    if args.steps < 3:
        raise UserError(f"--steps {args.steps}: smoothness needs at least 3 steps per sequence (both ends included)")
    if args.max_pairs is not None and args.max_pairs < 1:
        raise UserError(f"--max-pairs {args.max_pairs}: give 1 or more (or leave it out for every pair)")
    checkpoints = parse_checkpoints(args.ckpt)
    if args.method == "model" and not checkpoints:
        raise UserError("evaluate: give --ckpt CKPT (or NAME=CKPT ...), or --method reference for the reference alone")
    if args.method == "reference" and checkpoints:
        raise UserError("evaluate: --method reference takes no --ckpt (the reference is evaluated with every model)")
    if not (Path(args.data) / MANIFEST).exists():
        raise UserError(f"{args.data}: no {MANIFEST}; build it first with `spinvae data build`")
    try:
        manifest = read_manifest(args.data)
    except ManifestError as err:
        raise UserError(str(err)) from None
    from spinvae.pretrained import resolve_model

    for path in checkpoints.values():
        resolve_model(path, manifest.synth)  # a shipped model this installation lacks: one line, before any work
    config = EvaluationConfig(
        data=args.data, out=args.out, split=args.split, checkpoints=checkpoints, steps=args.steps,
        max_pairs=args.max_pairs, notes=parse_notes(args.notes) if args.notes else None,
        latent_method=args.latent, categorical=args.categorical, workers=args.workers,
        refine_steps=refine_steps_option(args.refine_steps), refine_weight=refine_weight_option(args.refine_weight),
        refine_objective=args.refine_objective, anchor=args.anchor,
    )
    from spinvae.evaluation.run import SettingsMismatch
    from spinvae.interpolation.model import CheckpointError

    try:
        run_evaluation(config, progress=args.progress, overwrite=args.overwrite)
    except (CheckpointError, SettingsMismatch) as err:
        raise UserError(str(err)) from None
    write_results(args.out)
    print((Path(args.out) / "report.md").read_text())
    print(f"wrote {args.out}/trajectories.csv, metrics.csv, summary.json, report.md")


def resolve_preset(reference: str, data: str | None, synth: Synth) -> tuple[np.ndarray, str]:
    """Learnable values (L,) uint8 of ``synth`` and a label, from ``FILE:INDEX`` or ``FILE`` (a preset
    file of the synth), a recording of one note (matched with a preset of a differentiable synth,
    :mod:`spinvae.matching`), or a dataset uid (with ``data``)."""
    import pandas as pd

    from spinvae.data.build import PRESETS
    from spinvae.matching.run import AUDIO_SUFFIXES

    if Path(reference).suffix.lower() in AUDIO_SUFFIXES:
        return _matched_recording(reference, synth)
    path = reference.rpartition(":")[0] if ":" in reference else reference
    if Path(path).is_file() or Path(reference).is_file():
        try:
            preset, name = synth.read_preset(reference)
        except ValueError as err:
            raise UserError(str(err)) from None
        label = f"{Path(reference).name} ({name})" if name else Path(reference).name
        return synth.schema.learnable(synth.schema.canonical(preset)), label
    if data is None:
        raise UserError(f"{reference}: not a FILE:INDEX of an existing preset file (give --data DIR to use dataset uids)")
    try:
        manifest = read_manifest(data)
    except ManifestError as err:
        raise UserError(str(err)) from None
    if manifest.synth != synth.name:
        raise UserError(f"{data}: a dataset of the {manifest.synth} synth, and the presets asked for are {synth.name}'s")
    table = pd.read_parquet(Path(data) / PRESETS).set_index("uid")
    if reference not in table.index:
        raise UserError(f"{reference}: no such preset uid in {data}")
    row = table.loc[reference]
    return row[list(synth.schema.learnable_names)].to_numpy(dtype=np.uint8), f"{reference} ({row['name'].strip()})"


def _matched_recording(path: str, synth: Synth) -> tuple[np.ndarray, str]:
    """The learnable values (L,) of the preset matched to the recording ``path``, and a label."""
    from spinvae.matching.fit import MatchConfig
    from spinvae.matching.run import match_files

    if not synth.differentiable:
        raise UserError(f"{path}: a recording as an end needs a differentiable synth to match it; {synth.name} is not")
    errors: list[str] = []
    matched = match_files([path], synth, MatchConfig(), log=errors.append)
    if matched.result is None:
        raise UserError(errors[0].removeprefix("skipped "))
    recording = matched.recordings[0]
    label = (f"{Path(path).name} (matched at MIDI {recording.note:.2f}, distance {matched.result.distance[0]:.4f}, "
             f"{matched.result.seconds:.1f} s)")
    return synth.schema.learnable(matched.result.params[0]), label


def interpolate(args: Any) -> None:
    """Write one morph between two presets: bank, WAVs, picture."""
    from spinvae.interpolation.export import write_morph_page, write_sequence
    from spinvae.interpolation.model import render_settings
    from spinvae.interpolation.morph import MorphRequest, make_morph
    from spinvae.interpolation.paths import positions
    from spinvae.interpolation.refine import RefineConfig
    from spinvae.matching.run import AUDIO_SUFFIXES

    if args.steps < 2:
        raise UserError(f"--steps {args.steps}: a morph needs at least 2 steps (both ends)")
    try:
        u = positions(args.steps, args.extrapolate)
    except ValueError as err:
        raise UserError(f"--extrapolate {args.extrapolate}: {err}") from None
    module, synth = model_or_synth(args, "interpolate")
    if synth.bank_size is not None and len(u) > synth.bank_size:
        raise UserError(f"--steps {args.steps} --extrapolate {args.extrapolate}: {len(u)} steps, and a {synth.name} "
                        f"bank holds {synth.bank_size}")
    start, start_label = resolve_preset(args.start, args.data, synth)
    end, end_label = resolve_preset(args.end, args.data, synth)
    refine = None
    if module is not None:
        refine = RefineConfig(steps=refine_steps_option(args.refine_steps), posterior_weight=refine_weight_option(args.refine_weight))
    morph = make_morph(MorphRequest(start, end, u, args.latent, refine, bend=module is not None and args.anchor,
                                    categorical=args.categorical), module, synth, workers=args.workers)
    values = morph.presets
    ends_note = ""
    if module is not None:
        render, mel = render_settings(module)
        ends_note = "\n" + ends_exactness(morph.ends, np.stack([start, end]), ("start", "end"), morph.refinement)
        if morph.method.bend:
            ends_note += ("\nbend over parameter interpolation: the decoded path moved onto the two presets, both ends "
                          "exact (--anchor false: the latent morph as decoded)")
    else:
        render, mel = RenderSettings(), MelSettings()
    if args.note is not None or args.velocity is not None or args.sample_rate is not None:
        note, velocity = render.notes[0]
        rate = args.sample_rate or render.sample_rate
        scale = rate / render.sample_rate  # the pictures' windows keep their length in seconds
        mel = dataclasses.replace(mel, n_fft=int(round(mel.n_fft * scale)), hop_length=int(round(mel.hop_length * scale)))
        render = dataclasses.replace(render, sample_rate=rate,
                                     notes=((note if args.note is None else args.note, args.velocity or velocity),))
    title = f"{args.method}: {start_label} -> {end_label}"
    files = write_sequence(args.out, values, render, mel, prefix="MORPH ", title=title, synth=synth,
                           workers=args.workers)
    recordings = {end: Path(ref) for end, ref in (("start", args.start), ("end", args.end))
                  if Path(ref).suffix.lower() in AUDIO_SUFFIXES}
    if recordings:
        files.insert(-1, write_morph_page(args.out, title, recordings, mel))
    trend = ""
    if len(u) > args.steps:
        trend = "\n" + extrapolation_trend(synth, values, u, render, mel, Path(args.out) / "attributes.csv", args.workers)
    print(f"{title}: {len(u)} steps, u from {u[0]:g} to {u[-1]:g}{ends_note}{trend}\n"
          f"wrote {files[0]}, {len(values)} WAVs, {files[-1]}")


def extrapolation_trend(synth: Synth, values: np.ndarray, u: np.ndarray, render: RenderSettings, mel: MelSettings,
                        out: Path, workers: int = 2) -> str:
    """Whether the timbre features keep, beyond the ends, the direction they move in between them.

    Writes ``out`` (one row per step: ``u`` and the 53 raw features of the first note) and returns one
    line: of the features that move between the ends (by more than 1 % of their range on the path),
    how many keep moving the same way past the end (u > 1) and before the start (u < 0).
    """
    import pandas as pd

    from spinvae.features.extract import FEATURE_NAMES

    features = _raw_features(synth, values, render, mel, workers)[:, 0]  # (T, 53)
    pd.DataFrame(features, columns=FEATURE_NAMES).assign(u=u)[["u", *FEATURE_NAMES]].to_csv(out, index=False)
    first, last = int(np.flatnonzero(np.isclose(u, 0))[0]), int(np.flatnonzero(np.isclose(u, 1))[0])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a feature NaN at every step (a noise without pitch)
        inside = features[last] - features[first]
        spread = np.nanmax(features, axis=0) - np.nanmin(features, axis=0)
        moving = np.isfinite(inside) & (np.abs(inside) > 0.01 * spread)
        beyond_end = np.sign(features[-1] - features[last]) == np.sign(inside)
        before_start = np.sign(features[first] - features[0]) == np.sign(inside)
    n = int(moving.sum())
    return (f"beyond the ends: of {n} features that move between them, {int((beyond_end & moving).sum())} keep their "
            f"direction past the end and {int((before_start & moving).sum())} before the start (per step: {out})")


def ends_exactness(decoded: np.ndarray, wanted: np.ndarray, labels: tuple[str, ...], refinement) -> str:
    """One line saying how exact decoded presets (k, L) are against the presets asked for (k, L)."""
    wrong = (decoded.astype(np.int64) != wanted.astype(np.int64)).sum(axis=1)
    parts = [f"{label} {'exact' if w == 0 else f'{w} of {decoded.shape[1]} parameters differ'}"
             for label, w in zip(labels, wrong)]
    how = ("encoder means, not refined" if refinement is None else
           f"latent codes refined in {int(refinement.steps.max())} steps, {refinement.seconds:.1f} s; "
           f"before: {', '.join(str(int(w)) for w in refinement.wrong_before)} wrong")
    return f"ends: {'; '.join(parts)} ({how})"


def refine_weight_option(weight: float) -> float:
    if weight < 0:
        raise UserError(f"--refine-weight {weight}: give 0 or more")
    return weight


def refine_steps_option(steps: int) -> int:
    if steps < 0:
        raise UserError(f"--refine-steps {steps}: give 0 (no refinement) or a positive number of steps")
    return steps


def edit(args: Any) -> None:
    """Move a preset along the latent chunk of one attribute; write presets, WAVs and the measured attribute."""
    import pandas as pd
    import scipy.stats

    from spinvae.interpolation.export import write_sequence
    from spinvae.interpolation.model import render_settings
    from spinvae.interpolation.morph import make_knob
    from spinvae.interpolation.refine import RefineConfig

    if args.steps < 2:
        raise UserError(f"--steps {args.steps}: a knob needs at least 2 steps (from -amount to +amount)")
    module, values, label = knob_inputs(args)
    refine = RefineConfig(steps=refine_steps_option(args.refine_steps), posterior_weight=refine_weight_option(args.refine_weight))
    offsets = np.linspace(-args.amount, args.amount, args.steps)
    knob = make_knob(module, values, args.attribute, offsets, refine, args.anchor, args.workers)
    presets, centre, refinement = knob.presets, knob.centre, knob.refinement
    render, mel = render_settings(module)
    files = write_sequence(args.out, presets, render, mel, prefix=args.attribute.split("_")[1][:6] + " ",
                           title=f"{args.attribute} {-args.amount:+g} .. {args.amount:+g}: {label}", synth=module.synth,
                           workers=args.workers)
    transform = module.data.attribute_transform
    measured = transform.apply(_raw_features(module.synth, presets, render, mel, args.workers))[:, 0, transform.kept.index(args.attribute)]
    table = pd.DataFrame({"step": np.arange(1, args.steps + 1), "latent_offset": offsets,
                          args.attribute: measured})
    table.to_csv(Path(args.out) / "attribute.csv", index=False)

    print(table.to_string(index=False))
    if np.ptp(measured) > 0:
        rho = scipy.stats.spearmanr(table["latent_offset"], table[args.attribute]).statistic
        print(f"Spearman(latent offset, measured {args.attribute}) = {rho:.2f}")
    else:
        print(f"the measured {args.attribute} does not change along this path")
    print(ends_exactness(centre[None], values[None], ("the knob's centre",), refinement))
    if args.anchor:
        print("anchored: every step moved by the centre's error, so the knob's centre is the preset exactly "
              "(--anchor false: as decoded)")
    print(f"wrote {files[0]}, {len(files) - 2} WAVs, {files[-1]}, {Path(args.out) / 'attribute.csv'}")


def _raw_features(synth: Synth, values: np.ndarray, render: RenderSettings, mel: MelSettings,
                  workers: int) -> np.ndarray:
    """Raw features (T, n_notes, 53) of learnable values (T, L) of ``synth``."""
    from spinvae.data.spectrograms import analyse_presets

    return analyse_presets(synth.schema.from_learnable(values), render, mel, workers=workers, features=True,
                           synth=synth).features


def synth_name(args: Any, *references: str | None) -> str:
    """The synth a command is about where no model says it: ``--synth``; else the synth whose preset files
    ``references`` are (by suffix), or the first differentiable synth for recordings; else the synth of
    ``--data``'s dataset; else the default synth."""
    import re

    from spinvae.matching.run import AUDIO_SUFFIXES
    from spinvae.synth.registry import DEFAULT_SYNTH, SYNTHS, differentiable_synths

    if getattr(args, "synth", None):
        return synth_option(args.synth).name
    suffixes = {Path(re.sub(r":\d+$", "", ref)).suffix.lower() for ref in references if ref}
    for name in SYNTHS:
        if suffixes & set(get_synth(name).preset_suffixes):
            return name
    if suffixes & set(AUDIO_SUFFIXES):
        return differentiable_synths()[0]
    if getattr(args, "data", None) and (Path(args.data) / MANIFEST).is_file():
        try:
            return read_manifest(args.data).synth
        except ManifestError:
            pass  # said where the uids are read
    return DEFAULT_SYNTH


def command_model(args: Any, *references: str | None):
    """The model of ``--ckpt`` (``shipped``: the one spinvae ships for the synth of :func:`synth_name`);
    ``--synth``, if given, must be its synth."""
    module = _load(args.ckpt, synth_name(args, *references))
    if getattr(args, "synth", None) not in (None, module.synth.name):
        raise UserError(f"--synth {args.synth}: {args.ckpt} is a model of the {module.synth.name} synth")
    return module


def model_or_synth(args: Any, command: str):
    """``--method model``: the model of ``--ckpt`` (:func:`command_model`) and its synth; ``--method
    reference``: no model, and the synth of :func:`synth_name`."""
    if args.method != "model":
        return None, synth_option(synth_name(args, args.start, args.end))
    if not args.ckpt:
        raise UserError(f"{command}: give --ckpt CKPT, or --method reference")
    module = command_model(args, args.start, args.end)
    return module, module.synth


def knob_inputs(args: Any):
    """A timbre knob's model, preset (learnable values) and label from ``--ckpt``, ``--attribute``,
    ``--amount``, ``--preset`` (and ``--data``), checked before any rendering."""
    if args.amount <= 0:
        raise UserError(f"--amount {args.amount}: give a positive latent offset")
    module = command_model(args, args.preset)
    if args.attribute not in module.attribute_names:
        raise UserError(f"--attribute {args.attribute}: not regularised by this model; it has "
                        f"{', '.join(module.attribute_names) or 'none'}")
    values, label = resolve_preset(args.preset, args.data, module.synth)
    return module, values, label


def _load(checkpoint: str, synth: str | None = None):
    """The model of a checkpoint, a model folder, ``shipped`` (``synth``'s) or ``shipped:NAME``; what cannot
    be loaded is one line (a missing or altered model folder: :class:`spinvae.pretrained.PretrainedError`)."""
    from spinvae.interpolation.model import CheckpointError, load_model
    from spinvae.pretrained import PretrainedError

    try:
        return load_model(checkpoint, synth=synth)
    except (FileNotFoundError, CheckpointError, PretrainedError) as err:
        raise UserError(str(err)) from None


def sound_encoder_option(ckpt: str | None, synth: str) -> str | None:
    """The model ``spinvae match`` takes its first guess from: ``--ckpt`` as given; ``none``: no model (the
    nearest of the candidates); not given: the synth's shipped sound encoder where this installation has
    it, else no model."""
    from spinvae.pretrained import SHIPPED, shipped_model

    if ckpt is None:
        return SHIPPED if shipped_model(synth, sound_encoder=True) is not None else None
    return None if ckpt.lower() == "none" else ckpt


def match(args: Any) -> None:
    """Match each recording with a preset of a differentiable synth; write presets, WAVs, pictures, a table."""
    from spinvae.matching.fit import MatchConfig
    from spinvae.matching.run import OtherSettingsError, audio_files, claim_folder, match_files, write_matches
    from spinvae.synth.registry import differentiable_synths

    names = differentiable_synths()
    synth = synth_option(args.synth or names[0])
    if not synth.differentiable:
        raise UserError(f"--synth {synth.name}: not differentiable; sound matching fits {', '.join(names)}")
    if args.steps < 0 or args.candidates < 1:
        raise UserError("--steps must be 0 or more and --candidates at least 1")
    if args.loudness_weight < 0:
        raise UserError(f"--loudness-weight {args.loudness_weight}: give 0 or more")
    config = MatchConfig(steps=args.steps, candidates=args.candidates, seed=args.seed,
                         loudness_weight=args.loudness_weight)
    ckpt = sound_encoder_option(args.ckpt, synth.name)
    guess = None
    if ckpt:
        from spinvae.interpolation.sound_to_preset import EncoderGuessError, check_sound_encoder, guess_presets
        from spinvae.pretrained import resolve_model

        module = _load(str(resolve_model(ckpt, synth.name, sound_encoder=True) or ckpt))
        try:
            check_sound_encoder(module, synth.name, ckpt)
        except EncoderGuessError as err:
            raise UserError(str(err)) from None

        def guess(recordings):
            return guess_presets(module, recordings)

    settings = {"synth": synth.name, "steps": config.steps, "candidates": config.candidates, "seed": config.seed,
                "loudness_weight": config.loudness_weight, "note": args.note, "ckpt": ckpt}
    try:
        claim_folder(args.out, settings, args.overwrite)
    except OtherSettingsError as err:
        raise UserError(str(err)) from None
    matched = match_files(audio_files(args.files), synth, config, note=args.note, guess=guess, progress=args.progress)
    if matched.result is None:
        raise UserError(f"no recording could be matched ({len(matched.skipped)} skipped, reasons above)")
    table = write_matches(args.out, matched, synth, config, settings)
    result = matched.result
    print(f"matched {len(matched.recordings)} recording(s) with {synth.name} presets in {result.seconds:.1f} s "
          f"({len(matched.skipped)} skipped); spectral distance, median: first guess "
          f"{np.nanmedian(result.guess_distance):.4f}, fitted {np.median(result.fit_distance):.4f}, "
          f"preset {np.median(result.distance):.4f}\nwrote {args.out}/: presets, WAVs, pictures, {table.name}")


def export(args: Any) -> None:
    """Write a trained model as a model folder (safetensors weights, JSON configuration, a checksum)."""
    from spinvae.interpolation.model import CheckpointError, export_checkpoint
    from spinvae.model.weights import CONFIG

    if args.data is not None:
        if not (args.recipe and args.licence):
            raise UserError("--data: give --recipe and --licence too (what model.json records of the training data)")
        read_manifest(args.data)  # a ManifestError is one line
        if args.check_pairs < 0:
            raise UserError(f"--check-pairs {args.check_pairs}: give 0 or more")
    try:
        if args.data is None:
            files = export_checkpoint(args.ckpt, args.out, name=args.name, dtype=args.dtype)
        else:
            from spinvae.evaluation.card import publish_model

            files = publish_model(args.ckpt, args.out, args.data, args.recipe, args.licence, dtype=args.dtype,
                                  check_pairs=args.check_pairs, refine_steps=refine_steps_option(args.refine_steps),
                                  refine_weight=refine_weight_option(args.refine_weight), workers=args.workers)
    except (FileNotFoundError, CheckpointError) as err:
        raise UserError(str(err)) from None
    size = sum(f.stat().st_size for f in (files.weights, files.folder / CONFIG))
    print(f"wrote {files.folder}: {files.name}, a {files.synth} model in {files.dtype}, {size / 1e6:.1f} MB, "
          f"sha256 {files.sha256}")


def proxy(args: Any) -> None:
    """Train an attribute proxy on a dataset and write it; print its validation accuracy per attribute."""
    from tabulate import tabulate

    from spinvae.model.proxy import ProxyConfig
    from spinvae.training.proxy import ProxyTraining, fit_proxy, save_proxy

    for option, value, low in (("--epochs", args.epochs, 1), ("--hidden", args.hidden, 1), ("--layers", args.layers, 0)):
        if value < low:
            raise UserError(f"{option} {value}: give {low} or more")
    if not 0 <= args.soften <= 1:
        raise UserError(f"--soften {args.soften}: give a number from 0 to 1")
    synth = read_manifest(args.data).synth  # a ManifestError is one line
    trained, report = fit_proxy(args.data, ProxyConfig(hidden=args.hidden, layers=args.layers),
                                ProxyTraining(epochs=args.epochs, soften=args.soften, seed=args.seed))
    path = save_proxy(args.out, trained, synth, report)
    rows = [[name, f"{r2:.3f}", f"{rho:.3f}"] for name, r2, rho in zip(report.attributes, report.r2, report.spearman)]
    print(tabulate(rows, headers=["attribute", "R^2 (valid)", "Spearman (valid)"]))
    print(f"wrote {path}: {len(report.attributes)} attributes, mean R^2 {report.mean_r2:.3f}, mean Spearman "
          f"{report.mean_spearman:.3f} on {report.n_valid} validation presets ({report.n_train} train, "
          f"{report.seconds:.0f} s)")
