"""The sweep YAML: distributions, suggestions, command-line overrides, and clear errors."""

from __future__ import annotations

import optuna
import pytest
import yaml

from spinvae.sweeps.config import load_sweep, parse_sweep
from spinvae.sweeps.space import Parameter, SweepConfigError, cli_overrides, parse_parameter, parse_search_space

from tests.sweeps.conftest import ROOT, SMOKE_SWEEP

SOURCE = "sweeps/x.yaml"


def suggested(parameters: list[Parameter], n: int = 30) -> list[dict]:
    """The values of ``n`` trials of a real (in-memory) study sampling at random."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    values = []
    for _ in range(n):
        trial = study.ask()
        values.append({p.key: p.suggest(trial) for p in parameters})
        study.tell(trial, 0.0)
    return values


def test_each_distribution_is_parsed_and_sampled_in_its_range():
    parameters = parse_search_space({
        # YAML 1.1 reads 1e-4 (no dot) as a string
        "model.loss.beta": {"type": "float", "low": "1e-4", "high": 1.0e-2, "log": True},
        "model.loss.delta": {"type": "float", "low": 1.0, "high": 2.0, "step": 0.25},
        "model.vae.encoder_layers": {"type": "int", "low": 1, "high": 4},
        "model.vae.d_model": {"type": "int", "low": 16, "high": 64, "step": 16},
        "model.vae.fusion": {"type": "categorical", "choices": ["combined", "preset_only"]},
        "model.vae.cnn_channels": {"type": "categorical", "choices": [[4, 8], [8, 16]]},
    }, SOURCE)
    assert [p.kind for p in parameters] == ["float", "float", "int", "int", "categorical", "categorical"]
    assert parameters[0] == Parameter("model.loss.beta", "float", 1e-4, 1e-2, log=True)
    for values in suggested(parameters):
        assert 1e-4 <= values["model.loss.beta"] <= 1e-2
        assert values["model.loss.delta"] in (1.0, 1.25, 1.5, 1.75, 2.0)
        assert values["model.vae.encoder_layers"] in (1, 2, 3, 4)
        assert values["model.vae.d_model"] in (16, 32, 48, 64)
        assert values["model.vae.fusion"] in ("combined", "preset_only")
        assert yaml.safe_load(values["model.vae.cnn_channels"]) in ([4, 8], [8, 16])  # kept as JSON text
    betas = [v["model.loss.beta"] for v in suggested(parameters, 200)]
    assert sum(b < 1e-3 for b in betas) > 60  # log scale: about half of them below the geometric middle


def test_values_become_lightning_cli_arguments():
    assert cli_overrides({
        "model.loss.beta": 1e-05, "model.vae.encoder_layers": 2, "model.vae.fusion": "preset_only",
        "data.augment": False, "model.loss.attributes": None, "model.vae.cnn_channels": "[4, 8]",
    }) == [
        "--model.loss.beta=1e-05", "--model.vae.encoder_layers=2", "--model.vae.fusion=preset_only",
        "--data.augment=false", "--model.loss.attributes=null", "--model.vae.cnn_channels=[4, 8]",
    ]


@pytest.mark.parametrize("key, spec, message", [
    ("model.loss.beta", {"type": "float", "low": 1.0}, "search_space.model.loss.beta: missing high"),
    ("model.loss.beta", {"type": "float", "low": 2.0, "high": 1.0}, "low (2.0) is above high (1.0)"),
    ("model.loss.beta", {"type": "float", "low": 0.0, "high": 1.0, "log": True}, "log scale needs low > 0"),
    ("model.loss.beta", {"type": "float", "low": 1e-3, "high": 1.0, "log": True, "step": 0.1}, "log or step, not both"),
    ("model.loss.beta", {"type": "float", "low": "small", "high": 1.0}, "low must be a finite number, got 'small'"),
    ("model.loss.beta", {"type": "normal", "low": 0, "high": 1}, "type must be one of float, int, categorical"),
    ("model.loss.beta", {"type": "float", "low": 0, "high": 1, "logscale": True}, "unknown logscale"),
    ("model.vae.encoder_layers", {"type": "int", "low": 1, "high": 2.5}, "an int needs whole numbers"),
    ("model.vae.fusion", {"type": "categorical", "choices": []}, "choices must be a non-empty list"),
    ("model.vae.fusion", {"type": "categorical", "choices": ["a", "a"]}, "choices repeat a value"),
    ("model.vae.fusion", ["a", "b"], "expected a mapping"),
])
def test_a_bad_distribution_is_a_one_line_error_naming_the_file_and_the_key(key, spec, message):
    with pytest.raises(SweepConfigError) as error:
        parse_parameter(key, spec, SOURCE)
    text = str(error.value)
    assert text.startswith(f"{SOURCE}: search_space.{key}") and message in text and "\n" not in text


def smoke() -> dict:
    sweep = yaml.safe_load(SMOKE_SWEEP.read_text())
    sweep["base_config"] = str(ROOT / sweep["base_config"])
    return sweep


@pytest.mark.parametrize("change, message", [
    ({"searchspace": {}}, "unknown key(s) searchspace"),
    ({"objectives": None}, "objectives: expected a list"),
    ({"objectives": [{"metric": "interpolation/smoothness"}]},
     "objectives[0].metric: interpolation/smoothness is not one of"),
    ({"objectives": [{"metric": "val/loss", "direction": "down"}]},
     "objectives[0].direction: expected minimize or maximize"),
    ({"objectives": [{"metric": "val/loss"}, {"metric": "val/spearman_mean", "direction": "maximize"}],
      "pruner": {"type": "median"}}, "pruner: pruning needs a single objective"),
    ({"pruner": {"type": "median", "n_startup": 3}}, "pruner: "),
    ({"sampler": {"type": "bayes"}}, "sampler.type: expected one of tpe"),
    ({"base_config": "experiments/nope.yaml"}, "base_config: experiments/nope.yaml: no such file"),
    ({"search_space": {"model.loss.beta!": {"type": "float", "low": 0, "high": 1}}},
     "search_space: 'model.loss.beta!' is not"),
    ({"overrides": {"model.loss.beta": 0.1}}, "search_space.model.loss.beta: also fixed in overrides"),
    ({"evaluation": {"pairs": 3}}, "evaluation: unknown pairs"),
    ({"evaluation": {"notes": ["56-75"]}}, "evaluation.notes: '56-75' is not NOTE:VELOCITY"),
    ({"run_dir": "runs/{name}"}, "run_dir: 'runs/{name}' may hold {study}"),
    ({"heartbeat": {"interval": 10, "grace_period": 5}}, "heartbeat: needs interval >= 1 and grace_period > interval"),
    ({"objectives": [{"metric": "interpolation/refined/smoothness/mean_change_pct"}]},
     "objectives[0].metric: interpolation/refined/smoothness/mean_change_pct needs evaluation.refine_steps > 0"),
    ({"evaluation": {"refine_steps": -1}}, "evaluation.refine_steps: must be at least 0"),
    ({"objectives": [{"metric": "interpolation/refined+bend/nonlinearity/mean_change_pct"}],
      "evaluation": {"refine_steps": 100}},
     "objectives[0].metric: interpolation/refined+bend/nonlinearity/mean_change_pct needs evaluation.anchor: true"),
    ({"objectives": [{"metric": "interpolation/refined+bend/nonlinearity/mean_change_pct"}],
      "evaluation": {"anchor": True}}, "needs evaluation.refine_steps > 0"),
    ({"objectives": [{"metric": "interpolation/anchored+refined/smoothness/mean_change_pct"}]},
     "is not one of interpolation/smoothness/mean_change_pct"),
    ({"evaluation": {"refine_weight": -0.1}}, "evaluation.refine_weight: must be 0 or more, got -0.1"),
    ({"evaluation": {"refine_weight": "small"}}, "evaluation.refine_weight: expected a number, got 'small'"),
    ({"evaluation": {"anchor": "yes"}}, "evaluation.anchor: expected true or false, got 'yes'"),
])
def test_a_bad_sweep_is_a_one_line_error_naming_the_file_and_the_key(change, message):
    with pytest.raises(SweepConfigError) as error:
        parse_sweep({**smoke(), **change}, SOURCE)
    text = str(error.value)
    assert text.startswith(f"{SOURCE}: ") and message in text and "\n" not in text, text


def test_a_metric_named_before_the_bend_had_its_name_is_read_as_the_bends_with_a_note():
    old = "interpolation/refined+anchored/nonlinearity/mean_change_pct"
    with pytest.warns(FutureWarning, match="now called interpolation/refined\\+bend/"):
        sweep = parse_sweep({**smoke(), "objectives": [{"metric": old}],
                             "evaluation": {"refine_steps": 100, "anchor": True}}, SOURCE)
    assert sweep.metric_names == ["interpolation/refined+bend/nonlinearity/mean_change_pct"]


def test_the_example_sweeps_load(monkeypatch):
    monkeypatch.chdir(ROOT)  # their base_config paths are relative to the repository
    single = load_sweep("experiments/sweeps/cpu_loss.yaml")
    assert single.metric_names == ["val/loss"] and single.pruner["type"] == "median"
    assert {"model.loss.beta", "model.loss.gamma", "model.loss.delta", "model.loss.free_bits", "model.vae.dim_z",
            "model.vae.encoder_layers", "model.vae.decoder_layers", "model.optimizer.lr_preset"} <= {
               p.key for p in single.parameters}
    multi = load_sweep("experiments/sweeps/cpu_interpolation.yaml")
    assert multi.directions == ["minimize", "minimize"] and multi.pruner is None and multi.needs_evaluation
    assert load_sweep("experiments/sweeps/smoke.yaml").pruner is None
    refined = load_sweep("experiments/sweeps/cpu_refined.yaml")
    assert refined.evaluation.refine_steps > 0 and all(m.startswith("interpolation/refined/")
                                                       for m in refined.metric_names)


def test_a_missing_or_invalid_yaml_file_is_a_clear_error(tmp_path):
    with pytest.raises(SweepConfigError, match="nope.yaml: no such sweep file"):
        load_sweep(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("search_space: {a: [1, 2}\n")
    with pytest.raises(SweepConfigError, match="bad.yaml: not valid YAML"):
        load_sweep(tmp_path / "bad.yaml")


def test_refined_scores_are_read_beside_the_plain_ones_and_averaged_over_notes():
    from spinvae.sweeps.config import INTERPOLATION_METRICS
    from spinvae.sweeps.interpolation import scores_from_summary

    def result(value: float) -> dict:
        return {m: {"mean_change_pct": value, "median_change_pct": value / 2, "improved_features": 3,
                    "worse_features": 1} for m in ("smoothness", "nonlinearity")}

    summary = {"notes": {"56:75": {"reference": {}, "model": result(10.0), "model+refined": result(-4.0),
                                   "model+bend": result(2.0), "model+refined+bend": result(-1.0)},
                         "48:100": {"reference": {}, "model": result(20.0), "model+refined": result(-8.0),
                                    "model+bend": result(4.0), "model+refined+bend": result(-3.0)}}}
    scores = scores_from_summary(summary)
    assert set(scores) == set(INTERPOLATION_METRICS)
    assert scores["interpolation/smoothness/mean_change_pct"] == 15.0
    assert scores["interpolation/refined/nonlinearity/mean_change_pct"] == -6.0
    assert scores["interpolation/refined/smoothness/median_change_pct"] == -3.0
    assert scores["interpolation/bend/smoothness/mean_change_pct"] == 3.0
    assert scores["interpolation/refined+bend/nonlinearity/median_change_pct"] == -1.0
    for notes in summary["notes"].values():
        del notes["model+refined"], notes["model+refined+bend"]
    left = scores_from_summary(summary)
    assert not any("refined" in name for name in left) and "interpolation/bend/nonlinearity/worse_features" in left
