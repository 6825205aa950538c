"""The search space: one searched hyper-parameter per LightningCLI key, its Optuna suggestion, and
the command-line override it becomes.

In a sweep YAML::

    search_space:
      model.loss.beta: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
      model.vae.encoder_layers: {type: int, low: 1, high: 4}
      model.vae.fusion: {type: categorical, choices: [preset_only, combined]}

A key is what ``spinvae fit`` takes as ``--KEY VALUE``; a trial's values become exactly those
arguments (:func:`cli_overrides`), so any key LightningCLI accepts can be searched.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal, Mapping

import optuna

ParameterKind = Literal["float", "int", "categorical"]

# the keys each distribution takes, the required ones first
_SPEC_KEYS: dict[str, tuple[set[str], set[str]]] = {
    "float": ({"type", "low", "high"}, {"log", "step"}),
    "int": ({"type", "low", "high"}, {"log", "step"}),
    "categorical": ({"type", "choices"}, set()),
}
_DOTTED_KEY = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class SweepConfigError(ValueError):
    """A bad sweep YAML; the message names the file and the key, on one line (a key or value quoted from
    the file may hold line breaks: they become spaces)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class Parameter:
    """One searched hyper-parameter.

    Args:
        key: the dotted LightningCLI key (``model.loss.beta``), also its Optuna parameter name.
        kind: ``float``, ``int`` or ``categorical``.
        low, high: bounds, both included (float and int).
        log: sample on a log scale (float and int).
        step: discretisation step (float and int; int default 1).
        choices: the values of a categorical (bool, int, float, str or None; a list or mapping
            choice is kept as its JSON text, which LightningCLI parses back).
    """

    key: str
    kind: ParameterKind
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        """The trial's value of this hyper-parameter."""
        if self.kind == "float":
            return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return trial.suggest_categorical(self.key, self.choices)


def check_key(key: Any, where: str) -> str:
    """``key`` if it is a dotted name (``model.loss.beta``), else a :class:`SweepConfigError`."""
    if not isinstance(key, str) or not _DOTTED_KEY.match(key):
        raise SweepConfigError(f"{where}: {key!r} is not a dotted config key such as model.loss.beta")
    return key


def _number(spec: Mapping[str, Any], name: str, where: str) -> float:
    value = spec[name]
    if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SweepConfigError(f"{where}: {name} must be a finite number, got {spec[name]!r}")
    return value


def _choice(value: Any) -> Any:
    """Optuna stores categorical choices of these types only; anything else goes as its JSON text."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)


def parse_parameter(key: str, spec: Any, source: str) -> Parameter:
    """One entry of ``search_space``; ``source`` (the sweep file) starts every error message."""
    where = f"{source}: search_space.{key}"
    if not isinstance(spec, Mapping):
        raise SweepConfigError(f"{where}: expected a mapping such as {{type: float, low: 0.1, high: 1.0}}, "
                               f"got {spec!r}")
    kind = spec.get("type")
    if kind not in _SPEC_KEYS:
        raise SweepConfigError(f"{where}: type must be one of {', '.join(_SPEC_KEYS)}, got {kind!r}")
    required, optional = _SPEC_KEYS[kind]
    missing, unknown = required - set(spec), set(spec) - required - optional
    if missing:
        raise SweepConfigError(f"{where}: missing {', '.join(sorted(missing))}")
    if unknown:
        raise SweepConfigError(f"{where}: unknown {', '.join(sorted(unknown))} "
                               f"(a {kind} takes {', '.join(sorted(required | optional))})")
    if kind == "categorical":
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise SweepConfigError(f"{where}: choices must be a non-empty list, got {choices!r}")
        encoded = tuple(_choice(c) for c in choices)
        if len(set(map(repr, encoded))) < len(encoded):
            raise SweepConfigError(f"{where}: choices repeat a value: {choices!r}")
        return Parameter(key, "categorical", choices=encoded)

    low, high = _number(spec, "low", where), _number(spec, "high", where)
    log = spec.get("log", False)
    step = _number(spec, "step", where) if spec.get("step") is not None else None
    if not isinstance(log, bool):
        raise SweepConfigError(f"{where}: log must be true or false, got {log!r}")
    if low > high:
        raise SweepConfigError(f"{where}: low ({low}) is above high ({high})")
    if log and low <= 0:
        raise SweepConfigError(f"{where}: a log scale needs low > 0, got {low}")
    if step is not None and step <= 0:
        raise SweepConfigError(f"{where}: step must be positive, got {step}")
    if kind == "float" and log and step is not None:
        raise SweepConfigError(f"{where}: a float takes log or step, not both")
    if kind == "int" and any(v is not None and float(v) != int(v) for v in (low, high, step)):
        raise SweepConfigError(f"{where}: an int needs whole numbers for low, high and step")
    return Parameter(key, kind, low, high, log, step)


def parse_search_space(space: Any, source: str) -> list[Parameter]:
    """The ``search_space`` mapping (dotted key -> distribution) as parameters, in file order."""
    if not isinstance(space, Mapping) or not space:
        raise SweepConfigError(f"{source}: search_space must map at least one config key to a distribution")
    return [parse_parameter(check_key(key, f"{source}: search_space"), spec, source) for key, spec in space.items()]


def cli_value(value: Any) -> str:
    """A value as LightningCLI parses it from the command line: strings as they are, anything else as
    JSON (which is YAML: numbers, true/false, null, lists, mappings)."""
    return value if isinstance(value, str) else json.dumps(value)


def cli_overrides(values: Mapping[str, Any]) -> list[str]:
    """``{"model.loss.beta": 0.001}`` -> ``["--model.loss.beta=0.001"]``."""
    return [f"--{key}={cli_value(value)}" for key, value in values.items()]
