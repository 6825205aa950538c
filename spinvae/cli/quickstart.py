"""``spinvae quickstart``: the main job, presets in, a trained model and an interpolation report out.

1. build ``datasets/<name>`` from ``datasets/quickstart.yaml`` (spinvae's procedural presets), or
   from the user's preset files with ``--files DIR`` (for the DX7, cartridges); another synth
   (``--synth NAME``) has its own recipes, ``datasets/quickstart_NAME.yaml`` and
   ``experiments/quickstart_NAME.yaml``;
2. train ``experiments/quickstart.yaml`` on it (``experiments/runs/<name>/run/``);
3. evaluate interpolation on the test split against parameter interpolation
   (``evaluation/reports/<name>/report.html``);
4. write one morph between the first two test presets as a bank of the synth's presets with its
   WAVs and picture (``evaluation/reports/<name>/interpolation/``).

Every step resumes what an interrupted run left: the build by chunks, the training from its last
checkpoint, the evaluation by blocks of pairs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from spinvae.cli.commands import UserError, data_build, refine_steps_option, refine_weight_option, synth_option
from spinvae.cli.parsers import data_build_parser
from spinvae.data.build import PRESETS
from spinvae.synth.registry import DEFAULT_SYNTH


def quickstart(args: Any) -> dict[str, Path]:
    """Run the main job; returns the paths it wrote (also printed)."""
    from spinvae.interpolation.refine import RefineConfig
    from spinvae.training.cli import run_training_cli
    from spinvae.evaluation.report import write_results
    from spinvae.evaluation.run import EvaluationConfig, SettingsMismatch, run_evaluation
    from spinvae.interpolation.export import write_sequence
    from spinvae.interpolation.model import load_model, model_path, render_settings
    from spinvae.interpolation.paths import anchor_path
    synth = synth_option(args.synth)
    refine = RefineConfig(steps=refine_steps_option(args.refine_steps), posterior_weight=refine_weight_option(args.refine_weight))
    suffix = "" if synth.name == DEFAULT_SYNTH else f"_{synth.name}"
    data_config = args.data_config or f"datasets/quickstart{suffix}.yaml"
    train_config = args.train_config or f"experiments/quickstart{suffix}.yaml"
    for recipe in (data_config, train_config):
        if not Path(recipe).is_file():
            raise UserError(f"{recipe}: no such recipe (run from the root of a spinvae checkout, or give its path)")
    name = args.name or ("files" if args.files else f"quickstart{suffix}")
    data, run, report = Path("datasets") / name, Path(args.runs) / name, Path(args.reports) / name
    started = time.perf_counter()

    _step(1, f"dataset {data}")
    recipe = data_build_parser().parse_path(data_config)
    recipe.out, recipe.workers, recipe.synth = str(data), args.workers, synth.name
    if args.files:
        recipe.procedural, recipe.presets = 0, list(args.files)
    elif args.presets is not None:
        recipe.procedural = args.presets
    data_build(recipe)

    _step(2, f"training {train_config} -> {run}")
    last = run / "run" / "checkpoints" / "last.ckpt"
    fit = ["fit", "--config", train_config, "--data.data_dir", str(data),
           "--trainer.logger.init_args.save_dir", str(run.parent), "--trainer.logger.init_args.name", name]
    if args.epochs is not None:
        fit += ["--trainer.max_epochs", str(args.epochs)]
    if last.exists():  # an interrupted run goes on; a finished one returns at once
        fit += ["--ckpt_path", str(last)]
    run_training_cli(fit)

    _step(3, f"interpolation evaluation on the test split -> {report}")
    config = EvaluationConfig(data=str(data), out=str(report), split="test", checkpoints={"model": str(last)},
                              max_pairs=args.max_pairs, workers=args.workers, refine_steps=refine.steps,
                              refine_weight=refine.posterior_weight, anchor=args.anchor)
    try:
        run_evaluation(config, progress=True)
    except SettingsMismatch as err:  # a quickstart of another --name writes elsewhere
        raise UserError(f"{err} (or give quickstart another --name)") from None
    write_results(report, workers=args.workers)

    _step(4, f"one morph as a {synth.name} bank")
    module = load_model(last)
    test = pd.read_parquet(data / PRESETS).query("split == 'test'").head(2)
    values = test[list(synth.schema.learnable_names)].to_numpy(dtype="uint8")
    render, mel = render_settings(module)
    uids = test["uid"].tolist()
    morph = model_path(module, values[0], values[1], 9, refine=refine)
    if args.anchor:
        morph = anchor_path(morph, values[0], values[1], synth.schema, synth.reference_categorical)
    files = write_sequence(report / "interpolation", morph, render, mel, title=f"model: {uids[0]} -> {uids[1]}",
                           synth=synth, workers=args.workers)

    paths = {"dataset": data, "checkpoint": last, "report": report / "report.html",
             "summary": report / "summary.json", "bank": files[0], "spectrograms": files[-1]}
    print((report / "report.md").read_text())
    print(f"\nquickstart finished in {(time.perf_counter() - started) / 60:.1f} min")
    for label, path in paths.items():
        print(f"  {label:>12}: {path}")
    return paths


def _step(number: int, what: str) -> None:
    print(f"\n[{number}/4] {what}", flush=True)
