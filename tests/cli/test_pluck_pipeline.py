"""The whole pipeline on the second synth, end to end: build, fit, interpolate (and extrapolate), evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spinvae.cli.main import main
from spinvae.synth.registry import get_synth

SMOKE = Path(__file__).resolve().parents[2] / "experiments" / "smoke.yaml"


@pytest.fixture(scope="module")
def pluck_run(tmp_path_factory) -> dict[str, Path]:
    """A tiny pluck dataset (96 procedural presets, 1-s renders, 64 x 63 spectrograms) and a smoke model
    trained one epoch on it."""
    root = tmp_path_factory.mktemp("pluck")
    data = root / "data"
    assert main(["data", "build", "--synth", "pluck", "--procedural", "96", "--out", str(data), "--chunk-size", "32",
                 "--note-duration", "0.75", "--duration", "1.0", "--n-fft", "512", "--hop-length", "256",
                 "--n-mels", "64", "--progress", "false"]) == 0
    assert main(["fit", "--config", str(SMOKE), "--data.data_dir", str(data), "--trainer.max_epochs", "1",
                 "--trainer.logger.init_args.save_dir", str(root / "runs"), "--trainer.enable_model_summary", "false"]) == 0
    checkpoint = root / "runs" / "smoke" / "version_0" / "checkpoints" / "last.ckpt"
    assert checkpoint.is_file()
    return {"root": root, "data": data, "ckpt": checkpoint}


def test_the_dataset_and_the_model_are_the_pluck_synths(pluck_run):
    from spinvae.data.manifest import read_manifest
    from spinvae.interpolation.model import load_model

    manifest = read_manifest(pluck_run["data"])
    assert manifest.synth == "pluck" and manifest.raw["versions"]["pluck"].startswith("pluck-1")
    module = load_model(pluck_run["ckpt"])
    assert module.synth.name == "pluck" and module.schema.n_learnable == 29
    assert len(module.vae.categorical) == 0  # no categorical head for a synth without categorical parameters


def test_interpolate_and_extrapolate_write_pluck_presets(pluck_run, capsys):
    synth = get_synth("pluck")
    bank = synth.generate(2, seed=7)
    presets = pluck_run["root"] / "two.json"
    synth.write_bank(presets, bank.params, ["nylon A", "steel B"])
    out = pluck_run["root"] / "morph"
    assert main(["interpolate", "--ckpt", str(pluck_run["ckpt"]), "--start", f"{presets}:0", "--end", f"{presets}:1",
                 "--steps", "5", "--extrapolate", "0.5", "--refine-steps", "5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "9 steps, u from -0.5 to 1.5" in printed and "beyond the ends: of" in printed
    morph = synth.read_bank(out / "interpolation.json")
    assert morph.params.shape == (9, 29) and len(list(out.glob("step_*.wav"))) == 9
    reference = pluck_run["root"] / "reference"
    assert main(["interpolate", "--method", "reference", "--synth", "pluck", "--start", f"{presets}:0",
                 "--end", f"{presets}:1", "--steps", "5", "--extrapolate", "0.5", "--out", str(reference)]) == 0
    path = synth.read_bank(reference / "interpolation.json").params
    np.testing.assert_array_equal(path[2], bank.params[0])  # the presets at u = 0 and 1
    np.testing.assert_array_equal(path[6], bank.params[1])
    moved = bank.params[1].astype(int) - bank.params[0].astype(int)
    expected_end = np.clip(np.rint(bank.params[1] + 0.5 * moved), 0, 127)
    np.testing.assert_array_equal(path[-1], expected_end)  # went on, clamped to the grid
    inferred = pluck_run["root"] / "reference_inferred"  # without --synth: the synth whose files the presets are
    assert main(["interpolate", "--method", "reference", "--start", f"{presets}:0", "--end", f"{presets}:1",
                 "--steps", "5", "--extrapolate", "0.5", "--out", str(inferred)]) == 0
    np.testing.assert_array_equal(synth.read_bank(inferred / "interpolation.json").params, path)
    assert main(["interpolate", "--method", "reference", "--synth", "dx7", "--start", f"{presets}:0",
                 "--end", f"{presets}:1", "--out", str(inferred)]) == 2  # the DX7 cannot read pluck presets
    assert str(presets) in capsys.readouterr().err


def test_evaluate_measures_pluck_morphs_against_its_reference(pluck_run):
    out = pluck_run["root"] / "evaluation"
    assert main(["evaluate", "--data", str(pluck_run["data"]), "--ckpt", f"smoke={pluck_run['ckpt']}",
                 "--split", "test", "--max-pairs", "3", "--steps", "5", "--out", str(out), "--progress", "false"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["evaluation"]["synth"] == "pluck"
    assert set(summary["notes"]["56:75"]) == {"reference", "smoke"}
    ends = summary["endpoints"]["smoke"]
    assert np.isnan(ends["categorical_accuracy"]) and ends["numerical_error_steps"] >= 0
    assert (out / "report.html").read_text().count("<audio") > 0


def test_the_timbre_knob_turns_on_pluck_presets(pluck_run, capsys):
    from spinvae.interpolation.model import load_model

    synth = get_synth("pluck")
    presets = pluck_run["root"] / "one.yaml"
    synth.write_bank(presets, synth.generate(1, seed=9).params, ["harp"])
    attribute = load_model(pluck_run["ckpt"]).attribute_names[0]
    out = pluck_run["root"] / "knob"
    assert main(["edit", "--ckpt", str(pluck_run["ckpt"]), "--preset", str(presets), "--attribute", attribute,
                 "--steps", "3", "--refine-steps", "0", "--out", str(out)]) == 0
    assert synth.read_bank(out / "interpolation.json").params.shape == (3, 29)
    assert len((out / "attribute.csv").read_text().splitlines()) == 4
    assert "the knob's centre" in capsys.readouterr().out


def test_synth_in_the_loop_trains_through_the_differentiable_synth(pluck_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs = pluck_run["root"] / "runs_synth"
    assert main(["fit", "--config", str(SMOKE), "--data.data_dir", str(pluck_run["data"]), "--trainer.max_epochs", "1",
                 "--model.loss.synth_weight", "1.0", "--model.loss.synth_presets", "4",
                 "--model.loss.synth_seconds", "0.25", "--trainer.enable_progress_bar", "false",
                 "--trainer.logger.init_args.save_dir", str(runs), "--trainer.enable_model_summary", "false"]) == 0
    events = EventAccumulator(str(next((runs / "smoke" / "version_0").glob("events.out.tfevents.*")))).Reload()
    synth = [e.value for e in events.Scalars("train/synth")]
    assert synth and all(np.isfinite(synth)) and min(synth) > 0
