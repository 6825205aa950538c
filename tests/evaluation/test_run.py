"""An interpolation evaluation end to end on a tiny dataset: outputs, invariants, resumption."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from spinvae.cli.main import main
from spinvae.evaluation.report import write_results
from spinvae.evaluation.run import EvaluationConfig, evaluation_pairs, run_evaluation


def test_pairs_are_consecutive_presets_of_the_split(tiny_dataset):
    pairs = evaluation_pairs(tiny_dataset, "test")
    table = pd.read_parquet(tiny_dataset / "presets.parquet")
    uids = table.loc[table["split"] == "test", "uid"].tolist()
    assert pairs["start_uid"].tolist() == uids[0 : 2 * len(pairs) : 2]
    assert pairs["end_uid"].tolist() == uids[1 : 2 * len(pairs) : 2]
    assert len(evaluation_pairs(tiny_dataset, "test", max_pairs=2)) == 2


def test_evaluation_outputs_and_reference_ends(tmp_path, tiny_dataset, tiny_checkpoint):
    out = tmp_path / "eval"
    config = EvaluationConfig(data=str(tiny_dataset), out=str(out), checkpoints={"tiny": tiny_checkpoint}, block=2)
    run_evaluation(config, progress=False)
    summary = write_results(out)
    trajectories = pd.read_csv(out / "trajectories.csv")
    attributes = json.loads((out / "evaluation.json").read_text())["attributes"]
    assert list(trajectories.columns) == ["sequence", "method", "note", "step", *attributes]
    n = len(evaluation_pairs(tiny_dataset, "test"))
    assert len(trajectories) == n * 9 * 2
    # the reference's ends are the presets themselves: their attributes are the dataset's
    table = pd.read_parquet(tiny_dataset / "presets.parquet").set_index("uid")
    pairs = evaluation_pairs(tiny_dataset, "test")
    reference = trajectories[trajectories["method"] == "reference"].set_index(["sequence", "step"])
    stored = table.loc[pairs["start_uid"], [f"attr_{a}" for a in attributes]].to_numpy()
    np.testing.assert_allclose(reference.loc[[(s, 0) for s in pairs["sequence"]], attributes].to_numpy(), stored,
                               atol=1e-4)
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics["method"]) == {"reference", "tiny"} and len(metrics) == n * 2 * len(attributes)
    tiny = summary["notes"]["56:75"]["tiny"]
    for metric in ("smoothness", "nonlinearity"):
        assert tiny[metric]["n_features"] == len(attributes)
        assert 0 <= tiny[metric]["improved_features"] + tiny[metric]["worse_features"] <= len(attributes)
    assert 0 <= summary["endpoints"]["tiny"]["categorical_accuracy"] <= 1
    report = (out / "report.md").read_text()
    assert "| tiny " in report and f"/ {len(attributes)}" in report
    assert "nonlinearity_ends_only_median_change_pct" in report.split("## Sequence ends")[1]
    latent = summary["latent"]["tiny"]
    assert set(latent) == set(attributes) | {"mean"}
    assert -1 <= latent["mean"]["spearman"] <= 1 and 0 <= latent["mean"]["interpretability"] <= 1
    assert "## Latent space" in report
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<table" in page and "tiny" in page
    assert page.count("data:image/png;base64,") == 1 + 3 * 2  # trajectories + a strip per method and example
    assert page.count("<audio") == 3 * 2 * 9 and page.count("data:audio/wav;base64,") == 3 * 2 * 9
    assert "http://" not in page and "https://" not in page and "<script" not in page  # opens from disk


def test_an_interrupted_evaluation_resumes_with_the_same_results(tmp_path, tiny_dataset):
    out = tmp_path / "eval"
    config = EvaluationConfig(data=str(tiny_dataset), out=str(out), block=1)
    run_evaluation(config, progress=False)
    first = pd.read_csv(out / "trajectories.csv")
    parts = sorted((out / "parts").iterdir())
    assert len(parts) == len(evaluation_pairs(tiny_dataset, "test"))
    parts[-1].unlink()  # as if killed before the last block
    kept = parts[0].stat().st_mtime_ns
    run_evaluation(config, progress=False)
    assert parts[0].stat().st_mtime_ns == kept  # finished blocks are not recomputed
    pd.testing.assert_frame_equal(pd.read_csv(out / "trajectories.csv"), first)


def test_a_run_over_more_pairs_reuses_the_whole_blocks_it_shares(tmp_path, tiny_dataset, tiny_checkpoint):
    out, fresh = tmp_path / "eval", tmp_path / "fresh"
    common = dict(data=str(tiny_dataset), checkpoints={"tiny": tiny_checkpoint}, block=2, anchor=True)
    assert len(evaluation_pairs(tiny_dataset, "test")) == 4  # blocks of 2 pairs; 2 and 1 for the first 3
    run_evaluation(EvaluationConfig(out=str(out), max_pairs=3, **common), progress=False)
    shared = {p.name: p.stat().st_mtime_ns for p in (out / "parts").glob("*_000000.npz")}
    assert len(shared) == 3  # reference, tiny, tiny+bend
    run_evaluation(EvaluationConfig(out=str(out), **common), progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "parts").glob("*_000000.npz")} == shared  # not recomputed
    for method in ("reference", "tiny", "tiny+bend"):  # the short last block of 3 pairs was made whole
        assert len(np.load(out / "parts" / f"{method}_000002.npz")["presets"]) == 2
    run_evaluation(EvaluationConfig(out=str(fresh), **common), progress=False)
    pd.testing.assert_frame_equal(pd.read_csv(out / "trajectories.csv"), pd.read_csv(fresh / "trajectories.csv"))
    assert json.loads((out / "evaluation.json").read_text())["n_sequences"] == 4


@pytest.mark.parametrize("change, named", [
    (["--steps", "5"], "steps 9 (now 5)"),
    (["--split", "valid"], "split 'test' (now 'valid')"),
    (["--latent", "spherical"], "latent_method 'linear' (now 'spherical')"),
    (["--notes", "48:100"], "notes [[56, 75]] (now [[48, 100]])"),
])
def test_resuming_into_a_folder_made_with_other_settings_is_refused_unless_overwritten(tmp_path, tiny_dataset, capsys,
                                                                                      change, named):
    out = tmp_path / "eval"
    base = ["evaluate", "--data", str(tiny_dataset), "--out", str(out), "--method", "reference", "--progress", "false"]
    assert main([*base, "--max-pairs", "3"]) == 0
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    changed = [*base, "--max-pairs", "3", *change] if "--max-pairs" not in change else [*base, *change]
    assert main(changed) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"spinvae: error: {out}: holds an evaluation made with {named}; give --overwrite to start it "
                   f"again, or another --out"]
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # untouched, consistent
    assert main([*changed, "--overwrite", "true"]) == 0
    report = (out / "report.md").read_text()
    steps = 5 if "--steps" in change else 9
    trajectories = pd.read_csv(out / "trajectories.csv")
    assert trajectories["step"].max() == steps - 1  # the files agree with each other
    assert json.loads((out / "evaluation.json").read_text())["steps"] == steps and report


def test_cli_needs_a_checkpoint_or_the_reference_method(tmp_path, tiny_dataset, capsys):
    assert main(["evaluate", "--data", str(tiny_dataset), "--out", str(tmp_path)]) == 2
    assert "--method reference" in capsys.readouterr().err
    assert main(["evaluate", "--data", str(tiny_dataset), "--out", str(tmp_path), "--ckpt", "nope.ckpt"]) == 2
    assert "nope.ckpt: no such checkpoint" in capsys.readouterr().err
    assert main(["evaluate", "--data", str(tiny_dataset), "--out", str(tmp_path / "r"), "--method", "reference",
                 "--max-pairs", "2", "--progress", "false"]) == 0
    assert "reference only" in (tmp_path / "r" / "report.md").read_text()


def test_several_notes_give_one_block_of_results_per_note(tmp_path, tiny_dataset):
    out = tmp_path / "eval"
    config = EvaluationConfig(data=str(tiny_dataset), out=str(out), max_pairs=3, notes=((56, 75), (48, 110)))
    run_evaluation(config, progress=False)
    summary = write_results(out)
    trajectories = pd.read_csv(out / "trajectories.csv")
    assert trajectories["note"].value_counts().to_dict() == {"56:75": 3 * 9, "48:110": 3 * 9}
    assert set(summary["notes"]) == {"56:75", "48:110"}
    low = trajectories[trajectories["note"] == "48:110"].drop(columns="note").reset_index(drop=True)
    high = trajectories[trajectories["note"] == "56:75"].drop(columns="note").reset_index(drop=True)
    assert not np.allclose(low.iloc[:, 3:].to_numpy(), high.iloc[:, 3:].to_numpy())  # other notes, other sounds


def test_cli_compares_models_given_by_repeated_ckpt_options(tmp_path, tiny_dataset, tiny_checkpoint):
    out = tmp_path / "ablation"
    assert main(["evaluate", "--data", str(tiny_dataset), "--out", str(out), "--max-pairs", "1", "--steps", "3",
                 "--ckpt", f"first={tiny_checkpoint}", "--ckpt", f"second={tiny_checkpoint}", "--progress", "false"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["notes"]["56:75"]) == {"reference", "first", "second"}
    # one checkpoint under two names: the same sequences
    trajectories = pd.read_csv(out / "trajectories.csv")
    by_method = {m: g.drop(columns="method").reset_index(drop=True) for m, g in trajectories.groupby("method")}
    pd.testing.assert_frame_equal(by_method["first"], by_method["second"])


def test_refined_models_are_their_own_methods_beside_the_protocol(tmp_path, tiny_dataset, tiny_checkpoint):
    out = tmp_path / "refined"
    assert main(["evaluate", "--data", str(tiny_dataset), "--out", str(out), "--max-pairs", "3", "--steps", "3",
                 "--ckpt", f"tiny={tiny_checkpoint}", "--refine-steps", "100", "--progress", "false"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["notes"]["56:75"]) == {"reference", "tiny", "tiny+refined"}
    assert summary["evaluation"]["refine"]["steps"] == 100
    plain, refined = summary["endpoints"]["tiny"], summary["endpoints"]["tiny+refined"]
    figures = summary["refinement"]["tiny+refined"]
    assert figures["n_presets"] == 6 and 0 <= figures["exact_before"] <= figures["exact_after"] <= 1
    assert figures["wrong_parameters_after"] <= figures["wrong_parameters_before"] and figures["seconds"] > 0
    # the protocol's method is untouched by refinement; the refined one's ends are at least as right
    presets = np.load(out / "presets.npz")
    truth = np.stack([presets["start"], presets["end"]], axis=1)
    wrong = {m: (presets[m][:, [0, -1]] != truth).sum(axis=-1).mean() for m in ("tiny", "tiny+refined")}
    assert wrong["tiny+refined"] <= wrong["tiny"]
    assert wrong["tiny+refined"] == pytest.approx(figures["wrong_parameters_after"])
    assert wrong["tiny"] == pytest.approx(figures["wrong_parameters_before"])
    assert refined["categorical_accuracy"] >= plain["categorical_accuracy"] - 1e-9 or \
        refined["numerical_error_steps"] <= plain["numerical_error_steps"]
    report = (out / "report.md").read_text()
    assert "| tiny+refined " in report and "## Latent refinement of the ends" in report
    assert "Latent refinement of the ends" in (out / "report.html").read_text()
    without = tmp_path / "plain"
    assert main(["evaluate", "--data", str(tiny_dataset), "--out", str(without), "--max-pairs", "3", "--steps", "3",
                 "--ckpt", f"tiny={tiny_checkpoint}", "--progress", "false"]) == 0
    plain_summary = json.loads((without / "summary.json").read_text())
    assert set(plain_summary["notes"]["56:75"]) == {"reference", "tiny"} and plain_summary["refinement"] == {}
    np.testing.assert_array_equal(np.load(without / "presets.npz")["tiny"], presets["tiny"])


def test_bend_methods_have_exact_ends_and_are_the_decoded_path_moved_onto_them(tmp_path, tiny_dataset, tiny_checkpoint):
    out = tmp_path / "bend"
    assert main(["evaluate", "--data", str(tiny_dataset), "--out", str(out), "--max-pairs", "3", "--steps", "5",
                 "--ckpt", f"tiny={tiny_checkpoint}", "--refine-steps", "20", "--anchor", "true",
                 "--latent", "linear", "--progress", "false"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["notes"]["56:75"]) == {"reference", "tiny", "tiny+refined", "tiny+bend",
                                              "tiny+refined+bend"}
    for method in ("tiny+bend", "tiny+refined+bend"):
        assert summary["endpoints"][method]["categorical_accuracy"] == 1.0
        assert summary["endpoints"][method]["numerical_error_steps"] == 0.0
    presets = np.load(out / "presets.npz")
    from spinvae.interpolation.paths import anchor_path
    from spinvae.synth.dx7.schema import DX7_SCHEMA

    expected = anchor_path(presets["tiny"], presets["start"], presets["end"], DX7_SCHEMA)
    np.testing.assert_array_equal(presets["tiny+bend"], expected)  # the plain method's path, moved
    assert json.loads((out / "evaluation.json").read_text())["anchor"] is True
