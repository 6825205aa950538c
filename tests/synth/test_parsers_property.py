"""Property-based tests (hypothesis) of the parsers of what users give: .syx files, pluck preset files,
NOTE:VELOCITY specs, note names in file names. Whatever the input, each parser returns a valid result or
raises its own one-line error, never anything else."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinvae.matching.recording import HIGHEST_NOTE, note_from_name
from spinvae.synth.base import PresetFileError, parse_notes
from spinvae.synth.dx7.sysex import BANK_MESSAGE_BYTES, SysexError, bank_sysex, parse_sysex
from spinvae.synth.registry import get_synth

DX7, PLUCK = get_synth("dx7"), get_synth("pluck")
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _valid_voices(params: np.ndarray) -> None:
    assert params.dtype == np.uint8 and params.shape[1] == DX7.schema.n_params
    assert (params <= DX7.schema.max_values).all()


@FAST
@given(st.binary(max_size=5000))
def test_any_bytes_are_voices_or_a_sysex_error(data):
    try:
        voices = parse_sysex(data, "x.syx")
    except SysexError as err:
        assert "\n" not in str(err) and str(err).startswith("x.syx: ")
        return
    _valid_voices(voices.params)


@FAST
@given(st.data())
def test_a_bank_with_bytes_changed_is_read_or_refused_in_one_line(data):
    bank = bytearray(bank_sysex(DX7.generate(32, seed=1).params))
    assert len(bank) == BANK_MESSAGE_BYTES
    for _ in range(data.draw(st.integers(1, 8))):
        bank[data.draw(st.integers(0, len(bank) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(bank)))
    try:
        voices = parse_sysex(bytes(bank[:cut]), "y.syx")
    except SysexError as err:
        assert "\n" not in str(err)
        return
    _valid_voices(voices.params)


json_values = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
                           max_leaves=20)


@FAST
@given(json_values)
def test_any_json_is_pluck_presets_or_a_preset_file_error(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("pluck") / "p.json"
    path.write_text(json.dumps(value))
    _read_pluck(path)


@FAST
@given(st.data())
def test_a_pluck_file_with_one_value_changed_is_read_or_refused(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("pluck")
    PLUCK.write_bank(folder / "p.json", PLUCK.generate(2, seed=3).params)
    document = json.loads((folder / "p.json").read_text())
    presets = document["presets"] if isinstance(document, dict) else document
    entry = presets[data.draw(st.integers(0, len(presets) - 1))]
    keys = list(entry["parameters"] if "parameters" in entry else entry)
    target = entry["parameters"] if "parameters" in entry else entry
    target[data.draw(st.sampled_from(keys))] = data.draw(json_values)
    (folder / "p.json").write_text(json.dumps(document))
    _read_pluck(folder / "p.json")


def _read_pluck(path) -> None:
    try:
        bank = PLUCK.read_bank(path)
    except PresetFileError as err:
        assert "\n" not in str(err) and str(path) in str(err)
        return
    assert bank.params.dtype == np.uint8 and bank.params.shape[1] == PLUCK.schema.n_params
    assert (bank.params <= PLUCK.schema.max_values).all() and len(bank.names) == len(bank.params)


@FAST
@given(st.lists(st.text(max_size=10), max_size=4))
def test_note_specs_are_pairs_in_range_or_a_value_error(pairs):
    try:
        notes = parse_notes(pairs)
    except ValueError as err:
        assert "\n" not in str(err)
        return
    assert len(notes) == len(pairs) and all(isinstance(n, int) and isinstance(v, int) for n, v in notes)


@FAST
@given(st.integers(0, 127), st.integers(1, 127))
def test_a_written_note_spec_reads_back(note, velocity):
    assert parse_notes([f"{note}:{velocity}"]) == ((note, velocity),)


@FAST
@given(st.text(max_size=30))
def test_a_note_name_in_any_file_name_is_none_or_a_midi_note(name):
    note = note_from_name(name)
    assert note is None or 0 <= note <= max(HIGHEST_NOTE, 127)
