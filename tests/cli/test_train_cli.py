"""``spinvae fit|validate|test|predict`` end to end with experiments/smoke.yaml on a tiny dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from spinvae.cli.main import main
from spinvae.synth.dx7.schema import DX7_SCHEMA

SMOKE = Path(__file__).resolve().parents[2] / "experiments" / "smoke.yaml"


def run(*args: str) -> None:
    assert main(list(args)) == 0


def test_print_config_shows_the_whole_configuration(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(SMOKE), "--print_config"])
    assert exit_.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["vae"]["dim_z"] == 100
    assert config["model"]["loss"]["attribute_loss"] == "ar_vae"
    assert config["model"]["optimizer"]["lr_preset"] == 1e-3
    assert config["checkpoint"]["monitor"] == "val/loss"
    assert "data_info" not in config["model"]  # linked from the DataModule, never written by hand


@pytest.mark.parametrize("recipe", sorted((SMOKE.parent).glob("*.yaml")), ids=lambda p: p.name)
def test_every_committed_training_recipe_parses_and_keeps_its_values(recipe, capsys):
    """A recipe that drifted from the code (a renamed key, a wrong type) fails here, not on a GPU."""
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(recipe), "--print_config"])
    assert exit_.value.code == 0
    resolved = yaml.safe_load(capsys.readouterr().out)
    written = yaml.safe_load(recipe.read_text())
    for section in ("vae", "loss", "optimizer"):
        for key, value in written["model"].get(section, {}).items():
            if isinstance(value, str) and isinstance(resolved["model"][section][key], float):
                value = float(value)  # PyYAML reads 1e-3 (no dot) as a string; jsonargparse as the float it is
            assert resolved["model"][section][key] == value, f"{recipe.name}: model.{section}.{key}"


def test_fit_test_predict_from_the_smoke_config(tmp_path, tiny_dataset):
    common = ["--config", str(SMOKE), "--data.data_dir", str(tiny_dataset),
              "--trainer.logger.init_args.save_dir", str(tmp_path / "runs")]
    run("fit", *common, "--trainer.max_epochs", "1")
    run_dir = tmp_path / "runs" / "smoke" / "version_0"
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["data"]["data_dir"] == str(tiny_dataset) and saved["trainer"]["max_epochs"] == 1
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert "last.ckpt" in checkpoints and any(name.startswith("best-") for name in checkpoints)
    events = list(run_dir.glob("events.out.tfevents.*"))
    assert events, "no TensorBoard log"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = EventAccumulator(str(events[0]), size_guidance={"audio": 0, "images": 0})
    log.Reload()
    assert len(log.Tags()["audio"]) == 4 and log.Tags()["images"] == ["media/interpolation"]

    last = run_dir / "checkpoints" / "last.ckpt"
    run("test", *common, "--ckpt_path", str(last))
    run("predict", *common, "--ckpt_path", str(last), "--predictions.out", str(tmp_path / "pred"))
    table = pd.read_parquet(tmp_path / "pred" / "predictions.parquet")
    presets = pd.read_parquet(tiny_dataset / "presets.parquet")
    assert table["uid"].tolist() == presets.loc[presets["split"] == "test", "uid"].tolist()
    assert [c for c in table.columns if c.startswith("z_")] == [f"z_{i}" for i in range(100)]
    values = table[list(DX7_SCHEMA.learnable_names)].to_numpy()
    assert (values >= 0).all() and (values < DX7_SCHEMA.cardinalities).all()

    # resuming: one more epoch from the last checkpoint continues the step count
    run("fit", *common, "--trainer.max_epochs", "2", "--ckpt_path", str(last))
    newest = max(run_dir.parent.iterdir(), key=lambda p: int(p.name.split("_")[1]))  # test and predict log too
    resumed = torch.load(newest / "checkpoints" / "last.ckpt", weights_only=True)
    first = torch.load(last, weights_only=True)
    assert resumed["global_step"] == 2 * first["global_step"]


def test_wandb_logger_works_offline_without_an_api_key(tmp_path, tiny_dataset, monkeypatch):
    pytest.importorskip("wandb", reason="wandb is the optional extra spinvae[wandb]; `make test` installs it")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    wandb_config = Path(__file__).resolve().parents[2] / "experiments" / "loggers" / "wandb_offline.yaml"
    run("fit", "--config", str(SMOKE), "--config", str(wandb_config), "--data.data_dir", str(tiny_dataset),
        "--trainer.logger.init_args.save_dir", str(tmp_path), "--trainer.max_epochs", "1")
    import wandb

    wandb.finish()  # Lightning leaves the run open; finishing it writes the rest of its log
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb")), "no offline wandb run written"
    assert list(tmp_path.glob("spinvae/*/checkpoints/last.ckpt"))
    files = runs[0] / "files"
    log = next(runs[0].glob("run-*.wandb")).read_bytes()  # offline, the config lives in the run's log
    assert str(tiny_dataset).encode() in log and b"dim_z" in log  # the whole resolved config
    # media files are written when logged (the history rows that name them may reach the log later);
    # they are named by content, and a tiny model may decode two presets alike
    assert 1 <= len(list(files.glob("media/audio/**/*.wav"))) <= 4
    assert len(list(files.glob("media/images/**/*.png"))) == 1  # the interpolation strip


def test_ddp_on_two_cpu_processes_splits_each_epoch_between_ranks(tmp_path, tiny_dataset):
    """``--trainer.strategy=ddp --trainer.devices=2 --trainer.accelerator=cpu`` (gloo): each rank
    trains on half the split, so an epoch takes half the steps of a single process."""
    import subprocess
    import sys

    out = tmp_path / "runs"
    command = [sys.executable, "-m", "spinvae.cli.main", "fit", "--config", str(SMOKE),
               "--data.data_dir", str(tiny_dataset), "--trainer.logger.init_args.save_dir", str(out),
               "--trainer.max_epochs", "1", "--trainer.strategy", "ddp", "--trainer.devices", "2",
               "--trainer.accelerator", "cpu", "--progress_bar.refresh_rate", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = torch.load(out / "smoke" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    train = (pd.read_parquet(tiny_dataset / "presets.parquet")["split"] == "train").sum()
    batch = yaml.safe_load(SMOKE.read_text())["data"]["batch_size"]
    assert checkpoint["global_step"] == (train // 2) // batch  # 38 presets per rank: 2 full batches of 16
    assert all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values())
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in result.stdout + result.stderr
