"""Pluck preset files: JSON and YAML round trips, defaults, snapping, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spinvae.synth.base import PresetFileError
from spinvae.synth.pluck import PluckSynth, files
from spinvae.synth.pluck.schema import DEFAULT_STEPS, PARAMETER_INDEX


@pytest.fixture(scope="module")
def synth() -> PluckSynth:
    return PluckSynth()


@pytest.mark.parametrize("name", ["bank.json", "bank.yaml", "bank.yml"])
def test_bank_round_trip(synth, tmp_path, name):
    params = synth.generate(30, seed=4).params
    params[0] = 0
    params[1] = 127
    names = [f"preset {i}" for i in range(30)]
    written = synth.write_bank(tmp_path / name, params, names)
    assert written == [tmp_path / name]
    bank = synth.read_bank(written[0])
    assert np.array_equal(bank.params, params) and bank.params.dtype == np.uint8
    assert bank.names == tuple(names) and bank.warnings == ()


def test_one_preset_is_written_as_a_preset_file(synth, tmp_path):
    params = synth.generate(1, seed=9).params
    path = synth.write_bank(tmp_path / "one", params, ["warm nylon"])[0]
    assert path.name == "one.json"
    data = json.loads(path.read_text())
    assert data["synth"] == "pluck" and data["name"] == "warm nylon" and "presets" not in data
    assert len(data["parameters"]) == 29
    assert np.array_equal(synth.read_bank(path).params, params)


def test_values_snap_to_the_grid_and_missing_ones_take_defaults(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"synth": "pluck", "parameters": {"level": 0.3, "brightness": 1000, "tilt": -6}}))
    bank = files.read_pluck_bank(path)
    expected = DEFAULT_STEPS.copy()
    expected[PARAMETER_INDEX["level"]] = 38  # 0.3 * 127 = 38.1
    expected[PARAMETER_INDEX["brightness"]] = 47  # 127 ln(5) / ln(80) = 46.66
    expected[PARAMETER_INDEX["tilt"]] = 55  # -19.75 + 55 * 0.25
    assert np.array_equal(bank.params, expected[None]) and bank.names == ("",)


def test_yaml_preset_is_read(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("synth: pluck\nname: soft\nparameters:\n  decay: 30\n  comb_depth: 0.0\n")
    bank = files.read_pluck_bank(path)
    assert bank.names == ("soft",)
    assert bank.params[0, PARAMETER_INDEX["decay"]] == 127 and bank.params[0, PARAMETER_INDEX["comb_depth"]] == 0


BAD_FILES = {
    "unknown parameter": ("p.json", '{"synth": "pluck", "parameters": {"loudness": 1}}',
                          "unknown parameter 'loudness'"),
    "out of range": ("p.json", '{"synth": "pluck", "parameters": {"brightness": 20000}}', "outside 200..16000 Hz"),
    "not a number": ("p.json", '{"synth": "pluck", "parameters": {"level": "loud"}}', "finite number"),
    "a boolean": ("p.json", '{"synth": "pluck", "parameters": {"level": true}}', "finite number"),
    "wrong synth": ("p.json", '{"synth": "dx7", "parameters": {}}', "not a pluck preset"),
    "no synth": ("p.json", '{"parameters": {}}', "not a pluck preset"),
    "malformed json": ("p.json", '{"synth": "pluck", "parameters": {', "malformed JSON"),
    "malformed yaml": ("p.yaml", "synth: pluck\nparameters: [1, 2\n  level: {", "malformed YAML"),
    "not a mapping": ("p.json", "[1, 2, 3]", "expected a mapping"),
    "unknown key": ("p.json", '{"synth": "pluck", "parameters": {}, "tempo": 120}', "unknown key(s) 'tempo'"),
    "empty bank": ("b.json", '{"synth": "pluck", "presets": []}', "non-empty list"),
    "bad bank entry": ("b.json", '{"synth": "pluck", "presets": [{"parameters": {}}, 3]}', "preset 1"),
    "neither": ("p.json", '{"synth": "pluck"}', "neither 'parameters'"),
    "parameters not a mapping": ("p.json", '{"synth": "pluck", "parameters": [1]}', "must be a mapping"),
    "suffix": ("p.txt", "{}", "not a pluck preset file"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_raise_one_line_naming_the_file(synth, tmp_path, case):
    name, text, reason = BAD_FILES[case]
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PresetFileError) as error:
        synth.read_bank(path)
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(path)) and reason in message


def test_missing_file_raises_a_preset_file_error(synth, tmp_path):
    with pytest.raises(PresetFileError, match="cannot read"):
        synth.read_bank(tmp_path / "absent.json")


def test_yaml_without_pyyaml_says_so(tmp_path, monkeypatch):
    path = tmp_path / "p.yml"
    path.write_text("synth: pluck\nparameters: {}\n")
    monkeypatch.setattr(files, "_yaml", lambda: None)
    with pytest.raises(PresetFileError, match="needs PyYAML") as error:
        files.read_pluck_bank(path)
    assert str(error.value).startswith(str(path))
    with pytest.raises(ValueError, match="needs PyYAML"):
        files.write_pluck_bank(tmp_path / "w.yaml", DEFAULT_STEPS[None])


def test_writing_checks_its_input(tmp_path):
    with pytest.raises(ValueError):
        files.write_pluck_bank(tmp_path / "w.json", np.full((1, 29), 128))
    with pytest.raises(ValueError):
        files.write_pluck_bank(tmp_path / "w.json", np.zeros((2, 29)), ["only one name"])
