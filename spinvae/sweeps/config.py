"""The sweep YAML: what is trained (a base training config and fixed overrides), what is searched,
what is optimised, and how (sampler, pruner, run folders, worker heartbeat). ``docs/sweeps.md``
describes every key; :func:`load_sweep` checks them all and names the file and the key of any
mistake.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping, get_args

import optuna
import yaml

from spinvae.data.build import SPLITS
from spinvae.interpolation.paths import CategoricalRule, LatentMethod
from spinvae.interpolation.refine import RefineConfig
from spinvae.synth.base import parse_notes
from spinvae.sweeps.space import Parameter, SweepConfigError, check_key, parse_search_space

Direction = Literal["minimize", "maximize"]

INTERPOLATION_PREFIX = "interpolation/"
# the quick evaluation's scores of the trial's model against the reference (spinvae.evaluation.metrics.summarize);
# ``interpolation/refined/...``: the same scores of the model with refined ends (``evaluation.refine_steps``),
# ``interpolation/bend/...`` and ``interpolation/refined+bend/...``: the bend of its decoded path over parameter
# interpolation (``evaluation.anchor``; spinvae.interpolation.morph.Method), as ``spinvae interpolate`` gives it by
# default. Names before 2026-12 said ``anchored`` for ``bend``: they are read as the bend's, with a note.
INTERPOLATION_VARIANTS = ("", "refined", "bend", "refined+bend")
LEGACY_VARIANT = ("anchored", "bend")
INTERPOLATION_METRICS = tuple(
    f"{INTERPOLATION_PREFIX}{variant + '/' if variant else ''}{metric}/{statistic}"
    for variant in INTERPOLATION_VARIANTS
    for metric in ("smoothness", "nonlinearity")
    for statistic in ("mean_change_pct", "median_change_pct", "improved_features", "worse_features")
)


def interpolation_variant(metric: str) -> str:
    """The morph an ``interpolation/...`` metric scores: ``""`` (the plain model) or one of the other
    :data:`INTERPOLATION_VARIANTS`."""
    parts = metric.removeprefix(INTERPOLATION_PREFIX).split("/")
    return parts[0] if len(parts) == 3 else ""
DEFAULT_RUN_DIR = "experiments/runs/sweeps/{study}"

SAMPLERS = {
    "tpe": optuna.samplers.TPESampler,
    "random": optuna.samplers.RandomSampler,
    "gp": optuna.samplers.GPSampler,
    "nsga2": optuna.samplers.NSGAIISampler,
    "qmc": optuna.samplers.QMCSampler,
}
PRUNERS = {
    "median": optuna.pruners.MedianPruner,
    "percentile": optuna.pruners.PercentilePruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "threshold": optuna.pruners.ThresholdPruner,
    "none": optuna.pruners.NopPruner,
}
_TOP_KEYS = {
    "base_config", "overrides", "search_space", "objectives", "evaluation", "sampler", "pruner", "run_dir",
    "heartbeat", "study_name", "n_trials",
}


@contextmanager
def quiet_experimental() -> Iterator[None]:
    """Silence Optuna's ExperimentalWarning: the sweeps use stable-in-practice features it still
    labels experimental (heartbeats, metric names, matplotlib plots, some sampler options)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


@dataclass(frozen=True)
class Objective:
    """One optimised value: a metric the trainer logs (``val/loss``: its value after the last validation
    epoch) or an ``interpolation/...`` score of the quick evaluation, and its direction."""

    metric: str
    direction: Direction = "minimize"

    @property
    def from_evaluation(self) -> bool:
        return self.metric.startswith(INTERPOLATION_PREFIX)


@dataclass(frozen=True)
class EvaluationSettings:
    """The quick interpolation evaluation of ``interpolation/...`` objectives (see
    :class:`spinvae.evaluation.run.EvaluationConfig`): the first ``max_pairs`` pairs of ``split``."""

    split: Literal["train", "valid", "test"] = "valid"
    max_pairs: int = 8
    steps: int = 5
    notes: tuple[tuple[int, int], ...] | None = None
    latent_method: LatentMethod = "linear"
    categorical: CategoricalRule = "normalised"
    workers: int = 2
    refine_steps: int = 0
    refine_weight: float = RefineConfig.posterior_weight
    anchor: bool = False


@dataclass(frozen=True)
class SweepConfig:
    """A parsed sweep YAML (see the module docstring); ``source`` is its path, ``text`` its content."""

    source: str
    text: str
    base_configs: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    objectives: tuple[Objective, ...]
    overrides: dict[str, Any] = field(default_factory=dict)
    evaluation: EvaluationSettings = EvaluationSettings()
    sampler: dict[str, Any] = field(default_factory=lambda: {"type": "tpe"})
    pruner: dict[str, Any] | None = None
    run_dir: str = DEFAULT_RUN_DIR
    heartbeat_interval: int = 30
    grace_period: int = 120
    study_name: str | None = None
    n_trials: int | None = None

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]

    @property
    def metric_names(self) -> list[str]:
        return [o.metric for o in self.objectives]

    @property
    def trainer_metrics(self) -> list[str]:
        """The objectives' metrics the trainer logs (the others come from the evaluation)."""
        return [o.metric for o in self.objectives if not o.from_evaluation]

    @property
    def needs_evaluation(self) -> bool:
        return any(o.from_evaluation for o in self.objectives)

    def study_dir(self, study_name: str) -> Path:
        """The study's folder: its trials' runs (``trial_<number>``) and the reference's cached evaluation."""
        return Path(self.run_dir.format(study=study_name))

    def make_sampler(self, seed: int | None = None) -> optuna.samplers.BaseSampler:
        """The sampler; ``seed`` replaces the YAML's (each worker of a study needs its own)."""
        kwargs = {k: v for k, v in self.sampler.items() if k != "type"}
        if seed is not None:
            kwargs["seed"] = seed
        with quiet_experimental():  # multivariate, constant_liar... are "experimental"
            return SAMPLERS[self.sampler["type"]](**kwargs)

    def make_pruner(self) -> optuna.pruners.BasePruner:
        if self.pruner is None:
            return optuna.pruners.NopPruner()
        return PRUNERS[self.pruner["type"]](**{k: v for k, v in self.pruner.items() if k != "type"})


def _typed(value: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise SweepConfigError(f"{where}: expected {what}, got {value!r}")
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    return _typed({} if value is None else value, dict, where, "a mapping")


def _base_configs(value: Any, source: str) -> tuple[str, ...]:
    paths = [value] if isinstance(value, str) else value
    where = f"{source}: base_config"
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise SweepConfigError(f"{where}: expected a training config path (or a list of them), got {value!r}")
    for path in paths:
        if not Path(path).is_file():
            raise SweepConfigError(f"{where}: {path}: no such file (paths are relative to the current directory)")
    return tuple(paths)


def _objectives(value: Any, source: str, evaluation: EvaluationSettings) -> tuple[Objective, ...]:
    where = f"{source}: objectives"
    if not isinstance(value, list) or not value:
        raise SweepConfigError(f"{where}: expected a list such as [{{metric: val/loss, direction: minimize}}]")
    objectives = []
    for i, entry in enumerate(value):
        item = f"{where}[{i}]"
        entry = _mapping(entry, item)
        unknown = set(entry) - {"metric", "direction"}
        if unknown:
            raise SweepConfigError(f"{item}: unknown {', '.join(sorted(map(str, unknown)))} "
                                   "(an objective takes metric, direction)")
        metric = entry.get("metric")
        if not isinstance(metric, str) or not metric:
            raise SweepConfigError(f"{item}.metric: expected a logged metric such as val/loss, got {metric!r}")
        if metric.startswith(INTERPOLATION_PREFIX) and LEGACY_VARIANT[0] in metric.split("/")[1]:
            renamed = metric.replace(*LEGACY_VARIANT, 1)
            warnings.warn(f"{item}.metric: {metric} is now called {renamed} (the bend over parameter interpolation); "
                          f"the old name is read for now", FutureWarning, stacklevel=2)
            metric = renamed
        if metric.startswith(INTERPOLATION_PREFIX) and metric not in INTERPOLATION_METRICS:
            raise SweepConfigError(f"{item}.metric: {metric} is not one of {', '.join(INTERPOLATION_METRICS)}")
        direction = entry.get("direction", "minimize")
        if direction not in get_args(Direction):
            raise SweepConfigError(f"{item}.direction: expected minimize or maximize, got {direction!r}")
        morph = set(interpolation_variant(metric).split("+")) if metric.startswith(INTERPOLATION_PREFIX) else set()
        if "refined" in morph and not evaluation.refine_steps:
            raise SweepConfigError(f"{item}.metric: {metric} needs evaluation.refine_steps > 0")
        if "bend" in morph and not evaluation.anchor:
            raise SweepConfigError(f"{item}.metric: {metric} needs evaluation.anchor: true")
        objectives.append(Objective(metric, direction))
    metrics = [o.metric for o in objectives]
    if len(set(metrics)) < len(metrics):
        raise SweepConfigError(f"{where}: a metric is listed twice: {metrics}")
    return tuple(objectives)


def _evaluation(value: Any, source: str) -> EvaluationSettings:
    where = f"{source}: evaluation"
    settings = dict(_mapping(value, where))
    known = EvaluationSettings.__dataclass_fields__
    unknown = set(settings) - set(known)
    if unknown:
        raise SweepConfigError(f"{where}: unknown {', '.join(sorted(map(str, unknown)))} (it takes {', '.join(known)})")
    choices = {"split": SPLITS, "latent_method": get_args(LatentMethod), "categorical": get_args(CategoricalRule)}
    for key, allowed in choices.items():
        if key in settings and settings[key] not in allowed:
            raise SweepConfigError(f"{where}.{key}: expected one of {', '.join(allowed)}, got {settings[key]!r}")
    for key, least in (("max_pairs", 1), ("steps", 3), ("workers", 1), ("refine_steps", 0)):
        if key in settings and (_typed(settings[key], int, f"{where}.{key}", "a whole number") < least):
            raise SweepConfigError(f"{where}.{key}: must be at least {least}, got {settings[key]}")
    if "refine_weight" in settings:
        weight = _typed(settings["refine_weight"], (int, float), f"{where}.refine_weight", "a number")
        if weight < 0:
            raise SweepConfigError(f"{where}.refine_weight: must be 0 or more, got {settings['refine_weight']}")
        settings["refine_weight"] = float(weight)
    if "anchor" in settings:
        _typed(settings["anchor"], bool, f"{where}.anchor", "true or false")
    if settings.get("notes") is not None:
        try:
            notes = _typed(settings["notes"], list, f"{where}.notes", 'a list such as ["56:75"]')
            settings["notes"] = parse_notes(notes)
        except ValueError as err:
            raise SweepConfigError(f"{where}.notes: {err}") from None
    return EvaluationSettings(**settings)


def _factory_spec(value: Any, table: Mapping[str, Any], default: str, where: str) -> dict[str, Any]:
    """A ``{type: NAME, **arguments}`` mapping whose type is in ``table``; built once to check the arguments."""
    spec = dict(_mapping(value, where))
    spec.setdefault("type", default)
    if spec["type"] not in table:
        raise SweepConfigError(f"{where}.type: expected one of {', '.join(table)}, got {spec['type']!r}")
    try:
        with quiet_experimental():
            table[spec["type"]](**{k: v for k, v in spec.items() if k != "type"})
    except (TypeError, ValueError) as err:
        raise SweepConfigError(f"{where}: {err}") from None
    return spec


def _pruner(value: Any, objectives: tuple[Objective, ...], source: str) -> dict[str, Any] | None:
    """None when nothing is pruned. Pruning compares a metric reported after every validation epoch,
    so it needs a single objective that the trainer logs (Optuna cannot prune multi-objective studies)."""
    prunable = len(objectives) == 1 and not objectives[0].from_evaluation
    if value is None:
        return {"type": "median"} if prunable else None
    spec = _factory_spec(value, PRUNERS, "median", f"{source}: pruner")
    if spec["type"] == "none":
        return None
    if not prunable:
        raise SweepConfigError(f"{source}: pruner: pruning needs a single objective logged during training "
                               "(Optuna cannot prune multi-objective studies); use {type: none}")
    return spec


def _heartbeat(value: Any, source: str) -> tuple[int, int]:
    where = f"{source}: heartbeat"
    settings = _mapping(value, where)
    unknown = set(settings) - {"interval", "grace_period"}
    if unknown:
        raise SweepConfigError(f"{where}: unknown {', '.join(sorted(map(str, unknown)))} (it takes interval, grace_period)")
    interval = _typed(settings.get("interval", 30), int, f"{where}.interval", "whole seconds")
    grace = _typed(settings.get("grace_period", 4 * interval), int, f"{where}.grace_period", "whole seconds")
    if interval < 1 or grace <= interval:
        raise SweepConfigError(f"{where}: needs interval >= 1 and grace_period > interval, got {interval}, {grace}")
    return interval, grace


def parse_sweep(data: Any, source: str, text: str = "") -> SweepConfig:
    """A sweep from the loaded YAML ``data`` (``source`` names it in errors)."""
    data = _mapping(data, source)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise SweepConfigError(f"{source}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                               f"a sweep takes {', '.join(sorted(_TOP_KEYS))}")
    for key in ("base_config", "search_space", "objectives"):
        if key not in data:
            raise SweepConfigError(f"{source}: missing {key}")
    where = f"{source}: overrides"
    overrides = {check_key(key, where): value for key, value in _mapping(data.get("overrides"), where).items()}
    parameters = tuple(parse_search_space(data["search_space"], source))
    both = [p.key for p in parameters if p.key in overrides]
    if both:
        raise SweepConfigError(f"{source}: search_space.{both[0]}: also fixed in overrides (keep one)")
    evaluation = _evaluation(data.get("evaluation"), source)
    objectives = _objectives(data["objectives"], source, evaluation)
    run_dir = _typed(data.get("run_dir", DEFAULT_RUN_DIR), str, f"{source}: run_dir",
                     f"a folder such as {DEFAULT_RUN_DIR}")
    try:
        run_dir.format(study="x")
    except (KeyError, IndexError, ValueError):
        raise SweepConfigError(f"{source}: run_dir: {run_dir!r} may hold {{study}} and no other {{...}}") from None
    n_trials = data.get("n_trials")
    if n_trials is not None and _typed(n_trials, int, f"{source}: n_trials", "a whole number") < 1:
        raise SweepConfigError(f"{source}: n_trials: must be at least 1, got {n_trials}")
    study_name = data.get("study_name")
    if study_name is not None:
        _typed(study_name, str, f"{source}: study_name", "a name")
    interval, grace = _heartbeat(data.get("heartbeat"), source)
    return SweepConfig(
        source=source, text=text, base_configs=_base_configs(data["base_config"], source),
        parameters=parameters, objectives=objectives, overrides=overrides,
        evaluation=evaluation,
        sampler=_factory_spec(data.get("sampler"), SAMPLERS, "tpe", f"{source}: sampler"),
        pruner=_pruner(data.get("pruner"), objectives, source),
        run_dir=run_dir, heartbeat_interval=interval, grace_period=grace, study_name=study_name, n_trials=n_trials,
    )


def load_sweep(path: str | Path) -> SweepConfig:
    """Read and check a sweep YAML."""
    path = Path(path)
    if not path.is_file():
        raise SweepConfigError(f"{path}: no such sweep file")
    text = path.read_text()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SweepConfigError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None
    return parse_sweep(data, str(path), text)
