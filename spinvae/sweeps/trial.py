"""One trial: a training run through :class:`~spinvae.training.cli.SpinVAECLI` with the trial's values.

The trial's LightningCLI arguments are the sweep's base config(s), its fixed overrides, then the
trial's values, exactly as ``spinvae fit --config BASE --KEY VALUE ...`` would take them. Before
anything is built, the resolved config is kept as it would train anywhere (the trial's ``config``
user attribute, which ``spinvae sweep-report`` writes out as ``best.yaml``); then the logger, the
checkpoints and the trainer's root folder are pointed at the trial's folder, and that config is
saved there as ``config.yaml``.
"""

from __future__ import annotations

import gc
import math
from pathlib import Path
from typing import Any, Callable

import optuna
import torch
from jsonargparse import Namespace
from lightning.pytorch import Callback, LightningModule, Trainer
from optuna_integration import PyTorchLightningPruningCallback

from spinvae.errors import UserError, user_error_in
from spinvae.training.cli import SpinVAECLI
from spinvae.sweeps.config import SweepConfig
from spinvae.sweeps.space import SweepConfigError, cli_overrides

TRIAL_CONFIG = "config.yaml"
# trial user attributes
CONFIG_ATTR = "config"          # the resolved training config, YAML, without the trial's folders
FAIL_REASON_ATTR = "fail_reason"  # one line, set when the trial fails by itself
TRIAL_DIR_ATTR = "trial_dir"


class TrialFailure(RuntimeError):
    """A trial that ran but gave no usable result (a metric not logged, NaN or infinite)."""


class _SweepCLI(SpinVAECLI):
    """``spinvae fit``'s CLI as a library call: arguments from Python only, errors raised (not exits)."""

    def __init__(self, args: list[str], **kwargs: Any):
        super().__init__(args=args, run=False, parser_kwargs={"prog": "spinvae", "exit_on_error": False}, **kwargs)


class ConfigOnlyCLI(_SweepCLI):
    """Parses a training configuration and builds nothing (no dataset is read, no model made)."""

    def instantiate_classes(self) -> None:
        pass


class TrialCLI(_SweepCLI):
    """The CLI of one trial; ``on_config`` receives the portable resolved config (YAML) before any
    class is built, so a trial that fails to build still records what it tried."""

    def __init__(self, args: list[str], trial_dir: Path, callbacks: list[Callback],
                 on_config: Callable[[str], None] = lambda _: None):
        self.trial_dir, self.on_config = Path(trial_dir), on_config
        super().__init__(args, trainer_defaults={"callbacks": callbacks})

    def before_instantiate_classes(self) -> None:
        self.on_config(self.parser.dump(self.config, format="yaml"))
        redirect_outputs(self.config, self.trial_dir)
        self.trial_dir.mkdir(parents=True, exist_ok=True)
        (self.trial_dir / TRIAL_CONFIG).write_text(self.parser.dump(self.config, format="yaml"))


def redirect_outputs(config: Namespace, folder: Path) -> None:
    """Point a parsed training config's outputs into ``folder``: the trainer's root, the checkpoints
    (``folder/checkpoints``) and every configured logger's ``save_dir`` (Lightning's default logger
    already follows the root)."""
    config["trainer.default_root_dir"] = str(folder)
    config["checkpoint.dirpath"] = str(folder / "checkpoints")
    loggers = config.get("trainer.logger")
    for logger in loggers if isinstance(loggers, list) else [loggers]:
        if isinstance(logger, Namespace) and "init_args.save_dir" in logger:
            logger["init_args.save_dir"] = str(folder)


def training_args(sweep: SweepConfig, values: dict[str, Any]) -> list[str]:
    """The LightningCLI arguments of a trial with these searched ``values``."""
    return [f"--config={path}" for path in sweep.base_configs] + cli_overrides(sweep.overrides) + cli_overrides(values)


def check_training_keys(sweep: SweepConfig) -> None:
    """Parse the base config(s) with the fixed overrides, and check that every searched key is a key
    of the result: a typo fails here, once, instead of in every trial."""
    try:
        config = ConfigOnlyCLI(training_args(sweep, {})).config
    except Exception as err:  # jsonargparse's ArgumentError, or a class that cannot be imported
        raise SweepConfigError(f"{sweep.source}: base_config + overrides: {one_line(err)}") from None
    for parameter in sweep.parameters:
        if parameter.key not in config:
            raise SweepConfigError(f"{sweep.source}: search_space.{parameter.key}: not a key of the training config "
                                   f"(see `spinvae fit --config {sweep.base_configs[0]} --print_config`)")


class FailOnNonFinite(Callback):
    """Ends a trial at the first validation where a watched metric is NaN or infinite: a diverged
    run, reported as a failure (a pruner would otherwise take NaN for a bad value and prune)."""

    def __init__(self, metrics: list[str]):
        self.metrics = metrics

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        for metric in self.metrics:
            value = trainer.callback_metrics.get(metric)
            if value is not None and not math.isfinite(float(value)):
                raise TrialFailure(f"{metric} is {float(value)} after epoch {trainer.current_epoch}")


def one_line(err: BaseException, limit: int = 500) -> str:
    """``Type: message`` on one line, at most ``limit`` characters (a trial's fail reason)."""
    text = f"{type(err).__name__}: {' '.join(str(err).split())}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _logged(trainer: Trainer, metric: str) -> float:
    logged = trainer.callback_metrics
    if metric not in logged:
        names = sorted(k for k in logged if k.startswith("val/") and k.count("/") == 1)
        raise TrialFailure(f"{metric} was not logged (validation logged {', '.join(names) or 'nothing'})")
    return float(logged[metric])


def _checkpoint(trainer: Trainer, trial_dir: Path) -> str:
    """The trained model's checkpoint: the last one saved, or one saved now."""
    path = getattr(trainer.checkpoint_callback, "last_model_path", "")
    if not path:
        path = str(trial_dir / "checkpoints" / "final.ckpt")
        trainer.save_checkpoint(path)
    return path


def _fit(cli: TrialCLI) -> None:
    try:
        cli.trainer.fit(cli.model, cli.datamodule)
    except SystemExit:
        if cli.trainer.interrupted:  # Lightning turns Ctrl-C into a graceful shutdown and exit(1)
            raise KeyboardInterrupt from None
        raise


def run_trial(trial: optuna.Trial, sweep: SweepConfig, trial_dir: Path, reference_cache: Path | None) -> list[float]:
    """Train one trial and return its objective values (in the sweep's order).

    Raises :class:`optuna.TrialPruned` when the pruner stops it, :class:`TrialFailure` when a value
    is missing or not finite, and whatever training raises (a bad config value, out of memory).
    """
    values = {parameter.key: parameter.suggest(trial) for parameter in sweep.parameters}
    callbacks: list[Callback] = [FailOnNonFinite(sorted({"val/loss", *sweep.trainer_metrics}))]
    if sweep.pruner is not None:
        callbacks.append(PyTorchLightningPruningCallback(trial, monitor=sweep.objectives[0].metric))
    cli = TrialCLI(training_args(sweep, values), trial_dir, callbacks,
                   on_config=lambda text: trial.set_user_attr(CONFIG_ATTR, text))
    _fit(cli)
    scores = {metric: _logged(cli.trainer, metric) for metric in sweep.trainer_metrics}
    if sweep.needs_evaluation:
        from spinvae.sweeps.interpolation import interpolation_scores

        scores.update(interpolation_scores(
            _checkpoint(cli.trainer, trial_dir), cli.datamodule.data_dir, cli.model.data.attribute_transform,
            sweep.evaluation, trial_dir / "evaluation", reference_cache,
        ))
    result = [scores[metric] for metric in sweep.metric_names]
    bad = [f"{metric} is {value}" for metric, value in zip(sweep.metric_names, result) if not math.isfinite(value)]
    if bad:
        raise TrialFailure("; ".join(bad))
    return result


def free_memory() -> None:
    """Release what a finished trial held (its model, and the accelerator's cached blocks)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class SweepObjective:
    """The Optuna objective of a sweep: trials run in ``study_dir/trial_<number>``.

    A trial that fails by itself (a bad config value, NaN, out of memory...) gets a one-line
    ``fail_reason`` user attribute and is re-raised, for Optuna to record it as FAIL while the
    study goes on (``study.optimize(catch=(Exception,))``).
    """

    def __init__(self, sweep: SweepConfig, study_dir: Path):
        self.sweep, self.study_dir = sweep, Path(study_dir)
        #: a mistake no trial can get past (a dataset that is not built): the sweep stops on it
        self.user_error: UserError | None = None

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        trial_dir = self.study_dir / f"trial_{trial.number}"
        trial.set_user_attr(TRIAL_DIR_ATTR, str(trial_dir))
        try:
            values = run_trial(trial, self.sweep, trial_dir, self.study_dir / "reference")
        except optuna.TrialPruned:
            raise
        except Exception as err:
            trial.set_user_attr(FAIL_REASON_ATTR, one_line(err))
            self.user_error = user_error_in(err)
            raise
        return values[0] if len(values) == 1 else values
