"""Synths as plug-ins: the registry, the interface every synth keeps, and no synth named outside its package."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from spinvae.synth.base import PresetFileError, RenderSettings, Synth
from spinvae.synth.registry import DEFAULT_SYNTH, SYNTHS, get_synth

PACKAGE = Path(__file__).resolve().parents[2] / "spinvae"
SHORT = RenderSettings(notes=((52, 90), (64, 60)), note_duration=0.25, duration=0.5)


def test_the_registry_knows_both_synths_and_refuses_others():
    assert set(SYNTHS) == {"dx7", "pluck"} and DEFAULT_SYNTH == "dx7"
    assert get_synth() is get_synth("dx7")
    for name in SYNTHS:
        assert isinstance(get_synth(name), Synth) and get_synth(name).name == name
    with pytest.raises(ValueError, match="unknown synth 'moog'; known: dx7, pluck"):
        get_synth("moog")


@pytest.mark.parametrize("name", sorted(SYNTHS))
def test_every_synth_keeps_the_interface(name, tmp_path):
    synth = get_synth(name)
    generated = synth.generate(5, seed=1)
    assert generated.params.shape == (5, synth.schema.n_params) and generated.params.dtype == np.uint8
    np.testing.assert_array_equal(synth.generate(5, seed=1).params, generated.params)  # seeded
    synth.schema.check_in_range(generated.params)
    # files: written and read back to the same learnable values, names kept
    names = [f"TEST {i}" for i in range(5)]
    files = synth.write_bank(tmp_path / f"bank{synth.preset_suffixes[0]}", generated.params, names)
    bank = synth.read_bank(files[0])
    np.testing.assert_array_equal(synth.schema.learnable(bank.params[:5]), synth.schema.learnable(generated.params))
    assert [n.rstrip() for n in bank.names[:5]] == names
    preset, label = synth.read_preset(f"{files[0]}:3")
    np.testing.assert_array_equal(synth.schema.learnable(preset), synth.schema.learnable(generated.params[3]))
    # render: shape, determinism, delays keep the length
    audio = synth.render(generated.params[:3], SHORT, workers=2)
    assert audio.shape == (3, 2, SHORT.n_samples) and audio.dtype == np.float32
    assert np.isfinite(audio).all() and np.abs(audio).max() > 1e-3
    np.testing.assert_array_equal(synth.render(generated.params[:3], SHORT, workers=1), audio)
    delayed = synth.render(generated.params[:1], SHORT, delays=np.array([7]))
    np.testing.assert_array_equal(delayed[0, :, :7], 0)
    np.testing.assert_allclose(delayed[0, :, 7:], audio[0, :, :-7], atol=1e-6)
    # variations: 0 unchanged, the others in range
    values = synth.schema.learnable(generated.params)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(synth.vary(values, 0, rng), values)
    for variation in range(1, synth.n_variations):
        varied = synth.vary(values, variation, rng)
        assert varied.shape == values.shape and (varied < synth.schema.cardinalities).all()
    with pytest.raises(ValueError):
        synth.vary(values, synth.n_variations, rng)
    assert synth.version()


@pytest.mark.parametrize("name", sorted(SYNTHS))
def test_a_synth_that_says_it_takes_presets_over_midi_sends_and_reads_them_back(name):
    synth = get_synth(name)
    preset = synth.generate(1, seed=2).params[0]
    if not synth.midi_presets:
        with pytest.raises(NotImplementedError, match="takes no preset over MIDI"):
            synth.preset_message(preset)
        return
    message = synth.preset_message(preset)
    assert message[0] == 0xF0 and message[-1] == 0xF7
    np.testing.assert_array_equal(synth.read_preset_message(message), preset)
    with pytest.raises(ValueError):
        synth.read_preset_message(bytes([0xF0, 0x7E, 0x00, 0x09, 0xF7]))


@pytest.mark.parametrize("name", sorted(SYNTHS))
def test_a_file_a_synth_cannot_read_is_one_line_naming_it(name, tmp_path):
    synth = get_synth(name)
    bad = tmp_path / f"broken{synth.preset_suffixes[0]}"
    bad.write_bytes(b"\xf0\x43 nothing a synth reads")
    with pytest.raises(PresetFileError) as caught:
        synth.read_bank(bad)
    assert str(bad) in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(PresetFileError, match="no such file"):
        synth.read_preset(f"{tmp_path / 'missing'}:0")


def _code_names(path: Path) -> list[str]:
    """Identifiers, imported module names and string constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.append(node.id)
        elif isinstance(node, ast.Attribute):
            found.append(node.attr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found += [alias.name for alias in node.names] + ([node.module] if getattr(node, "module", None) else [])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append(node.value)
    return found


def test_no_synth_is_named_outside_its_package():
    """Data, model, training, interpolation, evaluation, sweeps and the command line reach synths
    through the registry only: none of their code (docstrings aside) names the DX7, Dexed, sysex
    or the pluck synth."""
    words = ("dx7", "dexed", "sysex", "syx_", "pluck")
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(PACKAGE / "synth"):
            continue
        for name in _code_names(path):
            if any(word in name.lower() for word in words):
                offenders.append(f"{path.relative_to(PACKAGE)}: {name!r}")
    assert not offenders, offenders
