"""Parameter schemas: what a synth's preset is made of, and its three lossless forms.

A preset is a vector of integers, one per synth parameter, each in its native range
``0..max``. Some parameters are *learnable*: *numerical* ones, ordered with a number of
discrete steps (``max + 1``), and *categorical* ones, unordered classes. The others are
*fixed* (held at a default when a preset is made from learnable values) or *name*
characters.

The three forms of a preset:

- the synth's own format (for the DX7: sysex bytes, :mod:`spinvae.synth.dx7.sysex`);
- the *integer vector* ``(n_params,)`` uint8, and its learnable part ``(n_learnable,)``
  (:meth:`ParameterSchema.learnable`, :meth:`ParameterSchema.from_learnable`);
- *tokens*, one per learnable parameter: the parameter id (the token's position), the class of
  a categorical parameter, or the value of a numerical one scaled to ``[0, 1]`` as
  ``step / (n_steps - 1)`` (:meth:`ParameterSchema.to_tokens`, :meth:`ParameterSchema.from_tokens`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

Kind = Literal["numerical", "categorical", "continuous", "fixed", "name"]


@dataclass(frozen=True)
class Parameter:
    """One synth parameter.

    ``index`` is its position in the preset vector; ``max`` its native maximum (the minimum is
    always 0); a ``continuous`` parameter is a real number that presets store on a grid of
    ``max + 1`` steps (its discretisation, which the token model learns like a numerical one; a
    differentiable synth also renders values between the steps); ``default`` the value a fixed parameter is held at; ``group`` names what the
    parameter belongs to (for the DX7: ``op1``..``op6``, or None for global parameters) and
    ``type_name`` what it is within the group, shared by parameters of the same type.
    """

    index: int
    name: str
    max: int
    kind: Kind
    default: int = 0
    group: str | None = None
    type_name: str = ""

    @property
    def cardinality(self) -> int:
        """Number of values: discrete steps of a numerical, classes of a categorical."""
        return self.max + 1


class ParameterSchema:
    """An ordered set of parameters and the conversions between preset forms.

    Token arrays are in learnable order: ``is_categorical`` (n_learnable,) bool,
    ``cardinalities`` (n_learnable,) int64, ``type_ids`` (n_learnable,) int64 (one id per
    distinct ``type_name``, for embeddings shared across operators).
    """

    def __init__(self, name: str, parameters: tuple[Parameter, ...]):
        if [p.index for p in parameters] != list(range(len(parameters))):
            raise ValueError("parameter indices must be 0..n-1 in order")
        too_fine = [p.name for p in parameters if p.cardinality > 256]
        if too_fine:  # presets are stored as uint8: a 257th step would wrap around to 0 silently
            raise ValueError(f"{name}: parameter {too_fine[0]} has more than 256 values, and presets are stored as "
                             f"uint8 (0..255); give it at most 256 steps")
        self.name = name
        self.parameters = parameters
        self.by_name = {p.name: p for p in parameters}
        self.max_values = np.array([p.max for p in parameters], dtype=np.int64)
        self.learnable_parameters = tuple(p for p in parameters if p.kind in ("numerical", "categorical", "continuous"))
        self.learnable_indices = np.array([p.index for p in self.learnable_parameters], dtype=np.int64)
        self.learnable_names = tuple(p.name for p in self.learnable_parameters)
        self.is_categorical = np.array([p.kind == "categorical" for p in self.learnable_parameters], dtype=bool)
        self.is_continuous = np.array([p.kind == "continuous" for p in self.learnable_parameters], dtype=bool)
        self.cardinalities = np.array([p.cardinality for p in self.learnable_parameters], dtype=np.int64)
        types = sorted({p.type_name for p in self.learnable_parameters})
        self.type_names = tuple(types)
        self.type_ids = np.array([types.index(p.type_name) for p in self.learnable_parameters], dtype=np.int64)
        self._defaults = np.array([p.default for p in parameters], dtype=np.uint8)
        self._fixed = np.array([p.index for p in parameters if p.kind == "fixed"], dtype=np.int64)

    @property
    def n_params(self) -> int:
        return len(self.parameters)

    @property
    def n_learnable(self) -> int:
        return len(self.learnable_parameters)

    @cached_property
    def numerical_tokens(self) -> np.ndarray:
        return np.flatnonzero(~self.is_categorical)

    @cached_property
    def categorical_tokens(self) -> np.ndarray:
        return np.flatnonzero(self.is_categorical)

    def check_in_range(self, params: np.ndarray) -> None:
        """Raise ValueError unless ``params`` (..., n_params) holds integers in native ranges."""
        params = np.asarray(params)
        if params.shape[-1] != self.n_params:
            raise ValueError(f"expected {self.n_params} parameters in the last axis, got shape {params.shape}")
        bad = (params < 0) | (params > self.max_values)
        if bad.any():
            where = tuple(np.argwhere(bad)[0])
            p = self.parameters[where[-1]]
            raise ValueError(f"parameter {p.name}={params[where]} outside 0..{p.max}")

    def as_presets(self, params: np.ndarray) -> np.ndarray:
        """``params`` (..., n_params) as uint8, after checking every value is in range."""
        params = np.asarray(params)
        self.check_in_range(params)
        return params.astype(np.uint8)

    def learnable(self, params: np.ndarray) -> np.ndarray:
        """The learnable parameters of ``params`` (..., n_params) -> (..., n_learnable) uint8."""
        return np.asarray(params)[..., self.learnable_indices].astype(np.uint8)

    def from_learnable(self, values: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """Full presets (..., n_params) uint8 from learnable values (..., n_learnable).

        Non-learnable parameters come from ``base`` (..., n_params) when given (names kept),
        else from each parameter's default.
        """
        values = np.asarray(values)
        if values.shape[-1] != self.n_learnable:
            raise ValueError(f"expected {self.n_learnable} learnable values, got shape {values.shape}")
        bad = (values < 0) | (values >= self.cardinalities)
        if bad.any():  # before the uint8 store below, which would wrap 256 to 0
            where = tuple(np.argwhere(bad)[0])
            p = self.learnable_parameters[where[-1]]
            raise ValueError(f"parameter {p.name}={values[where]} outside 0..{p.max}")
        if base is None:
            base = self._defaults
        out = np.broadcast_to(np.asarray(base, dtype=np.uint8), values.shape[:-1] + (self.n_params,)).copy()
        out[..., self.learnable_indices] = values
        self.check_in_range(out)
        return out

    def canonical(self, params: np.ndarray) -> np.ndarray:
        """A copy of presets (..., n_params) with every fixed parameter at its default.

        This is the preset the model can represent (and the one rendered for a dataset): for
        the DX7, the voice with transpose at C3.
        """
        out = np.array(params, dtype=np.uint8, copy=True)
        out[..., self._fixed] = self._defaults[self._fixed]
        return out

    def to_tokens(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Token form of learnable values (..., n_learnable).

        Returns ``classes`` (..., n_learnable) int64, the class of categorical tokens and -1
        elsewhere, and ``numbers`` (..., n_learnable) float32, ``step / (n_steps - 1)`` in
        [0, 1] for numerical tokens and 0 elsewhere.
        """
        values = np.asarray(values).astype(np.int64)
        classes = np.where(self.is_categorical, values, -1)
        numbers = np.where(self.is_categorical, 0.0, values / (self.cardinalities - 1))
        return classes, numbers.astype(np.float32)

    def from_tokens(self, classes: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        """Learnable values (..., n_learnable) uint8 from tokens; numbers snap to the nearest step."""
        unit = np.clip(np.asarray(numbers, dtype=np.float64), 0.0, 1.0)
        steps = np.rint(unit * (self.cardinalities - 1))
        values = np.where(self.is_categorical, np.asarray(classes), steps).astype(np.int64)
        if (values < 0).any() or (values >= self.cardinalities).any():
            raise ValueError("categorical class outside its parameter's range")
        return values.astype(np.uint8)
