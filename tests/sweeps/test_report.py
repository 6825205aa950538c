"""``spinvae sweep-report`` on the studies of conftest.py: the table, the plots, and a best config
that ``spinvae fit`` takes."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from spinvae.cli.main import main

from tests.sweeps.conftest import load

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_png(path) -> bool:
    import matplotlib.image

    return path.read_bytes()[:8] == PNG_SIGNATURE and matplotlib.image.imread(path).ndim == 3


def fit_print_config(path, capsys) -> dict:
    """The config ``spinvae fit --config PATH --print_config`` resolves."""
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(path), "--print_config"])
    assert exit_.value.code == 0
    return yaml.safe_load(capsys.readouterr().out)


def test_report_of_a_single_objective_study(mixed_study, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["sweep-report", "--storage", mixed_study["storage"], "--study-name", "mixed", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "best.yaml" in printed and "note:" not in printed

    table = pd.read_csv(out / "trials.csv")
    study = load(mixed_study)
    assert table["number"].tolist() == [t.number for t in study.trials] == [0, 1, 2]
    assert table["state"].tolist() == ["COMPLETE", "FAIL", "COMPLETE"]
    assert {"val/loss", "model.loss.beta", "model.vae.n_heads", "duration_s", "fail_reason"} <= set(table.columns)
    assert table.loc[1, "fail_reason"].startswith("AssertionError: embed_dim must be divisible") and table["val/loss"].notna().sum() == 2
    for name in ("history.png", "importance.png"):
        assert is_png(out / name), name

    best = study.best_trial
    config = fit_print_config(out / "best.yaml", capsys)
    assert config["model"]["loss"]["beta"] == pytest.approx(best.params["model.loss.beta"])
    assert config["model"]["vae"]["encoder_layers"] == best.params["model.vae.encoder_layers"]
    assert config["model"]["vae"]["fusion"] == best.params["model.vae.fusion"]
    assert config["trainer"]["max_epochs"] == 1 and config["checkpoint"]["dirpath"] is None  # not the trial's folder
    assert f"trial {best.number}" in (out / "best.yaml").read_text().splitlines()[0]


def test_report_of_a_multi_objective_study_with_one_trial(interpolation_study, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["sweep-report", "--storage", interpolation_study["storage"], "--study-name", "interpolation",
                 "--out", str(out)]) == 0
    assert "note: parameter importance needs at least 2 complete trials; the study has 1" in capsys.readouterr().out
    assert not (out / "importance.png").exists()
    assert len(pd.read_csv(out / "trials.csv")) == 1
    for name in ("history_interpolation_smoothness_mean_change_pct.png",
                 "history_interpolation_refined_bend_nonlinearity_mean_change_pct.png", "pareto.png"):
        assert is_png(out / name), name
    (trial,) = load(interpolation_study).trials
    pareto = pd.read_csv(out / "pareto.csv")
    assert pareto["number"].tolist() == [0]
    assert pareto.loc[0, "interpolation/smoothness/mean_change_pct"] == pytest.approx(trial.values[0])
    config = fit_print_config(out / "pareto" / "trial_0.yaml", capsys)
    assert config["model"]["loss"]["beta"] == pytest.approx(trial.params["model.loss.beta"])
    def config_lines(path):
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    assert config_lines(out / "best.yaml") == config_lines(out / "pareto" / "trial_0.yaml")  # the same, only trial
    assert "parameter importance needs" in (out / "report.md").read_text()


def test_report_of_an_unknown_study_is_a_clear_error(mixed_study, tmp_path, capsys):
    storage = mixed_study["storage"]
    assert main(["sweep-report", "--storage", storage, "--study-name", "nope", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"spinvae: error: no study 'nope' in {storage} (it has mixed)"
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    assert main(["sweep-report", "--storage", missing, "--study-name", "x", "--out", str(tmp_path)]) == 2
    assert "no such SQLite file" in capsys.readouterr().err and not (tmp_path / "missing.db").exists()
