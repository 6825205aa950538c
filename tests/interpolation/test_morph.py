"""The one morph API: method ids, the reference, the latent morph, its bend, the timbre knob (tiny trained model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spinvae.data.build import PRESETS
from spinvae.interpolation.model import decode_latents, encode_presets, load_model
from spinvae.interpolation.morph import REFERENCE, Method, MorphRequest, make_knob, make_morph
from spinvae.interpolation.paths import anchor_path, latent_path, parameter_path, positions
from spinvae.interpolation.refine import RefineConfig
from spinvae.synth.registry import get_synth


@pytest.fixture(scope="module")
def module(tiny_checkpoint):
    return load_model(tiny_checkpoint)


@pytest.fixture(scope="module")
def values(tiny_dataset, module) -> np.ndarray:
    table = pd.read_parquet(tiny_dataset / PRESETS)
    return table[list(module.schema.learnable_names)].to_numpy(dtype=np.uint8)[:8]


@pytest.mark.parametrize("method, method_id", [
    (Method(), "reference"),
    (Method("cpu"), "cpu"),
    (Method("cpu", refined=True), "cpu+refined"),
    (Method("cpu", bend=True), "cpu+bend"),
    (Method("cpu", refined=True, bend=True), "cpu+refined+bend"),
])
def test_method_ids_round_trip(method, method_id):
    assert method.id == method_id
    assert Method.parse(method_id) == method


def test_method_reads_the_bends_old_id_and_refuses_impossible_methods():
    assert Method.parse("shipped+refined+anchored") == Method("shipped", refined=True, bend=True)
    assert Method.parse("m+anchored").latent == Method("m")
    assert "not a latent morph" in Method("m", bend=True).label
    with pytest.raises(ValueError, match="no latent codes"):
        Method(None, refined=True)
    with pytest.raises(ValueError, match="model name"):
        Method(REFERENCE)


def test_the_reference_morph_is_parameter_interpolation(values):
    synth = get_synth("dx7")
    morph = make_morph(MorphRequest(values[0], values[1], positions(7)), None, synth)
    assert morph.method == Method() and morph.decoded is None and morph.ends is None
    np.testing.assert_array_equal(morph.presets, parameter_path(values[0], values[1], 7, synth.schema))
    with pytest.raises(ValueError, match="needs the synth"):
        make_morph(MorphRequest(values[0], values[1], positions(7)))


def test_the_latent_morph_decodes_the_line_between_the_encoder_means(module, values):
    morph = make_morph(MorphRequest(values[:3], values[3:6], positions(5)), module, name="tiny")
    assert morph.method == Method("tiny") and morph.refinement is None
    z = encode_presets(module, values[:6])
    for k in range(3):
        expected = decode_latents(module, latent_path(z[k], z[3 + k], 5))
        np.testing.assert_array_equal(morph.presets[k], expected)
        np.testing.assert_array_equal(morph.ends[k], decode_latents(module, z[[k, 3 + k]]))
    np.testing.assert_array_equal(morph.presets, morph.decoded)
    one = make_morph(MorphRequest(values[0], values[3], positions(5)), module)  # one pair: no batch axis
    np.testing.assert_array_equal(one.presets, morph.presets[0])


def test_the_bend_starts_and_ends_on_the_presets_and_keeps_the_decoded_paths_shape(module, values):
    schema = module.synth.schema
    request = MorphRequest(values[:3], values[3:6], positions(9), bend=True)
    morph = make_morph(request, module, name="tiny")
    assert morph.method == Method("tiny", bend=True)
    np.testing.assert_array_equal(morph.presets[:, 0], values[:3])
    np.testing.assert_array_equal(morph.presets[:, -1], values[3:6])
    np.testing.assert_array_equal(morph.presets, anchor_path(morph.decoded, values[:3], values[3:6], schema))
    # positions without the ends (a knob's range inside the morph) are anchored by the decoded ends
    inside = make_morph(MorphRequest(values[:3], values[3:6], np.linspace(0.25, 0.75, 3), bend=True), module)
    np.testing.assert_array_equal(inside.presets[:, 1], morph.presets[:, 4])


def test_refined_morph_records_its_refinement_and_names_itself(module, values):
    refine = RefineConfig(steps=20, lr=0.2)
    morph = make_morph(MorphRequest(values[:2], values[2:4], positions(5), refine=refine), module, name="m")
    assert morph.method == Method("m", refined=True)
    assert len(morph.refinement.wrong_after) == 4  # the starts' codes, then the ends'
    decoded_ends = decode_latents(module, morph.refinement.z)
    np.testing.assert_array_equal(morph.ends[:, 0], decoded_ends[:2])
    np.testing.assert_array_equal(morph.ends[:, 1], decoded_ends[2:])


def test_the_anchored_knob_is_the_preset_at_offset_zero(module, values):
    attribute = module.attribute_names[0]
    offsets = np.linspace(-2, 2, 5)
    knob = make_knob(module, values[0], attribute, offsets)
    z = encode_presets(module, values[:1])
    np.testing.assert_array_equal(knob.centre, decode_latents(module, z)[0])
    np.testing.assert_array_equal(knob.presets[2], knob.centre)  # offset 0 is the code itself
    anchored = make_knob(module, values[0], attribute, offsets, anchor=True)
    np.testing.assert_array_equal(anchored.presets[2], values[0])
    assert (knob.presets != knob.centre).any(), "the knob moves some parameter over 4 latent units"
    with pytest.raises(ValueError, match="not regularised"):
        make_knob(module, values[0], "no_such_attribute", offsets)
