"""Morphs written for people: a bank that dexed-py reloads and plays, WAVs, a picture; the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from dexed import DexedSynth, Patch

from spinvae.cli.main import main
from spinvae.interpolation.export import write_sequence
from spinvae.interpolation.paths import parameter_path
from spinvae.synth.dx7.schema import DX7_SCHEMA, voice_name
from spinvae.synth.dx7.generator import generate_presets
from spinvae.synth.dx7.sysex import bank_sysex, read_sysex, single_voice_sysex
from spinvae.synth.base import RenderSettings

SHORT = RenderSettings(note_duration=0.5, duration=0.75)


def test_the_bank_reloads_in_dexed_and_every_step_plays(tmp_path):
    presets, _ = generate_presets(2, seed=5)
    path = parameter_path(*DX7_SCHEMA.learnable(presets), 9, DX7_SCHEMA)
    files = write_sequence(tmp_path, path, SHORT)
    assert [f.name for f in files] == ["interpolation.syx"] + [f"step_{i:02d}.wav" for i in range(1, 10)] + [
        "spectrograms.png"]
    bank = read_sysex(tmp_path / "interpolation.syx").params
    assert len(bank) == 32
    assert np.array_equal(DX7_SCHEMA.learnable(bank[:9]), path)
    assert [voice_name(v) for v in bank[:3]] == ["MORPH 1   ", "MORPH 2   ", "MORPH 3   "]
    synth = DexedSynth(16000)
    for voice in bank[:9]:
        synth.load_patch(Patch.from_sysex(single_voice_sysex(voice)[6:161]))
        audio = synth.render(56, 75, 0.5, 0.75)
        assert np.sqrt(np.mean(audio**2)) > 1e-3
    audio, rate = soundfile.read(tmp_path / "step_05.wav")
    assert rate == 16000 and len(audio) == 12000
    assert (tmp_path / "spectrograms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_sequence_longer_than_a_bank_is_refused(tmp_path):
    with pytest.raises(ValueError, match="bank holds 32 presets"):
        write_sequence(tmp_path, np.zeros((33, 144), np.uint8))


def test_interpolate_cli_reference_method_between_bank_voices(tmp_path, capsys):
    presets, _ = generate_presets(4, seed=6)
    bank = tmp_path / "mine.syx"
    bank.write_bytes(bank_sysex(presets))
    assert main(["interpolate", "--method", "reference", "--start", f"{bank}:0", "--end", f"{bank}:3",
                 "--steps", "5", "--out", str(tmp_path / "morph")]) == 0
    out = read_sysex(tmp_path / "morph" / "interpolation.syx").params
    assert np.array_equal(DX7_SCHEMA.learnable(out[0]), DX7_SCHEMA.learnable(DX7_SCHEMA.canonical(presets[0])))
    assert np.array_equal(DX7_SCHEMA.learnable(out[4]), DX7_SCHEMA.learnable(DX7_SCHEMA.canonical(presets[3])))
    assert len(list((tmp_path / "morph").glob("step_*.wav"))) == 5
    assert main(["interpolate", "--method", "reference", "--start", f"{bank}:40", "--end", f"{bank}:3",
                 "--out", str(tmp_path / "x")]) == 2
    assert "mine.syx" in capsys.readouterr().err


def test_model_interpolation_and_edit_from_dataset_uids(tmp_path, tiny_dataset, tiny_checkpoint, capsys):
    import pandas as pd

    uids = pd.read_parquet(tiny_dataset / "presets.parquet")["uid"].tolist()
    assert main(["interpolate", "--ckpt", tiny_checkpoint, "--data", str(tiny_dataset), "--start", uids[0],
                 "--end", uids[1], "--steps", "4", "--out", str(tmp_path / "morph")]) == 0
    bank = read_sysex(tmp_path / "morph" / "interpolation.syx").params
    assert (DX7_SCHEMA.learnable(bank[:4]) < DX7_SCHEMA.cardinalities).all()
    printed = capsys.readouterr().out
    assert "ends: start " in printed and "latent codes refined" in printed  # refined by default, and says how exact
    presets = pd.read_parquet(tiny_dataset / "presets.parquet").set_index("uid")
    start = presets.loc[uids[0], list(DX7_SCHEMA.learnable_names)].to_numpy(dtype=np.uint8)
    end = presets.loc[uids[1], list(DX7_SCHEMA.learnable_names)].to_numpy(dtype=np.uint8)
    np.testing.assert_array_equal(DX7_SCHEMA.learnable(bank[0]), start)  # anchored by default: both ends exact
    np.testing.assert_array_equal(DX7_SCHEMA.learnable(bank[3]), end)
    assert "bend over parameter interpolation: the decoded path moved onto the two presets" in printed
    assert main(["interpolate", "--ckpt", tiny_checkpoint, "--data", str(tiny_dataset), "--start", uids[0],
                 "--end", uids[1], "--steps", "4", "--refine-steps", "0", "--anchor", "false",
                 "--out", str(tmp_path / "plain")]) == 0
    printed = capsys.readouterr().out
    assert "encoder means, not refined" in printed and "anchored" not in printed
    # as decoded: the printed exactness is the bank's (an "exact" start is the preset itself)
    bank = read_sysex(tmp_path / "plain" / "interpolation.syx").params
    assert ("start exact" in printed) == bool(np.array_equal(DX7_SCHEMA.learnable(bank[0]), start))
    assert main(["interpolate", "--ckpt", tiny_checkpoint, "--data", str(tiny_dataset), "--start", uids[0],
                 "--end", uids[1], "--refine-steps", "-3", "--out", str(tmp_path / "bad")]) == 2
    assert "--refine-steps -3" in capsys.readouterr().err
    assert main(["edit", "--ckpt", tiny_checkpoint, "--data", str(tiny_dataset), "--preset", uids[2],
                 "--attribute", "ac_brightness", "--steps", "3", "--out", str(tmp_path / "edit")]) == 0
    table = pd.read_csv(tmp_path / "edit" / "attribute.csv")
    assert table["latent_offset"].tolist() == [-2.0, 0.0, 2.0] and table["ac_brightness"].notna().all()
    printed = capsys.readouterr().out
    assert "ends: the knob's centre " in printed and "anchored: every step moved" in printed
    preset = presets.loc[uids[2], list(DX7_SCHEMA.learnable_names)].to_numpy(dtype=np.uint8)
    knob = DX7_SCHEMA.learnable(read_sysex(tmp_path / "edit" / "interpolation.syx").params[:3])
    np.testing.assert_array_equal(knob[1], preset)  # anchored by default: the knob's centre is the preset
    assert main(["edit", "--ckpt", tiny_checkpoint, "--data", str(tiny_dataset), "--preset", uids[2],
                 "--attribute", "ac_brightness", "--steps", "3", "--refine-steps", "0", "--anchor", "false",
                 "--out", str(tmp_path / "edit_plain")]) == 0
    printed = capsys.readouterr().out
    assert "encoder means, not refined" in printed and "anchored" not in printed
    plain = DX7_SCHEMA.learnable(read_sysex(tmp_path / "edit_plain" / "interpolation.syx").params[:3])
    assert ("the knob's centre exact" in printed) == bool(np.array_equal(plain[1], preset))
    assert main(["edit", "--ckpt", tiny_checkpoint, "--data", str(tiny_dataset), "--preset", uids[2],
                 "--attribute", "tt_LAT", "--out", str(tmp_path / "x")]) == 2
    assert "not regularised by this model" in capsys.readouterr().err
