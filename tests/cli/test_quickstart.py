"""``spinvae quickstart``: the main job end to end on a few procedural presets, and its resumption."""

from __future__ import annotations

from pathlib import Path

from spinvae.cli.main import main
from spinvae.presets.sysex import read_sysex

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
    assert "| model    | 56:75" in printed  # the result table
    html = (report / "report.html").read_text()
    assert "data:audio/wav;base64," in html and "data:image/png;base64," in html
    bank = read_sysex(report / "interpolation" / "interpolation.syx")
    assert len(bank.params) == 32
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
