"""Real sweeps of the tiny smoke model on the tiny dataset, in SQLite studies: failures, resumption,
dead workers, pruning, and the quick interpolation objective."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from spinvae.cli.main import main
from spinvae.sweeps.config import load_sweep
from spinvae.sweeps.study import is_counted, make_storage, open_study, run_sweep
from spinvae.sweeps.trial import CONFIG_ATTR, FAIL_REASON_ATTR, TRIAL_CONFIG

from tests.sweeps.conftest import load, sqlite_url, write_sweep


def test_a_trial_with_an_impossible_config_fails_with_its_reason_and_the_study_goes_on(mixed_study):
    trials = load(mixed_study).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert [t.params["model.vae.n_heads"] for t in trials] == [2, 3, 2]
    reason = trials[1].user_attrs[FAIL_REASON_ATTR]
    assert reason.startswith("AssertionError: embed_dim must be divisible by num_heads") and "\n" not in reason
    for trial in (trials[0], trials[2]):
        assert FAIL_REASON_ATTR not in trial.user_attrs and math.isfinite(trial.value)
    # every trial keeps its resolved config, the failed one too; its run folder holds it
    assert yaml.safe_load(trials[1].user_attrs[CONFIG_ATTR])["model"]["vae"]["n_heads"] == 3
    run = Path(trials[0].user_attrs["trial_dir"])
    assert run == mixed_study["folder"] / "runs" / "mixed" / "trial_0"
    saved = yaml.safe_load((run / TRIAL_CONFIG).read_text())
    assert saved["checkpoint"]["dirpath"] == str(run / "checkpoints") and (run / "checkpoints" / "last.ckpt").is_file()
    assert saved["model"]["loss"]["beta"] == trials[0].params["model.loss.beta"]


def test_a_diverging_trial_fails_at_its_first_nan_validation(tmp_path, tiny_dataset):
    huge = 1e30  # learning rates that blow the weights up in the first steps
    path = write_sweep(tmp_path, tiny_dataset, overrides={
        "trainer.max_epochs": 2, "model.optimizer.lr_audio": huge, "model.optimizer.lr_preset": huge,
        "model.optimizer.lr_latent": huge})
    (trial,) = run_sweep(load_sweep(path), sqlite_url(tmp_path), "nan", n_trials=1).trials
    assert trial.state == TrialState.FAIL and trial.values is None
    assert re.fullmatch(r"TrialFailure: val/loss is (nan|inf) after epoch 0", trial.user_attrs[FAIL_REASON_ATTR])
    assert is_counted(trial)


def test_a_rerun_resumes_the_study_up_to_its_total_of_trials(tmp_path, tiny_dataset):
    sweep = load_sweep(write_sweep(tmp_path, tiny_dataset))
    storage = sqlite_url(tmp_path)
    first = run_sweep(sweep, storage, "resume", n_trials=2).trials
    assert [t.state for t in first] == [TrialState.COMPLETE] * 2
    run_sweep(sweep, storage, "resume", n_trials=3)
    run_sweep(sweep, storage, "resume", n_trials=3)  # nothing left to do
    trials = optuna.load_study(study_name="resume", storage=storage).trials
    assert [t.number for t in trials] == [0, 1, 2] and all(t.state == TrialState.COMPLETE for t in trials)
    for before, after in zip(first, trials):
        assert (after.params, after.values, after.datetime_complete) == (before.params, before.values,
                                                                         before.datetime_complete)


def test_a_trial_left_running_by_a_dead_worker_is_retried_and_not_counted(tmp_path, tiny_dataset):
    sweep = load_sweep(write_sweep(tmp_path, tiny_dataset, heartbeat={"interval": 1, "grace_period": 2}))
    storage = sqlite_url(tmp_path)
    study = open_study(sweep, storage, "dead")
    # a worker that started a trial, sent one heartbeat, and was killed
    orphan = study.ask({"model.loss.beta": FloatDistribution(1e-4, 1e-2, log=True)})
    make_storage(storage).record_heartbeat(orphan._trial_id)
    run_sweep(sweep, storage, "dead", n_trials=1)  # waits for the grace period, then retries it
    trials = load({"name": "dead", "storage": storage}).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert not is_counted(trials[0]) and FAIL_REASON_ATTR not in trials[0].user_attrs
    assert trials[1].system_attrs["failed_trial"] == 0
    assert trials[1].params["model.loss.beta"] == orphan.params["model.loss.beta"]


def test_a_bad_trial_is_pruned_after_its_first_validation(tmp_path, tiny_dataset):
    path = write_sweep(tmp_path, tiny_dataset, overrides={"trainer.max_epochs": 2},
                       search_space={"model.loss.categorical_weight": {"type": "float", "low": 0.5, "high": 1000.0}},
                       pruner={"type": "median", "n_startup_trials": 1, "n_warmup_steps": 0})
    sweep, storage = load_sweep(path), sqlite_url(tmp_path)
    study = open_study(sweep, storage, "pruning")
    study.enqueue_trial({"model.loss.categorical_weight": 0.5})
    study.enqueue_trial({"model.loss.categorical_weight": 1000.0})  # a validation loss hundreds of times larger
    trials = run_sweep(sweep, storage, "pruning", n_trials=2).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.PRUNED]
    assert sorted(trials[0].intermediate_values) == [0, 1] and list(trials[1].intermediate_values) == [0]
    assert trials[0].value == pytest.approx(trials[0].intermediate_values[1], rel=1e-6)
    assert trials[1].intermediate_values[0] > 10 * trials[0].intermediate_values[0]


def test_the_interpolation_objectives_give_two_finite_values(interpolation_study):
    (trial,) = load(interpolation_study).trials
    assert trial.state == TrialState.COMPLETE and len(trial.values) == 2
    assert all(math.isfinite(v) for v in trial.values)
    # the reference was evaluated once for the study, and the trial's evaluation took its blocks
    cached = list((interpolation_study["folder"] / "runs" / "interpolation" / "reference").glob("*/parts/reference_*"))
    evaluated = Path(trial.user_attrs["trial_dir"]) / "evaluation" / "parts" / cached[0].name
    assert len(cached) == 1 and evaluated.read_bytes() == cached[0].read_bytes()
    assert (evaluated.parent / "model_000000.npz").is_file()
    # the second objective is the refined-then-anchored path's, evaluated with the sweep's refinement settings
    made = json.loads((evaluated.parents[1] / "evaluation.json").read_text())
    assert made["refine"]["steps"] == 5 and made["refine"]["posterior_weight"] == 0.01 and made["anchor"] is True
    summary = json.loads((evaluated.parents[1] / "summary.json").read_text())
    (scores,) = summary["notes"].values()
    assert trial.values[1] == pytest.approx(scores["model+refined+bend"]["nonlinearity"]["mean_change_pct"])


def test_the_command_names_the_file_and_the_key_of_a_typo(tmp_path, tiny_dataset, capsys):
    typo = {"model.loss.betta": {"type": "float", "low": 0, "high": 1}}
    path = write_sweep(tmp_path, tiny_dataset, search_space=typo)
    assert main(["sweep", "--config", str(path), "--storage", sqlite_url(tmp_path), "--n-trials", "1"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"spinvae: error: {path}: search_space.model.loss.betta: not a key of the training config")
    assert "\n" not in error
    fine = write_sweep(tmp_path, tiny_dataset, name="fine")
    assert main(["sweep", "--config", str(fine), "--n-trials", "0"]) == 2
    assert "give --n-trials N (>= 1)" in capsys.readouterr().err
    assert main(["sweep", "--config", str(fine), "--storage", "nosuchdb://x", "--n-trials", "1"]) == 2
    assert capsys.readouterr().err.startswith("spinvae: error: --storage nosuchdb://x: Can't load plugin")


def test_a_sweep_on_a_dataset_that_is_not_built_stops_at_its_first_trial(tmp_path, capsys):
    missing = tmp_path / "not_built"
    path = write_sweep(tmp_path, missing, name="unbuilt")
    assert main(["sweep", "--config", str(path), "--storage", sqlite_url(tmp_path), "--study-name", "unbuilt",
                 "--n-trials", "3"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == f"spinvae: error: {missing}: no manifest.json; build it first with `spinvae data build --out {missing} ...`"
    trials = optuna.load_study(study_name="unbuilt", storage=sqlite_url(tmp_path)).trials
    assert len(trials) == 1 and trials[0].state == TrialState.FAIL  # not three failed trials


def test_a_study_made_with_other_settings_is_refused_unless_overwritten(tmp_path, tiny_dataset, capsys):
    from spinvae.sweeps.space import SweepConfigError
    from spinvae.sweeps.study import SWEEP_ATTR

    storage = sqlite_url(tmp_path)
    open_study(load_sweep(write_sweep(tmp_path, tiny_dataset, name="first")), storage, "same")
    other = write_sweep(tmp_path, tiny_dataset, name="other", overrides={"trainer.max_epochs": 3})
    with pytest.raises(SweepConfigError, match="study 'same' was made with another overrides; give --overwrite true"):
        open_study(load_sweep(other), storage, "same")
    assert main(["sweep", "--config", str(other), "--storage", storage, "--study-name", "same", "--n-trials", "1"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    open_study(load_sweep(write_sweep(tmp_path, tiny_dataset, name="more", n_trials=9)), storage, "same")  # same trials
    trials_folder = load_sweep(other).study_dir("same")
    (trials_folder / "trial_0").mkdir(parents=True)
    study = open_study(load_sweep(other), storage, "same", overwrite=True)
    assert study.user_attrs[SWEEP_ATTR] == load_sweep(other).text and not trials_folder.exists()
