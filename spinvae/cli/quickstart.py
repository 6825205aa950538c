"""``spinvae quickstart``: the main job, the real result from a fresh clone (``make run``).

By default, the shipped model of the synth (``spinvae/pretrained/``) against parameter interpolation:

1. build the synth's recipe (the DX7's: ``datasets/dx7_cpu_nofeatures.yaml``, the CC0 banks of the
   checkout with the shipped model's settings, no timbre features), whose split is the shipped model's:
   its test split's fingerprint must be the one the model records as held out from its training;
2. evaluate the model (``shipped``, with refined and anchored ends) on the first ``--max-pairs`` test
   pairs (``evaluation/reports/<name>/report.html``);
3. write one morph between the first two test presets as a bank of the synth's presets with its WAVs and
   picture (``evaluation/reports/<name>/interpolation/``), refined and anchored as ``spinvae interpolate``.

``--files DIR ...`` (``make run SYX=DIR``): the user's presets with the shipped model's settings and
attributes, the shipped model evaluated on their test split, then fine-tuned on their train split
(``experiments/finetune_dx7.yaml`` through LightningCLI, ``experiments/runs/<name>/finetune/``), and both
evaluated in one report, the morph bank made by the fine-tuned model.

``--from-scratch`` (and any synth that ships no model): a model trained from scratch on the synth's
procedural presets (``datasets/quickstart.yaml``, ``experiments/quickstart.yaml``; another synth has
``datasets/quickstart_NAME.yaml`` and ``experiments/quickstart_NAME.yaml``), or on ``--files``.

Every step resumes what an interrupted run left: the build by chunks, the training from its last
checkpoint, the evaluation by blocks of pairs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd

from spinvae.cli.commands import UserError, data_build, refine_steps_option, refine_weight_option, synth_option
from spinvae.cli.main import MORPH_REFINE_STEPS
from spinvae.cli.parsers import data_build_parser
from spinvae.data.build import PRESETS
from spinvae.data.manifest import read_manifest
from spinvae.pretrained import shipped_model
from spinvae.synth.base import Synth
from spinvae.synth.registry import DEFAULT_SYNTH

if TYPE_CHECKING:
    from spinvae.interpolation.refine import RefineConfig

#: a shipped model's held-out test split is rebuilt from the recipe its model.json records, without the features
#: (the model's attribute transform measures every method): into the recipe's folder with this suffix
NOFEATURES = "_nofeatures"
#: the fine-tuning config of shipped model NAME (its architecture and losses, from its weights)
FINETUNE_CONFIG = "experiments/finetune_{name}.yaml"
#: the shipped model's evaluation: the first 128 test pairs (a fixed sample, the split's deterministic order)
SHIPPED_MAX_PAIRS = 128
#: a model trained from scratch refines its ends for half a morph's budget, which keeps that job short
SCRATCH_REFINE_STEPS = 100
SHIPPED, FINETUNE, SCRATCH = "shipped", "finetune", "from scratch"


def quickstart(args: Any) -> dict[str, Path]:
    """Run the main job; returns the paths it wrote (also printed)."""
    from spinvae.interpolation.refine import RefineConfig

    synth = synth_option(args.synth)
    if args.max_pairs is not None and args.max_pairs < 1:
        raise UserError(f"--max-pairs {args.max_pairs}: give 1 or more")
    mode = job_mode(args, synth)
    steps = args.refine_steps if args.refine_steps is not None else (
        SCRATCH_REFINE_STEPS if mode == SCRATCH else MORPH_REFINE_STEPS)
    refine = RefineConfig(steps=refine_steps_option(steps), posterior_weight=refine_weight_option(args.refine_weight))
    started = time.perf_counter()
    job = {SHIPPED: evaluate_shipped, FINETUNE: finetune_shipped, SCRATCH: train_from_scratch}[mode]
    paths = job(args, synth, refine)
    print(paths["summary"].with_name("report.md").read_text())
    print(f"\nquickstart finished in {(time.perf_counter() - started) / 60:.1f} min")
    for label, path in paths.items():
        print(f"  {label:>12}: {path}")
    return paths


def job_mode(args: Any, synth: Synth) -> str:
    """What the options ask for: the shipped model evaluated (with ``--files``, fine-tuned too), or a model
    trained from scratch (``--from-scratch``, or a synth without a shipped model or a fine-tuning recipe)."""
    if args.from_scratch:
        return SCRATCH
    name = shipped_model(synth.name)
    if name is None:
        print(f"spinvae ships no {synth.name} model in this installation: training one from scratch "
              f"(as --from-scratch does)")
        return SCRATCH
    if args.files and not (args.train_config or Path(FINETUNE_CONFIG.format(name=name)).is_file()):
        print(f"no fine-tuning recipe for the {synth.name} synth: training a model from scratch on your presets "
              f"(as --from-scratch does)")
        return SCRATCH
    if not args.files and (args.epochs is not None or args.presets is not None or args.train_config is not None):
        raise UserError("--epochs, --presets and --train-config train a model: give --from-scratch, or --files to "
                        "fine-tune the shipped model on your presets")
    return FINETUNE if args.files else SHIPPED


def evaluate_shipped(args: Any, synth: Synth, refine: RefineConfig) -> dict[str, Path]:
    """The shipped model on its held-out test split: dataset, evaluation, report, morph bank."""
    from spinvae.interpolation.model import load_model

    step = _stepper(3)
    spec = f"shipped:{shipped_model(synth.name)}"
    recipe = _recipe(args.data_config or _trained_recipe(spec), synth, args.workers)
    if not args.data_config:  # the model's own recipe, rebuilt without the features (its split is the same)
        recipe.features, recipe.out = False, recipe.out.rstrip("/") + NOFEATURES
    data, report = Path(recipe.out), Path(args.reports) / (args.name or f"shipped{_suffix(synth)}")
    module = load_model(spec)
    step(f"dataset {data}")
    _build(recipe, module, spec)
    held_out = held_out_context(data, spec)
    step(f"the shipped model ({spec}) against parameter interpolation on the test split -> {report}")
    _evaluate(args, data, report, {"shipped": spec}, refine, _shipped_pairs(args), held_out)
    step(f"one morph as a {synth.name} bank")
    files = _morph_bank(args, module, "shipped", data, report, refine)
    return {"dataset": data, "model": _folder(spec), **_report_paths(report, files)}


def finetune_shipped(args: Any, synth: Synth, refine: RefineConfig) -> dict[str, Path]:
    """The user's presets: the shipped model evaluated on them, fine-tuned on them, both evaluated again."""
    from spinvae.interpolation.model import load_model

    step = _stepper(5)
    name = shipped_model(synth.name)
    spec = f"shipped:{name}"
    data_config, train_config = _trained_recipe(spec), FINETUNE_CONFIG.format(name=name)
    max_time = _max_time(args.finetune_minutes)
    recipe = _recipe(args.data_config or data_config, synth, args.workers)
    train_config = _check_recipe(args.train_config or train_config)
    name = args.name or "files"
    data, run, report = Path("datasets") / name, Path(args.runs) / name, Path(args.reports) / name
    shipped = load_model(spec)
    recipe.out, recipe.procedural, recipe.presets = str(data), 0, list(args.files)
    recipe.features, recipe.attributes = True, list(shipped.attribute_names)  # the attributes it was trained on
    step(f"dataset {data}: your presets, with the attributes of {spec}")
    _build(recipe, shipped, spec)
    context = (f"The test pairs are held out from the fine-tuning (`finetuned`: `shipped` trained further on the "
               f"train split of {data}); `shipped` was trained on {_source(spec)}, and your presets that are among "
               f"those may have been in its training.")
    step(f"the shipped model ({spec}) against parameter interpolation on your test split -> {report}")
    _evaluate(args, data, report, {"shipped": spec}, refine, _shipped_pairs(args), context)
    step(f"fine-tuning {spec} on {data}: {train_config} -> {run}")
    last = _fit(train_config, data, run, "finetune", args.epochs,
                ["--trainer.max_time", max_time])
    step(f"the shipped and the fine-tuned model on the test split -> {report}")
    _evaluate(args, data, report, {"shipped": spec, "finetuned": str(last)}, refine, _shipped_pairs(args), context)
    step(f"one morph of the fine-tuned model as a {synth.name} bank")
    files = _morph_bank(args, load_model(last), "finetuned", data, report, refine)
    return {"dataset": data, "model": _folder(spec), "checkpoint": last, **_report_paths(report, files)}


def train_from_scratch(args: Any, synth: Synth, refine: RefineConfig) -> dict[str, Path]:
    """A model of the synth trained on its procedural presets (or ``--files``), then evaluated."""
    from spinvae.interpolation.model import load_model

    step = _stepper(4)
    suffix = _suffix(synth)
    recipe = _recipe(args.data_config or f"datasets/quickstart{suffix}.yaml", synth, args.workers)
    train_config = _check_recipe(args.train_config or f"experiments/quickstart{suffix}.yaml")
    name = args.name or ("files_scratch" if args.files else f"quickstart{suffix}")
    data, run, report = Path("datasets") / name, Path(args.runs) / name, Path(args.reports) / name
    recipe.out = str(data)
    if args.files:
        recipe.procedural, recipe.presets = 0, list(args.files)
    elif args.presets is not None:
        recipe.procedural = args.presets
    step(f"dataset {data}")
    _build(recipe)
    step(f"training {train_config} -> {run}")
    last = _fit(train_config, data, run, "run", args.epochs)
    step(f"interpolation evaluation on the test split -> {report}")
    _evaluate(args, data, report, {"model": str(last)}, refine, args.max_pairs, latent_report=True)
    step(f"one morph as a {synth.name} bank")
    files = _morph_bank(args, load_model(last), "model", data, report, refine)
    return {"dataset": data, "checkpoint": last, **_report_paths(report, files)}


def held_out_context(data: Path, spec: str) -> str:
    """The report's sentence saying that ``data``'s test pairs are held out from the training of the model
    folder ``spec``; a UserError when its test split is not the one the model records as held out."""
    from spinvae.data.build import split_fingerprints
    from spinvae.model.weights import CONFIG, read_model_files

    trained = read_model_files(_folder(spec)).data
    if trained is None:
        raise UserError(f"{_folder(spec) / CONFIG}: records no training splits (facts.data), so no test pair can be "
                        f"shown held out from its training")
    test, recorded = split_fingerprints(data)["test"], trained.split_sha256.get("test", "none")
    if test != recorded:
        raise UserError(f"{data}: its test split (sha256 {test[:12]}...) is not the one {spec} held out from its "
                        f"training ({recorded[:12]}..., {trained.recipe}); build it from that recipe unchanged")
    return (f"Held out: these pairs come from the test split of `{data}`, which `{spec}` never trained on: its "
            f"presets' fingerprint (sha256 {test[:12]}...) is the one the model records for the test split of its "
            f"training data ({trained.recipe}: {trained.source}).")


def _shipped_pairs(args: Any) -> int:
    return SHIPPED_MAX_PAIRS if args.max_pairs is None else args.max_pairs


def _stepper(total: int) -> Callable[[str], None]:
    """A function printing the job's next step, ``[k/total] what``."""
    count = iter(range(1, total + 1))
    return lambda what: print(f"\n[{next(count)}/{total}] {what}", flush=True)


def _suffix(synth: Synth) -> str:
    return "" if synth.name == DEFAULT_SYNTH else f"_{synth.name}"


def _check_recipe(path: str) -> str:
    if not Path(path).is_file():
        raise UserError(f"{path}: no such recipe (run from the root of a spinvae checkout, or give its path)")
    return path


def _recipe(path: str, synth: Synth, workers: int):
    """A dataset recipe as ``spinvae data build`` reads it, for ``synth`` with ``workers``."""
    recipe = data_build_parser().parse_path(_check_recipe(path))
    recipe.workers, recipe.synth = workers, synth.name
    return recipe


def _build(recipe, module=None, spec: str = "") -> None:
    """Build (or resume) ``recipe``'s dataset; a UserError when its test split holds no pair, or when it is
    not rendered and analysed as ``module`` (the model ``spec``) expects."""
    data_build(recipe)
    manifest = read_manifest(recipe.out)
    if manifest.splits["test"] < 2:
        raise UserError(f"{recipe.out}: {manifest.raw['n_presets']} presets, {manifest.splits['test']} in the test "
                        f"split: too few for one test pair (give about 20 presets or more)")
    if module is not None and (manifest.render, manifest.mel) != (module.data.render, module.data.mel):
        raise UserError(f"{recipe.out}: rendered or analysed with other settings than {spec} ({manifest.render}, "
                        f"{manifest.mel}; the model's: {module.data.render}, {module.data.mel})")


def _fit(config: str, data: Path, run: Path, version: str, epochs: int | None, more: list[str] = ()) -> Path:
    """Train ``config`` on ``data`` through LightningCLI into ``run/version``, resuming its last checkpoint;
    returns that checkpoint."""
    from spinvae.training.cli import run_training_cli

    last = run / version / "checkpoints" / "last.ckpt"
    fit = ["fit", "--config", config, "--data.data_dir", str(data), "--trainer.logger.init_args.save_dir",
           str(run.parent), "--trainer.logger.init_args.name", run.name, "--trainer.logger.init_args.version", version,
           *more]
    if epochs is not None:
        fit += ["--trainer.max_epochs", str(epochs)]
    if last.exists():  # an interrupted run goes on; a finished one returns at once
        fit += ["--ckpt_path", str(last)]
    run_training_cli(fit)
    return last


def _max_time(minutes: float) -> str:
    """Lightning's ``DD:HH:MM:SS`` of ``--finetune-minutes``."""
    if minutes <= 0:
        raise UserError(f"--finetune-minutes {minutes}: give a positive duration")
    s = max(1, round(minutes * 60))
    return f"{s // 86400:02d}:{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def _evaluate(args: Any, data: Path, report: Path, checkpoints: dict[str, str], refine: RefineConfig,
              max_pairs: int | None, context: str | None = None, latent_report: bool = False) -> None:
    """Evaluate ``checkpoints`` against parameter interpolation on the first ``max_pairs`` pairs of ``data``'s
    test split (resuming ``report``) and write the report."""
    from spinvae.evaluation.report import write_results
    from spinvae.evaluation.run import EvaluationConfig, SettingsMismatch, run_evaluation

    config = EvaluationConfig(data=str(data), out=str(report), split="test", checkpoints=checkpoints,
                              max_pairs=max_pairs, workers=args.workers, refine_steps=refine.steps,
                              refine_weight=refine.posterior_weight, anchor=args.anchor, latent_report=latent_report)
    try:
        run_evaluation(config, progress=True)
    except SettingsMismatch as err:  # a quickstart of another --name writes elsewhere
        raise UserError(f"{err} (or give quickstart another --name)") from None
    write_results(report, workers=args.workers, context=context)


def _morph_bank(args: Any, module, label: str, data: Path, report: Path, refine: RefineConfig) -> list[Path]:
    """One morph of ``module`` between the first two test presets of ``data``, refined and (with ``--anchor``)
    anchored as ``spinvae interpolate`` makes it: bank, WAVs, picture under ``report/interpolation``."""
    from spinvae.interpolation.export import write_sequence
    from spinvae.interpolation.model import render_settings
    from spinvae.interpolation.morph import MorphRequest, make_morph
    from spinvae.interpolation.paths import positions

    synth = module.synth
    test = pd.read_parquet(data / PRESETS).query("split == 'test'").head(2)
    values = test[list(synth.schema.learnable_names)].to_numpy(dtype="uint8")
    render, mel = render_settings(module)
    uids = test["uid"].tolist()
    morph = make_morph(MorphRequest(values[0], values[1], positions(9), refine=refine, bend=args.anchor), module,
                       workers=args.workers).presets
    return write_sequence(report / "interpolation", morph, render, mel, title=f"{label}: {uids[0]} -> {uids[1]}",
                          synth=synth, workers=args.workers)


def _report_paths(report: Path, files: list[Path]) -> dict[str, Path]:
    return {"report": report / "report.html", "summary": report / "summary.json", "bank": files[0],
            "spectrograms": files[-1]}


def _folder(spec: str) -> Path:
    """The model folder that ``spec`` names, relative to the working folder when it lies inside it."""
    from spinvae.pretrained import resolve_model

    folder = resolve_model(spec)
    return folder.relative_to(Path.cwd()) if folder.is_relative_to(Path.cwd()) else folder


def _trained_recipe(spec: str) -> str:
    """The dataset recipe the model folder ``spec`` records it was trained on (a UserError when it records none)."""
    from spinvae.model.weights import CONFIG, read_model_files

    trained = read_model_files(_folder(spec)).data
    if trained is None:
        raise UserError(f"{_folder(spec) / CONFIG}: records no training data (facts.data): give --data-config")
    return trained.recipe


def _source(spec: str) -> str:
    """What the model folder ``spec`` says it was trained on (its recipe and presets), or that it does not say."""
    from spinvae.model.weights import read_model_files

    trained = read_model_files(_folder(spec)).data
    return "data it does not record" if trained is None else f"{trained.recipe} ({trained.source})"
