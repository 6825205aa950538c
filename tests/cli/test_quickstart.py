"""``spinvae quickstart``: the main job end to end on a few procedural presets, and its resumption."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from spinvae.cli.main import main
from spinvae.synth.dx7.schema import DX7_SCHEMA
from spinvae.synth.dx7.sysex import read_sysex

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_writes_model_report_and_bank_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["quickstart", "--presets", "40", "--epochs", "1", "--data-config", str(ROOT / "datasets/quickstart.yaml"),
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
    assert set(summary["notes"]["56:75"]) == {"reference", "model", "model+refined", "model+anchored",
                                              "model+refined+anchored"}
    assert summary["refinement"]["model+refined"]["n_presets"] > 0
    html = (report / "report.html").read_text()
    assert "data:audio/wav;base64," in html and "data:image/png;base64," in html
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


def test_quickstart_names_a_missing_recipe(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["quickstart"]) == 2
    assert capsys.readouterr().err.strip() == (
        "spinvae: error: datasets/quickstart.yaml: no such recipe (run from the root of a spinvae checkout, "
        "or give its path)")


def test_quickstart_on_your_own_cartridges_skips_a_broken_file(tmp_path, monkeypatch, capsys):
    from spinvae.synth.dx7.generator import generate_presets
    from spinvae.synth.dx7.sysex import bank_sysex

    cartridges = tmp_path / "my_cartridges"
    cartridges.mkdir()
    for i in range(2):
        (cartridges / f"bank{i}.syx").write_bytes(bank_sysex(generate_presets(32, seed=10 + i)[0]))
    (cartridges / "broken.syx").write_bytes(b"\xf0\x43\x00\x09 not a bank")
    monkeypatch.chdir(tmp_path)
    assert main(["quickstart", "--files", str(cartridges), "--epochs", "1", "--max-pairs", "1",
                 "--data-config", str(ROOT / "datasets/quickstart.yaml"),
                 "--train-config", str(ROOT / "experiments/quickstart.yaml")]) == 0
    printed = capsys.readouterr().out
    broken = str(cartridges / "broken.syx")
    assert f"skipped {broken}: truncated 32-voice dump" in printed  # one line, and the job goes on
    manifest = json.loads((tmp_path / "datasets" / "files" / "manifest.json").read_text())  # folders named for --files
    assert [(Path(s["path"]).name, s["n_voices"]) for s in manifest["sources"]] == [
        ("bank0.syx", 32), ("bank1.syx", 32), ("broken.syx", 0)]  # and no procedural presets
    assert read_sysex(tmp_path / "evaluation/reports/files/interpolation/interpolation.syx").params.shape[0] == 32
