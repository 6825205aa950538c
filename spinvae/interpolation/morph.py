"""One morph, one timbre knob: a request in, presets and where they came from out.

Every command that morphs (``interpolate``, ``evaluate``, ``quickstart``, ``play``) and every timbre knob
(``edit``, ``play``) is made here, so a morph is assembled in one place:

1. the ends' latent codes: the encoder's posterior means, or codes refined until they decode back to
   the presets (:mod:`spinvae.interpolation.refine`);
2. the latent line (or slerp) between them, at the positions ``u`` asked for, decoded;
3. with ``bend``, the decoded path moved onto the exact presets at u = 0 and 1
   (:func:`~spinvae.interpolation.paths.anchor_path`): parameter interpolation between the presets
   plus the bend of the decoded path. That is not a latent-space morph (a straight decoded path gives
   exactly parameter interpolation, and the ends are exact by construction), so it has its own
   :class:`Method` and its own rows in every report.

Without a model, the morph is the reference: each parameter interpolated on its own
(:func:`~spinvae.interpolation.paths.parameter_points`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from spinvae.interpolation.model import attribute_codes, decode_latents, end_codes
from spinvae.interpolation.paths import (CategoricalRule, LatentMethod, anchor_knob, anchor_path, latent_points,
                                         parameter_points)
from spinvae.interpolation.refine import RefineConfig, Refinement

#: the method id of parameter interpolation
REFERENCE = "reference"
_REFINED, _BEND = "+refined", "+bend"
_LEGACY_BEND = "+anchored"  # the bend's id before 2026-12 (evaluation folders written then still read)


@dataclass(frozen=True)
class Method:
    """How a morph's presets are made: ``model`` None is parameter interpolation (the reference);
    otherwise the latent morph of the model so named, its ends' codes ``refined`` or the encoder's
    means, its decoded path ``bend``-ed onto the exact presets or as decoded.

    Its :attr:`id` (``reference``, ``NAME``, ``NAME+refined``, ``NAME+bend``, ``NAME+refined+bend``) names it
    in files (trajectories.csv, evaluation blocks, summaries); :meth:`parse` reads one back."""

    model: str | None = None
    refined: bool = False
    bend: bool = False

    def __post_init__(self) -> None:
        if self.model is None and (self.refined or self.bend):
            raise ValueError("parameter interpolation has no latent codes to refine and no decoded path to bend")
        if self.model is not None and (not self.model or "+" in self.model or self.model == REFERENCE):
            raise ValueError(f"model name {self.model!r}: give a non-empty name without '+', other than {REFERENCE!r}")

    @property
    def id(self) -> str:
        if self.model is None:
            return REFERENCE
        return self.model + (_REFINED if self.refined else "") + (_BEND if self.bend else "")

    @property
    def is_reference(self) -> bool:
        return self.model is None

    @property
    def latent(self) -> Method:
        """The latent morph this one bends (itself when it does not)."""
        return Method(self.model, self.refined, False) if self.model is not None else self

    @property
    def label(self) -> str:
        """What it is, in words, for a report's reader."""
        if self.model is None:
            return "parameter interpolation (reference)"
        ends = "refined ends" if self.refined else "encoder-mean ends"
        if self.bend:
            return f"bend of {self.model}'s decoded path over parameter interpolation ({ends}; not a latent morph)"
        return f"latent morph of {self.model} ({ends})"

    @classmethod
    def parse(cls, method_id: str) -> Method:
        """The method of an id written by :attr:`id` (or by an evaluation made before the bend had its name)."""
        if method_id == REFERENCE:
            return cls()
        name, bend = method_id, False
        for suffix in (_BEND, _LEGACY_BEND):
            if name.endswith(suffix):
                name, bend = name[: -len(suffix)], True
                break
        refined = name.endswith(_REFINED)
        return cls(name.removesuffix(_REFINED), refined, bend)


@dataclass(frozen=True)
class Morph:
    """The presets of n morphs and their provenance.

    ``presets`` (n, T, L) uint8 learnable values, the morph asked for; ``decoded`` (n, T, L) the latent
    path as decoded (``presets`` itself unless bent; None for the reference); ``ends`` (n, 2, L) the
    presets decoded at the ends' codes (None for the reference); ``u`` (T,) the positions;
    ``refinement`` the ends' refinement figures (start codes first, then end codes), None without one."""

    method: Method
    presets: np.ndarray
    u: np.ndarray
    decoded: np.ndarray | None = None
    ends: np.ndarray | None = None
    refinement: Refinement | None = None


@dataclass(frozen=True)
class MorphRequest:
    """A batch of morphs to make: from ``starts`` to ``ends`` ((n, L) or (L,) learnable values) at positions
    ``u`` ((T,) 0: a start, 1: an end, outside [0, 1]: beyond them).

    Args:
        latent: linear or spherical latent interpolation.
        refine: how the ends' codes are refined (None or 0 steps: the encoder's means).
        bend: move the decoded path onto the exact presets (:class:`Method`).
        categorical: the reference's rule for categorical parameters, and the bend's (None: the synth's own).
    """

    starts: np.ndarray
    ends: np.ndarray
    u: np.ndarray
    latent: LatentMethod = "linear"
    refine: RefineConfig | None = None
    bend: bool = False
    categorical: CategoricalRule | None = None

    def method(self, model: str | None) -> Method:
        """The method this request makes with the model named ``model`` (None: no model, the reference)."""
        if model is None:
            return Method()
        return Method(model, refined=self.refine is not None and self.refine.steps > 0, bend=self.bend)


def make_morph(request: MorphRequest, module=None, synth=None, name: str = "model", workers: int = 2) -> Morph:
    """The morphs of ``request``: through the latent space of ``module`` (a trained model, named ``name`` in
    the method's id), or parameter by parameter when it is None (then ``synth`` says whose parameters)."""
    single = np.ndim(request.starts) == 1
    starts, ends = np.atleast_2d(request.starts), np.atleast_2d(request.ends)
    u = np.asarray(request.u, dtype=np.float64)
    synth = module.synth if module is not None else synth
    if synth is None:
        raise ValueError("a morph without a model needs the synth whose parameters it interpolates")
    rule = request.categorical or synth.reference_categorical
    method = request.method(None if module is None else name)
    if module is None:
        presets = np.stack([parameter_points(a, b, u, synth.schema, rule) for a, b in zip(starts, ends)])
        result = Morph(method, presets, u)
    else:
        z, refinement = end_codes(module, np.concatenate([starts, ends]), request.refine, workers)
        z_starts, z_ends = z[: len(starts)], z[len(starts) :]
        codes = torch.stack([latent_points(a, b, u, request.latent) for a, b in zip(z_starts, z_ends)])
        decoded = decode_latents(module, codes.flatten(0, 1)).reshape(len(starts), len(u), -1)
        decoded_ends = np.stack([decode_latents(module, z_starts), decode_latents(module, z_ends)], axis=1)
        presets = decoded
        if request.bend:  # u need not hold 0 and 1 (a knob's range): the decoded ends anchor the path
            with_ends = np.concatenate([decoded_ends, decoded], axis=1)
            presets = anchor_path(with_ends, starts, ends, synth.schema, rule, u=np.concatenate([[0.0, 1.0], u]))[:, 2:]
        result = Morph(method, presets, u, decoded, decoded_ends, refinement)
    if single:
        return Morph(result.method, result.presets[0], u, None if result.decoded is None else result.decoded[0],
                     None if result.ends is None else result.ends[0], result.refinement)
    return result


@dataclass(frozen=True)
class Knob:
    """A timbre knob's presets: ``presets`` (T, L) uint8 at latent ``offsets`` (T,) on ``attribute``'s
    chunk; ``centre`` (L,) the preset decoded at offset 0 (before anchoring); ``refinement`` as in :class:`Morph`."""

    attribute: str
    presets: np.ndarray
    offsets: np.ndarray
    centre: np.ndarray
    anchored: bool
    refinement: Refinement | None = None


def make_knob(module, preset: np.ndarray, attribute: str, offsets: np.ndarray, refine: RefineConfig | None = None,
              anchor: bool = False, workers: int = 2) -> Knob:
    """The timbre knob of ``attribute`` on ``preset`` (learnable values (L,)): its latent code (refined with
    ``refine``) moved by ``offsets`` on the attribute's chunk (:func:`~spinvae.interpolation.model.attribute_codes`),
    decoded; ``anchor`` shifts every position by the centre's error, so offset 0 is the preset exactly
    (:func:`~spinvae.interpolation.paths.anchor_knob`). ValueError for an attribute the model does not regularise."""
    preset = np.asarray(preset)
    offsets = np.asarray(offsets, dtype=np.float64)
    z, refinement = end_codes(module, preset[None], refine, workers)
    presets = decode_latents(module, attribute_codes(module, z[0], attribute, torch.from_numpy(offsets).float()))
    centre = decode_latents(module, z)[0]
    if anchor:
        presets = anchor_knob(presets, centre, preset, module.synth.schema)
    return Knob(attribute, presets, offsets, centre, anchor, refinement)
