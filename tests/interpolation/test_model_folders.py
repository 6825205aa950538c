"""Model folders through the commands: ``spinvae export`` writes one that ``interpolate --ckpt FOLDER``
and ``evaluate --ckpt shipped`` use, and ``interpolate`` without ``--ckpt`` morphs with the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import spinvae.pretrained
from spinvae.cli.main import main
from spinvae.model.weights import CONFIG, read_model_files
from spinvae.synth.dx7.schema import DX7_SCHEMA
from spinvae.synth.dx7.sysex import read_sysex

ROOT = Path(__file__).resolve().parents[2]
#: an in-repo bank of real DX7 voices (datasets/banks/dexed_cart, CC0)
BANK = sorted((ROOT / "datasets" / "banks" / "dexed_cart").rglob("*.syx"))[0]


def morph(tmp_path, name: str, *options: str) -> np.ndarray:
    """The learnable values of the bank ``spinvae interpolate`` writes between voices 3 and 7 of :data:`BANK`."""
    out = tmp_path / name
    assert main(["interpolate", "--start", f"{BANK}:3", "--end", f"{BANK}:7", "--out", str(out), *options]) == 0
    return DX7_SCHEMA.learnable(read_sysex(out / "interpolation.syx").params)


def test_export_writes_a_folder_that_interpolate_uses_as_the_checkpoint(tiny_checkpoint, tmp_path, capsys):
    folder = tmp_path / "published"
    assert main(["export", "--ckpt", tiny_checkpoint, "--out", str(folder), "--name", "tiny", "--dtype",
                 "float32"]) == 0
    description = json.loads((folder / CONFIG).read_text())
    printed = capsys.readouterr().out
    assert description["name"] == "tiny" and description["synth"] == "dx7" and description["dtype"] == "float32"
    assert str(folder) in printed and f"sha256 {description['sha256']}" in printed
    as_decoded = ["--steps", "4", "--refine-steps", "0", "--anchor", "false"]
    from_folder = morph(tmp_path, "folder", "--ckpt", str(folder), *as_decoded)
    from_checkpoint = morph(tmp_path, "checkpoint", "--ckpt", tiny_checkpoint, *as_decoded)
    np.testing.assert_array_equal(from_folder[:4], from_checkpoint[:4])  # float32: the checkpoint's own weights


def test_evaluate_ckpt_shipped_takes_the_shipped_model_of_the_datasets_synth(tiny_checkpoint, tiny_dataset, tmp_path,
                                                                            monkeypatch):
    shipped = tmp_path / "pretrained"
    assert main(["export", "--ckpt", tiny_checkpoint, "--out", str(shipped / "dx7")]) == 0
    monkeypatch.setattr(spinvae.pretrained, "SHIPPED_DIR", shipped)
    out = tmp_path / "evaluation"
    assert main(["evaluate", "--data", str(tiny_dataset), "--out", str(out), "--ckpt", "shipped", "--max-pairs", "1",
                 "--steps", "3", "--progress", "false"]) == 0
    sha = read_model_files(shipped / "dx7").sha256[:16]
    assert json.loads((out / "evaluation.json").read_text())["checkpoints"] == {"shipped": f"shipped (sha256 {sha})"}
    assert set(pd.read_csv(out / "trajectories.csv")["method"]) == {"reference", "shipped"}
    # another model shipped under the same name: its blocks are not mixed with the first one's
    assert main(["export", "--ckpt", tiny_checkpoint, "--out", str(shipped / "dx7"), "--dtype", "float32"]) == 0
    assert main(["evaluate", "--data", str(tiny_dataset), "--out", str(out), "--ckpt", "shipped", "--max-pairs", "1",
                 "--steps", "3", "--progress", "false"]) == 2


def test_interpolate_without_ckpt_morphs_with_the_shipped_model_between_the_exact_presets(tmp_path):
    if not (spinvae.pretrained.SHIPPED_DIR / "dx7" / CONFIG).is_file():
        pytest.skip("no shipped DX7 model in spinvae/pretrained/dx7/ (model.json absent) in this checkout")
    values = morph(tmp_path, "shipped", "--steps", "5")
    voices = read_sysex(BANK).params
    np.testing.assert_array_equal(values[0], DX7_SCHEMA.learnable(DX7_SCHEMA.canonical(voices[3])))
    np.testing.assert_array_equal(values[4], DX7_SCHEMA.learnable(DX7_SCHEMA.canonical(voices[7])))
