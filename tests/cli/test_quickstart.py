"""``spinvae quickstart``: the main job end to end on small stand-ins, and its resumption.

The shipped model is a stand-in (``spinvae/pretrained`` pointed at a folder exported from the tiny
checkpoint of tests/conftest.py), and so are the recipes: a few in-repo banks, rendered as the tiny model's
dataset was (1-s notes, 64 x 63 spectrograms).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from spinvae.cli.main import main
from spinvae.data.build import split_fingerprints
from spinvae.synth.dx7.schema import DX7_SCHEMA
from spinvae.synth.dx7.sysex import read_sysex

ROOT = Path(__file__).resolve().parents[2]
BANKS = ROOT / "datasets" / "banks" / "dexed_cart"
#: the tiny model's render and analysis settings (tests/conftest.py, tiny_dataset)
TINY_SETTINGS = {"seed": 0, "notes": ["56:75"], "note_duration": 0.75, "duration": 1.0, "n_mels": 64, "n_fft": 512,
                 "hop_length": 256, "progress": False}


@pytest.fixture
def ship(tmp_path, monkeypatch, tiny_checkpoint):
    """``ship(split_sha256)`` exports the tiny model as the shipped DX7 model, saying its training splits had
    these fingerprints; ``spinvae/pretrained`` is a folder of the test's own."""
    from spinvae.interpolation.model import export_checkpoint

    shipped = tmp_path / "pretrained"
    shipped.mkdir()
    monkeypatch.setattr("spinvae.pretrained.SHIPPED_DIR", shipped)

    def export(split_sha256: dict[str, str]) -> Path:
        data = {"recipe": "stand-in.yaml", "source": "three in-repo banks", "licence": "CC0-1.0",
                "splits": {"train": 0, "valid": 0, "test": 0}, "split_sha256": split_sha256}
        return export_checkpoint(tiny_checkpoint, shipped / "dx7", name="dx7", facts={"data": data}).folder

    return export


def stand_in_recipe(path: Path, **settings) -> Path:
    path.write_text(yaml.safe_dump(TINY_SETTINGS | settings))
    return path


def test_the_shipped_model_is_evaluated_on_its_held_out_test_split_and_another_split_is_refused(
        tmp_path, monkeypatch, capsys, ship, tiny_dataset):
    monkeypatch.chdir(tmp_path)
    banks = [str(BANKS / "Toby" / "Tobys1.syx"), str(BANKS / "Toby" / "Tobys2.syx"), str(BANKS / "ChiNoMaki")]
    recipe = stand_in_recipe(tmp_path / "stand_in.yaml", out="datasets/stand_in", presets=banks, features=False)
    args = ["quickstart", "--data-config", str(recipe), "--max-pairs", "2", "--refine-steps", "10"]
    data = tmp_path / "datasets" / "stand_in"

    ship(split_fingerprints(tiny_dataset))  # a model that held out another split
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("spinvae: error: datasets/stand_in: its test split (sha256 ") and "\n" not in err
    assert "is not the one shipped:dx7 held out from its training" in err

    folder = ship(split_fingerprints(data))
    assert main(args) == 0
    printed = capsys.readouterr().out
    report = tmp_path / "evaluation" / "reports" / "shipped"
    assert "already built, nothing to do" in printed  # the build of the refused run is the one evaluated
    for path in (data, report / "report.html", report / "summary.json"):
        assert f"{path.relative_to(tmp_path)}" in printed
    assert f"model: {folder.relative_to(tmp_path)}" in printed
    assert re.search(r"\| shipped\+refined\+bend +\| 56:75", printed)  # the table
    summary = json.loads((report / "summary.json").read_text())
    assert set(summary["notes"]["56:75"]) == {"reference", "shipped", "shipped+refined", "shipped+bend",
                                              "shipped+refined+bend"}
    assert summary["evaluation"]["n_sequences"] == 2 and summary["latent"] == {}  # no features, no latent report
    assert summary["context"].startswith("Held out: these pairs come from the test split of `datasets/stand_in`, "
                                         "which `shipped:dx7` never trained on")
    assert html.escape(summary["context"]) in (report / "report.html").read_text()
    bank = read_sysex(report / "interpolation" / "interpolation.syx")
    test = pd.read_parquet(data / "presets.parquet").query("split == 'test'").head(2)
    ends = test[list(DX7_SCHEMA.learnable_names)].to_numpy(dtype=np.uint8)
    np.testing.assert_array_equal(DX7_SCHEMA.learnable(bank.params[[0, 8]]), ends)  # anchored: both ends exact


def test_your_presets_fine_tune_the_shipped_model_and_a_broken_file_is_skipped(tmp_path, monkeypatch, capsys, ship):
    from spinvae.interpolation.model import load_model
    from spinvae.model.weights import read_model_files
    from spinvae.synth.dx7.generator import generate_presets
    from spinvae.synth.dx7.sysex import bank_sysex

    cartridges = tmp_path / "my_cartridges"
    cartridges.mkdir()
    for i in range(2):
        (cartridges / f"bank{i}.syx").write_bytes(bank_sysex(generate_presets(32, seed=10 + i)[0]))
    (cartridges / "broken.syx").write_bytes(b"\xf0\x43\x00\x09 not a bank")
    recipe = stand_in_recipe(tmp_path / "stand_in.yaml", out="datasets/unused")
    folder = ship({})  # what it held out is not asked: the fine-tuning holds out your test split
    hparams, shipped = read_model_files(folder).hparams, load_model(folder)
    finetune = tmp_path / "finetune.yaml"  # the shipped model's architecture, one epoch from its weights
    finetune.write_text(yaml.safe_dump({
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "max_epochs": 1, "enable_progress_bar": False, "log_every_n_steps": 1,
                    "logger": {"class_path": "lightning.pytorch.loggers.TensorBoardLogger",
                               "init_args": {"save_dir": "runs"}}},
        "model": {"vae": hparams["vae"], "loss": hparams["loss"], "init_checkpoint": "shipped:dx7"},
        "data": {"data_dir": "unused", "batch_size": 16}}))
    monkeypatch.chdir(tmp_path)
    assert main(["quickstart", "--files", str(cartridges), "--data-config", str(recipe), "--train-config",
                 str(finetune), "--max-pairs", "1", "--refine-steps", "5"]) == 0
    printed = capsys.readouterr().out
    assert f"skipped {cartridges / 'broken.syx'}: truncated 32-voice dump" in printed  # one line, and the job goes on
    manifest = json.loads((tmp_path / "datasets" / "files" / "manifest.json").read_text())  # folders named for --files
    assert [(Path(s["path"]).name, s["n_voices"]) for s in manifest["sources"]] == [
        ("bank0.syx", 32), ("bank1.syx", 32), ("broken.syx", 0)]  # and no procedural presets
    assert manifest["features"]["attributes"]["kept"] == list(shipped.attribute_names)
    checkpoint = tmp_path / "experiments" / "runs" / "files" / "finetune" / "checkpoints" / "last.ckpt"
    assert f"checkpoint: {checkpoint.relative_to(tmp_path)}" in printed
    summary = json.loads((tmp_path / "evaluation" / "reports" / "files" / "summary.json").read_text())
    assert set(summary["notes"]["56:75"]) == {"reference"} | {f"{model}{variant}" for model in ("shipped", "finetuned")
                                                              for variant in ("", "+refined", "+bend",
                                                                              "+refined+bend")}
    recorded = summary["evaluation"]["checkpoints"]  # a model folder is recorded with its weights' sha256
    assert recorded["finetuned"] == str(checkpoint.relative_to(tmp_path))
    assert recorded["shipped"] == f"shipped:dx7 (sha256 {read_model_files(folder).sha256[:16]})"
    assert read_sysex(tmp_path / "evaluation/reports/files/interpolation/interpolation.syx").params.shape[0] == 32


def test_too_few_presets_for_a_test_pair_is_one_line(tmp_path, monkeypatch, capsys, ship):
    from spinvae.synth.dx7.generator import generate_presets
    from spinvae.synth.dx7.sysex import bank_sysex

    ship({})
    (tmp_path / "few.syx").write_bytes(bank_sysex(generate_presets(10, seed=3)[0]))  # and INIT VOICE: 11 presets
    recipe = stand_in_recipe(tmp_path / "stand_in.yaml", out="datasets/unused")
    monkeypatch.chdir(tmp_path)
    assert main(["quickstart", "--files", "few.syx", "--data-config", str(recipe),
                 "--train-config", str(ROOT / "experiments/finetune_dx7.yaml")]) == 2
    assert capsys.readouterr().err.strip() == ("spinvae: error: datasets/files: 11 presets, 1 in the test split: too "
                                                "few for one test pair (give about 20 presets or more)")


def test_from_scratch_writes_model_report_and_bank_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["quickstart", "--from-scratch", "--presets", "40", "--epochs", "1",
            "--data-config", str(ROOT / "datasets/quickstart.yaml"),
            "--train-config", str(ROOT / "experiments/quickstart.yaml")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    report = tmp_path / "evaluation" / "reports" / "quickstart"
    checkpoint = tmp_path / "experiments" / "runs" / "quickstart" / "run" / "checkpoints" / "last.ckpt"
    for path in (checkpoint, report / "report.html", report / "summary.json"):
        assert path.is_file() and f"{path.relative_to(tmp_path)}" in printed
    assert re.search(r"\| model +\| 56:75", printed) and re.search(r"\| model\+refined +\| 56:75", printed)  # the table
    # the model with refined ends is its own method beside the reference protocol's
    summary = json.loads((report / "summary.json").read_text())
    assert set(summary["notes"]["56:75"]) == {"reference", "model", "model+refined", "model+bend",
                                              "model+refined+bend"}
    assert summary["refinement"]["model+refined"]["n_presets"] > 0
    page = (report / "report.html").read_text()
    assert "data:audio/wav;base64," in page and "data:image/png;base64," in page
    bank = read_sysex(report / "interpolation" / "interpolation.syx")
    assert len(bank.params) == 32
    test = pd.read_parquet(tmp_path / "datasets" / "quickstart" / "presets.parquet").query("split == 'test'").head(2)
    ends = test[list(DX7_SCHEMA.learnable_names)].to_numpy(dtype=np.uint8)
    np.testing.assert_array_equal(DX7_SCHEMA.learnable(bank.params[[0, 8]]), ends)  # anchored: both ends exact
    assert len(list((report / "interpolation").glob("step_*.wav"))) == 9

    # a second run finds everything done: the build is left alone, training returns at once
    stamp = checkpoint.stat().st_mtime_ns
    assert main(args) == 0
    assert "already built, nothing to do" in capsys.readouterr().out
    assert checkpoint.stat().st_mtime_ns == stamp


def test_quickstart_names_a_missing_recipe_and_trains_from_scratch_without_a_shipped_model(
        tmp_path, monkeypatch, capsys, ship):
    monkeypatch.chdir(tmp_path)
    ship({})
    assert main(["quickstart"]) == 2  # the recipe the shipped model records, not found from this folder
    assert capsys.readouterr().err.strip() == (
        "spinvae: error: stand-in.yaml: no such recipe (run from the root of a spinvae checkout, or give its path)")
    assert main(["quickstart", "--epochs", "3"]) == 2  # the shipped model is not trained without --files
    assert capsys.readouterr().err.strip() == (
        "spinvae: error: --epochs, --presets and --train-config train a model: give --from-scratch, or --files to "
        "fine-tune the shipped model on your presets")
    monkeypatch.setattr("spinvae.pretrained.SHIPPED_DIR", tmp_path)  # an installation without a shipped model
    assert main(["quickstart"]) == 2
    captured = capsys.readouterr()
    assert "spinvae ships no dx7 model in this installation: training one from scratch" in captured.out
    assert captured.err.strip() == ("spinvae: error: datasets/quickstart.yaml: no such recipe (run from the root of a "
                                    "spinvae checkout, or give its path)")
