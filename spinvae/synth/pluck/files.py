"""Pluck preset files: JSON or YAML that a person can read and edit.

One preset::

    {"synth": "pluck", "name": "warm nylon", "parameters": {"brightness": 2400.0, "decay": 3.5}}

A bank: ``{"synth": "pluck", "presets": [{"name": ..., "parameters": {...}}, ...]}`` (an optional
top-level ``"name"`` too). Values are physical, in the units of ``docs/synths.md``; reading snaps each to
the nearest of its 128 grid steps (so values written by :func:`write_pluck_bank` come back on the same
steps) and gives a parameter that is not named its default. Anything else (unknown keys or parameter
names, values out of range or not numbers, another synth, a file that does not parse) raises
:class:`~spinvae.synth.base.PresetFileError` with one line: the file and the reason. YAML needs PyYAML.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spinvae.synth.base import PresetBank, PresetFileError
from spinvae.synth.pluck.schema import (
    DEFAULT_STEPS,
    PARAMETER_INDEX,
    PLUCK_PARAMETERS,
    PLUCK_SCHEMA,
    steps_to_unit,
    to_physical,
    unit_to_steps,
)

SYNTH_NAME = "pluck"
YAML_SUFFIXES = (".yaml", ".yml")
SUFFIXES = (".json",) + YAML_SUFFIXES
SIGNIFICANT_DIGITS = 7  # a log-scale step is >= 1 % apart, a linear one >= 1/127 of the range: ample
_RANGE_SLACK = 1e-9  # relative: what printing a bound with 7 digits may cost


def _yaml():
    try:
        import yaml
    except ImportError:
        return None
    return yaml


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _load(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise PresetFileError(f"{path}: not a pluck preset file (suffix {suffix or 'none'}; expected one of "
                              f"{', '.join(SUFFIXES)})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PresetFileError(f"{path}: cannot read: {_one_line(err)}") from err
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise PresetFileError(f"{path}: malformed JSON: {_one_line(err)}") from err
    yaml = _yaml()
    if yaml is None:
        raise PresetFileError(f"{path}: reading YAML needs PyYAML, which is not installed (pip install pyyaml)")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise PresetFileError(f"{path}: malformed YAML: {_one_line(err)}") from err


def _check_keys(path: Path, where: str, mapping: dict, allowed: set[str]) -> None:
    unknown = sorted(str(k) for k in mapping if k not in allowed)
    if unknown:
        raise PresetFileError(f"{path}: {where}: unknown key(s) {', '.join(map(repr, unknown))} "
                              f"(allowed: {', '.join(sorted(allowed))})")


def _preset_steps(path: Path, where: str, entry: Any) -> tuple[np.ndarray, str]:
    if not isinstance(entry, dict):
        raise PresetFileError(f"{path}: {where}: expected a mapping with 'parameters', got {type(entry).__name__}")
    _check_keys(path, where, entry, {"name", "parameters"})
    name = entry.get("name", "")
    if not isinstance(name, str):
        raise PresetFileError(f"{path}: {where}: 'name' must be a string, got {type(name).__name__}")
    parameters = entry.get("parameters", {})
    if not isinstance(parameters, dict):
        raise PresetFileError(f"{path}: {where}: 'parameters' must be a mapping of name: value")
    steps = DEFAULT_STEPS.copy()
    for key, value in parameters.items():
        if key not in PARAMETER_INDEX:
            raise PresetFileError(f"{path}: {where}: unknown parameter {key!r}")
        p = PLUCK_PARAMETERS[PARAMETER_INDEX[key]]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise PresetFileError(f"{path}: {where}: parameter {key!r} must be a finite number, got {value!r}")
        slack = _RANGE_SLACK * max(abs(p.low), abs(p.high))
        if not p.low - slack <= value <= p.high + slack:
            raise PresetFileError(f"{path}: {where}: parameter {key!r} = {value} outside "
                                  f"{p.low:g}..{p.high:g} {p.unit}")
        steps[PARAMETER_INDEX[key]] = unit_to_steps(p.unit_value(min(max(value, p.low), p.high)))
    return steps, name


def read_pluck_bank(path: str | Path) -> PresetBank:
    """The presets (n, 29) uint8 and names of one preset or bank file (.json, .yaml, .yml)."""
    path = Path(path)
    data = _load(path)
    if not isinstance(data, dict):
        raise PresetFileError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    synth = data.get("synth")
    if synth != SYNTH_NAME:
        raise PresetFileError(f"{path}: not a pluck preset ('synth' is {synth!r}, expected {SYNTH_NAME!r})")
    if "presets" in data:
        _check_keys(path, "top level", data, {"synth", "name", "presets"})
        presets = data["presets"]
        if not isinstance(presets, list) or not presets:
            raise PresetFileError(f"{path}: 'presets' must be a non-empty list")
        read = [_preset_steps(path, f"preset {i}", entry) for i, entry in enumerate(presets)]
    elif "parameters" in data:
        _check_keys(path, "top level", data, {"synth", "name", "parameters"})
        read = [_preset_steps(path, "preset", {k: v for k, v in data.items() if k != "synth"})]
    else:
        raise PresetFileError(f"{path}: neither 'parameters' (one preset) nor 'presets' (a bank)")
    return PresetBank(np.stack([steps for steps, _ in read]), tuple(name for _, name in read))


def _physical_values(steps: np.ndarray) -> list[dict[str, float]]:
    physical = to_physical(torch.from_numpy(steps_to_unit(steps))).numpy()
    return [{p.name: float(f"{value:.{SIGNIFICANT_DIGITS}g}") for p, value in zip(PLUCK_PARAMETERS, row)}
            for row in physical]


def write_pluck_bank(path: str | Path, params: np.ndarray, names: list[str] | None = None) -> list[Path]:
    """Write presets (n, 29) to ``path``: one preset as a preset file, more as a bank. YAML for a .yaml or
    .yml suffix, JSON otherwise (``.json`` appended to any other suffix). Returns ``[path]``."""
    params = PLUCK_SCHEMA.as_presets(np.asarray(params).reshape(-1, PLUCK_SCHEMA.n_params))
    if not len(params):
        raise ValueError("no presets to write")
    names = list(names) if names is not None else [""] * len(params)
    if len(names) != len(params):
        raise ValueError(f"{len(names)} names for {len(params)} presets")
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        path = path.with_name(path.name + ".json")
    presets = [{"name": str(name), "parameters": values} for name, values in zip(names, _physical_values(params))]
    data = {"synth": SYNTH_NAME, **presets[0]} if len(presets) == 1 else {"synth": SYNTH_NAME, "presets": presets}
    if path.suffix.lower() in YAML_SUFFIXES:
        yaml = _yaml()
        if yaml is None:
            raise ValueError(f"{path}: writing YAML needs PyYAML, which is not installed (pip install pyyaml)")
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return [path]
