"""The presets a knob walks: one per MIDI CC value (128), decoded before playing, so no model runs live.

A morph goes from ``low`` to ``high`` in u (0: the start preset, 1: the end; beyond them extrapolates,
each parameter kept in its range), through the model's latent space or parameter by parameter (the
reference). A timbre knob moves one preset's latent code along the chunk of one attribute, from
``-amount`` to ``+amount``. With ``anchor``, a model's morph is moved onto the two presets at u = 0 and 1
(:func:`~spinvae.interpolation.paths.anchor_path`) and a knob onto its preset at offset 0
(:func:`~spinvae.interpolation.paths.anchor_knob`), as ``spinvae interpolate`` and ``edit`` do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spinvae.interpolation.morph import MorphRequest, make_knob, make_morph
from spinvae.interpolation.paths import CategoricalRule, LatentMethod
from spinvae.interpolation.refine import RefineConfig
from spinvae.synth.base import Synth

#: CC values 0..127: one decoded preset each
POSITIONS = 128


@dataclass(frozen=True)
class PlayPath:
    """``presets`` (128, n_params) uint8 of ``synth``, the preset at each CC value; ``u`` (128,) the
    position of each (a morph's u, or a knob's latent offset); ``home`` the CC value of the start preset
    (u = 0 for a morph, offset 0 for a knob): where the knob starts before it first moves."""

    presets: np.ndarray
    u: np.ndarray
    home: int
    label: str
    synth: Synth

    @property
    def distinct(self) -> int:
        """How many different presets the path holds (neighbouring CC values often decode to the same)."""
        return len(np.unique(self.presets, axis=0))


def knob_positions(low: float, high: float) -> np.ndarray:
    """(128,) positions from ``low`` (CC 0) to ``high`` (CC 127), evenly spaced."""
    if not high > low:
        raise ValueError(f"the knob's range must rise: {low:g} .. {high:g}")
    return np.linspace(low, high, POSITIONS)


def _home(u: np.ndarray) -> int:
    return int(np.argmin(np.abs(u)))


def morph_path(synth: Synth, start: np.ndarray, end: np.ndarray, low: float = 0.0, high: float = 1.0,
               module=None, latent: LatentMethod = "linear", refine: RefineConfig | None = None,
               categorical: CategoricalRule | None = None, workers: int = 2, label: str = "",
               anchor: bool = False) -> PlayPath:
    """The morph from ``start`` to ``end`` (learnable values (L,)) at 128 positions ``low`` .. ``high``:
    through ``module``'s latent space (a trained model), or parameter by parameter when it is None;
    ``anchor`` moves a model's path onto the exact presets at u = 0 and 1."""
    u = knob_positions(low, high)
    request = MorphRequest(start, end, u, latent, refine, bend=module is not None and anchor, categorical=categorical)
    values = make_morph(request, module, synth, workers=workers).presets
    return PlayPath(synth.schema.from_learnable(values), u, _home(u), label, synth)


def knob_path(module, values: np.ndarray, attribute: str, amount: float, refine: RefineConfig | None = None,
              workers: int = 2, label: str = "", anchor: bool = False) -> PlayPath:
    """The timbre knob of ``attribute`` on one preset (learnable values (L,)): latent offsets ``-amount`` ..
    ``+amount`` on the attribute's chunk (:func:`spinvae.interpolation.model.attribute_codes`); ``anchor``
    moves every position by the decoded centre's error, so offset 0 is the preset exactly."""
    offsets = knob_positions(-amount, amount)
    knob = make_knob(module, values, attribute, offsets, refine, anchor, workers)
    return PlayPath(module.synth.schema.from_learnable(knob.presets), offsets, _home(offsets), label, module.synth)
