"""The 128 presets a knob walks (spinvae.play.path)."""

from __future__ import annotations

import numpy as np
import pytest

from spinvae.interpolation.model import decode_latents, encode_presets, load_model
from spinvae.interpolation.paths import parameter_path
from spinvae.play.path import POSITIONS, knob_path, knob_positions, morph_path
from spinvae.synth.registry import get_synth


def test_a_reference_morph_holds_both_presets_at_the_knobs_ends_and_the_straight_path_between():
    synth = get_synth("dx7")
    values = synth.schema.learnable(synth.generate(4, seed=2).params)
    path = morph_path(synth, values[0], values[3])
    assert path.presets.shape == (POSITIONS, synth.schema.n_params) and path.home == 0
    learnable = synth.schema.learnable(path.presets)
    np.testing.assert_array_equal(learnable[0], values[0])
    np.testing.assert_array_equal(learnable[-1], values[3])
    # the 9-step reference path is on the knob at CC 0, 127/8 * k (u = k/8 falls on CC values only at the ends,
    # so compare where the positions agree: the ends, and the middle within one CC value)
    nine = parameter_path(values[0], values[3], 9, synth.schema)
    np.testing.assert_array_equal(learnable[[0, -1]], nine[[0, -1]])


def test_extrapolation_widens_the_knob_and_starts_it_at_the_start_preset():
    synth = get_synth("pluck")
    values = synth.schema.learnable(synth.generate(2, seed=1).params)
    path = morph_path(synth, values[0], values[1], -0.5, 1.5)
    assert path.u[0] == -0.5 and path.u[-1] == 1.5
    assert abs(path.u[path.home]) == np.abs(path.u).min() and path.home in (31, 32)
    learnable = synth.schema.learnable(path.presets)
    assert (learnable <= synth.schema.cardinalities - 1).all()  # clamped beyond the ends
    assert len(np.unique(learnable, axis=0)) > 64


def test_knob_positions_refuse_an_empty_range():
    u = knob_positions(-2, 2)
    assert len(u) == 128 and u[0] == -2 and u[-1] == 2
    np.testing.assert_allclose(np.diff(u), 4 / 127)
    with pytest.raises(ValueError, match="must rise"):
        knob_positions(1, 1)


def test_a_model_morph_decodes_the_encoders_codes_of_both_ends(tiny_checkpoint):
    module = load_model(tiny_checkpoint)
    synth = module.synth
    values = synth.schema.learnable(synth.generate(2, seed=9).params)
    path = morph_path(synth, values[0], values[1], module=module)
    z = encode_presets(module, values)
    np.testing.assert_array_equal(synth.schema.learnable(path.presets[[0, -1]]), decode_latents(module, z))
    middle = decode_latents(module, (z[0] + (z[1] - z[0]) * float(path.u[64]))[None])
    np.testing.assert_array_equal(synth.schema.learnable(path.presets[64:65]), middle)


def test_a_timbre_knob_moves_one_attributes_chunk(tiny_checkpoint):
    module = load_model(tiny_checkpoint)
    values = module.synth.schema.learnable(module.synth.generate(1, seed=5).params)[0]
    attribute = module.attribute_names[0]
    path = knob_path(module, values, attribute, 2.0)
    assert path.u[0] == -2.0 and path.u[-1] == 2.0 and path.home in (63, 64)
    z = encode_presets(module, values[None])[0]
    chunk = module.loss_config.chunk
    moved = z.clone()
    moved[:chunk] += float(path.u[0])  # the first attribute owns the first chunk
    np.testing.assert_array_equal(module.synth.schema.learnable(path.presets[:1]), decode_latents(module, moved[None]))
    with pytest.raises(ValueError, match="not regularised by this model"):
        knob_path(module, values, "no_such_attribute", 1.0)


def test_anchored_model_morphs_and_knobs_start_on_the_presets(tiny_checkpoint):
    module = load_model(tiny_checkpoint)
    synth = module.synth
    values = synth.schema.learnable(synth.generate(2, seed=9).params)
    decoded = decode_latents(module, encode_presets(module, values))
    assert not np.array_equal(decoded, values)  # the tiny model's ends are off: anchoring has work to do
    path = morph_path(synth, values[0], values[1], module=module, anchor=True)
    learnable = synth.schema.learnable(path.presets)
    np.testing.assert_array_equal(learnable[[0, -1]], values)  # u = 0 and 1 are CC 0 and 127
    wide = morph_path(synth, values[0], values[1], -0.5, 1.5, module=module, anchor=True)
    plain = morph_path(synth, values[0], values[1], -0.5, 1.5, module=module)
    assert not np.isclose(wide.u, 0).any()  # no CC value falls on the start: anchored on the decoded ends
    assert (synth.schema.learnable(wide.presets) != synth.schema.learnable(plain.presets)).any()
    knob = knob_path(module, values[0], module.attribute_names[0], 2.0, anchor=True)
    unanchored = knob_path(module, values[0], module.attribute_names[0], 2.0)
    error = values[0].astype(int) - decoded[0]
    numerical = ~synth.schema.is_categorical
    shifted = synth.schema.learnable(unanchored.presets).astype(int) + error
    inside = numerical & (shifted[64] >= 0) & (shifted[64] < synth.schema.cardinalities)
    np.testing.assert_array_equal(synth.schema.learnable(knob.presets)[64, inside], shifted[64, inside])
