"""The DX7 parameter schema: parameter counts and kinds from the DX7 spec, VCED order, and the
integer <-> learnable <-> token conversions."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from spinvae.synth.dx7.schema import DX7_SCHEMA, N_PARAMS, NAME_SLICE, TRANSPOSE_INDEX, encode_name, init_voice

S = DX7_SCHEMA
OPERATOR_TYPES = (
    "eg_rate1 eg_rate2 eg_rate3 eg_rate4 eg_level1 eg_level2 eg_level3 eg_level4 breakpoint left_depth "
    "right_depth left_curve right_curve rate_scaling amp_mod_sensitivity velocity_sensitivity output_level "
    "frequency_mode frequency_coarse frequency_fine detune"
).split()


# --- counts and kinds (DX7 spec) -------------------------------------------------------------


def test_parameter_counts():
    assert N_PARAMS == S.n_params == 155
    assert S.n_learnable == 144
    assert (~S.is_categorical).sum() == 122
    assert S.is_categorical.sum() == 22
    assert len(S.numerical_tokens) == 122 and len(S.categorical_tokens) == 22
    kinds = Counter(p.kind for p in S.parameters)
    assert kinds == {"numerical": 122, "categorical": 22, "fixed": 1, "name": 10}


def test_categorical_parameters_are_exactly_the_unordered_ones():
    categorical = {S.learnable_names[i] for i in S.categorical_tokens}
    expected = {"algorithm", "osc_key_sync", "lfo_key_sync", "lfo_waveform"}
    for op in range(1, 7):
        expected |= {f"op{op}_frequency_mode", f"op{op}_left_curve", f"op{op}_right_curve"}
    assert categorical == expected
    card = {S.learnable_names[i]: S.cardinalities[i] for i in S.categorical_tokens}
    assert card["algorithm"] == 32 and card["lfo_waveform"] == 6
    assert card["osc_key_sync"] == card["lfo_key_sync"] == 2
    for op in range(1, 7):
        assert card[f"op{op}_frequency_mode"] == 2
        assert card[f"op{op}_left_curve"] == card[f"op{op}_right_curve"] == 4


def test_numerical_step_counts_follow_the_dx7_spec():
    steps = S.cardinalities[S.numerical_tokens]
    names = [S.learnable_names[i] for i in S.numerical_tokens]
    assert set(steps.tolist()) == {4, 8, 15, 32, 100}
    # 100 steps: per operator 4 EG rates, 4 EG levels, breakpoint, 2 depths, output level, fine (13 x 6),
    # plus 8 pitch-EG parameters and LFO speed, delay, pitch- and amp-mod depth
    assert Counter(steps.tolist()) == {100: 13 * 6 + 8 + 4, 32: 6, 15: 6, 8: 6 + 6 + 2, 4: 6}
    by_steps = {n: {name for name, s in zip(names, steps) if s == n} for n in (4, 8, 15, 32)}
    ops = range(1, 7)
    assert by_steps[32] == {f"op{o}_frequency_coarse" for o in ops}
    assert by_steps[15] == {f"op{o}_detune" for o in ops}
    assert by_steps[4] == {f"op{o}_amp_mod_sensitivity" for o in ops}
    assert by_steps[8] == (
        {f"op{o}_rate_scaling" for o in ops}
        | {f"op{o}_velocity_sensitivity" for o in ops}
        | {"feedback", "pitch_mod_sensitivity"}
    )


def test_non_learnable_parameters_are_transpose_and_name():
    learnable = set(S.learnable_indices.tolist())
    assert set(range(155)) - learnable == {144, *range(145, 155)}
    assert S.by_name["transpose"].kind == "fixed" and S.by_name["transpose"].max == 48
    assert S.by_name["transpose"].default == 24
    assert all(S.parameters[i].kind == "name" and S.parameters[i].max == 127 for i in range(145, 155))


# --- order (DX7 VCED layout) -----------------------------------------------------------------


def test_parameter_order_matches_vced():
    idx = {p.name: p.index for p in S.parameters}
    assert [p.index for p in S.parameters] == list(range(155))
    # operator blocks of 21, OP6 first
    for block, op in enumerate(range(6, 0, -1)):
        for k, t in enumerate(OPERATOR_TYPES):
            assert idx[f"op{op}_{t}"] == 21 * block + k
    assert idx["op6_eg_rate1"] == 0
    assert idx["op6_output_level"] == 16
    assert idx["op1_output_level"] == 121
    assert idx["op1_detune"] == 125
    assert [idx[f"pitch_eg_rate{i}"] for i in range(1, 5)] == [126, 127, 128, 129]
    assert [idx[f"pitch_eg_level{i}"] for i in range(1, 5)] == [130, 131, 132, 133]
    assert idx["algorithm"] == 134
    assert idx["feedback"] == 135
    assert idx["osc_key_sync"] == 136
    assert [idx["lfo_speed"], idx["lfo_delay"], idx["lfo_pitch_mod_depth"], idx["lfo_amp_mod_depth"]] == [
        137,
        138,
        139,
        140,
    ]
    assert idx["lfo_key_sync"] == 141 and idx["lfo_waveform"] == 142 and idx["pitch_mod_sensitivity"] == 143
    assert idx["transpose"] == TRANSPOSE_INDEX == 144
    assert [idx[f"name{i}"] for i in range(10)] == list(range(145, 155))
    assert NAME_SLICE == slice(145, 155)


def test_native_maxima_follow_the_dx7_spec():
    mx = {p.name: p.max for p in S.parameters}
    for op in range(1, 7):
        for t in OPERATOR_TYPES[:11] + ["output_level", "frequency_fine"]:
            assert mx[f"op{op}_{t}"] == 99
    assert mx["op3_frequency_coarse"] == 31 and mx["op3_detune"] == 14 and mx["op3_rate_scaling"] == 7
    assert mx["algorithm"] == 31 and mx["lfo_waveform"] == 5 and mx["pitch_mod_sensitivity"] == 7
    assert (S.max_values == np.array([p.max for p in S.parameters])).all()


def test_type_ids_are_shared_across_operators():
    type_of = dict(zip(S.learnable_names, S.type_ids.tolist()))
    assert len(S.type_names) == 21 + 18  # operator types + learnable global parameters
    for t in OPERATOR_TYPES:
        assert len({type_of[f"op{op}_{t}"] for op in range(1, 7)}) == 1
    assert type_of["op1_eg_rate1"] != type_of["pitch_eg_rate1"]
    assert len(set(type_of.values())) == 39


# --- tokens --------------------------------------------------------------------------------


def random_learnable(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, S.cardinalities, size=(n, S.n_learnable)).astype(np.uint8)


def test_tokens_round_trip_on_random_values():
    values = random_learnable(5000)
    classes, numbers = S.to_tokens(values)
    assert classes.dtype == np.int64 and numbers.dtype == np.float32
    assert classes.shape == numbers.shape == values.shape
    back = S.from_tokens(classes, numbers)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, values)


def test_tokens_round_trip_on_factory_voices(factory_voices):
    values = S.learnable(factory_voices)
    assert values.shape == (1024, 144)
    np.testing.assert_array_equal(S.from_tokens(*S.to_tokens(values)), values)
    np.testing.assert_array_equal(S.from_learnable(values, base=factory_voices), factory_voices)


def test_token_numbers_span_zero_to_one():
    values = random_learnable(2000, seed=1)
    classes, numbers = S.to_tokens(values)
    num, cat = S.numerical_tokens, S.categorical_tokens
    assert (numbers >= 0).all() and (numbers <= 1).all()
    assert (classes[:, num] == -1).all() and (numbers[:, cat] == 0).all()
    np.testing.assert_array_equal(classes[:, cat], values[:, cat])
    # ends of each range map to exactly 0 and 1
    _, lo = S.to_tokens(np.zeros(S.n_learnable, np.uint8))
    _, hi = S.to_tokens((S.cardinalities - 1).astype(np.uint8))
    assert (lo[num] == 0.0).all() and (hi[num] == 1.0).all()
    # known answers: detune centre 7 of 0..14 is 0.5, coarse 1 of 0..31 is 1/31
    mid = np.zeros(S.n_learnable, np.uint8)
    detune = S.learnable_names.index("op1_detune")
    coarse = S.learnable_names.index("op1_frequency_coarse")
    mid[detune], mid[coarse] = 7, 1
    _, n = S.to_tokens(mid)
    assert n[detune] == 0.5 and n[coarse] == pytest.approx(1 / 31)


def test_from_tokens_snaps_to_the_nearest_step_and_clips():
    values = random_learnable(200, seed=2)
    classes, numbers = S.to_tokens(values)
    num = S.numerical_tokens
    step = 1.0 / (S.cardinalities[num] - 1)
    rng = np.random.default_rng(3)
    jitter = rng.uniform(-0.45, 0.45, size=(200, len(num))) * step
    noisy = numbers.astype(np.float64)
    noisy[:, num] += jitter
    np.testing.assert_array_equal(S.from_tokens(classes, noisy), values)
    over = numbers.copy()
    over[:, num] = 1.7
    assert (S.from_tokens(classes, over)[:, num] == S.cardinalities[num] - 1).all()
    over[:, num] = -0.3
    assert (S.from_tokens(classes, over)[:, num] == 0).all()


@pytest.mark.parametrize("name,bad", [("algorithm", 32), ("lfo_waveform", 6), ("op2_left_curve", 4), ("osc_key_sync", -1)])
def test_from_tokens_rejects_out_of_range_classes(name, bad):
    classes, numbers = S.to_tokens(random_learnable(3, seed=4))
    classes[1, S.learnable_names.index(name)] = bad
    with pytest.raises(ValueError, match="class"):
        S.from_tokens(classes, numbers)


# --- integer vector <-> learnable ------------------------------------------------------------


def test_from_learnable_defaults_transpose_and_blank_name():
    values = random_learnable(7, seed=5)
    full = S.from_learnable(values)
    assert full.shape == (7, 155) and full.dtype == np.uint8
    assert (full[:, TRANSPOSE_INDEX] == 24).all()
    assert (full[:, NAME_SLICE] == ord(" ")).all()
    np.testing.assert_array_equal(S.learnable(full), values)


def test_from_learnable_keeps_the_base_name_and_transpose(factory_voices):
    a, b = factory_voices[10], factory_voices[500]
    full = S.from_learnable(S.learnable(a), base=b)
    np.testing.assert_array_equal(full[NAME_SLICE], b[NAME_SLICE])
    assert full[TRANSPOSE_INDEX] == b[TRANSPOSE_INDEX]
    np.testing.assert_array_equal(S.learnable(full), S.learnable(a))


def test_from_learnable_broadcasts_batch_shapes():
    values = random_learnable(6, seed=6).reshape(2, 3, 144)
    full = S.from_learnable(values)
    assert full.shape == (2, 3, 155)
    np.testing.assert_array_equal(S.learnable(full), values)
    with pytest.raises(ValueError, match="144"):
        S.from_learnable(values[..., :143])


def test_init_voice_is_in_range():
    v = init_voice()
    S.check_in_range(v)
    assert bytes(v[NAME_SLICE]) == b"INIT VOICE"
    np.testing.assert_array_equal(encode_name("ab"), np.frombuffer(b"ab        ", np.uint8))


@pytest.mark.parametrize(
    "name,value", [("op1_output_level", 100), ("algorithm", 32), ("transpose", 49), ("name3", 128), ("op6_detune", 15)]
)
def test_check_in_range_names_the_parameter(name, value):
    v = init_voice().astype(np.int64)
    v[S.by_name[name].index] = value
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        S.check_in_range(v)
    batch = np.stack([init_voice(), v])
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        S.check_in_range(batch)


def test_check_in_range_rejects_negative_values_and_wrong_lengths():
    v = init_voice().astype(np.int64)
    v[S.by_name["feedback"].index] = -1
    with pytest.raises(ValueError, match="feedback"):
        S.check_in_range(v)
    with pytest.raises(ValueError, match="155"):
        S.check_in_range(init_voice()[:154])


def test_from_learnable_rejects_out_of_range_values():
    values = S.learnable(init_voice()).astype(np.int64)
    values[S.learnable_names.index("op1_output_level")] = 100
    with pytest.raises(ValueError, match="op1_output_level"):
        S.from_learnable(values)


def test_from_learnable_rejects_values_that_wrap_in_uint8():
    values = S.learnable(init_voice()).astype(np.int64)
    values[S.learnable_names.index("op1_output_level")] = 256
    with pytest.raises(ValueError, match="op1_output_level"):
        S.from_learnable(values)


def test_a_parameter_with_more_values_than_a_preset_byte_holds_is_refused():
    from spinvae.presets.schema import Parameter, ParameterSchema

    ParameterSchema("fine", (Parameter(0, "level", 255, "numerical"),))  # 256 values: the most a uint8 holds
    with pytest.raises(ValueError, match="wide: parameter cutoff has more than 256 values"):
        ParameterSchema("wide", (Parameter(0, "level", 99, "numerical"), Parameter(1, "cutoff", 256, "continuous")))
