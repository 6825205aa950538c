"""``spinvae fit|validate|test|predict``: LightningCLI over :class:`SpinVAEModule` and the DataModule.

    spinvae fit --config experiments/smoke.yaml
    spinvae fit --config experiments/cpu.yaml --print_config
    spinvae test --config experiments/cpu.yaml --ckpt_path runs/cpu/version_0/checkpoints/last.ckpt

The DataModule's :meth:`model_info` is linked into ``model.data_info`` when both are
instantiated, so a config never repeats what the dataset already says. Two callbacks are always
there and configurable: ``checkpoint`` (best by ``val/loss`` and last) and ``progress_bar`` (rich);
``predictions`` writes what ``predict`` computes (latent means, decoded presets) to a parquet file.
"""

from __future__ import annotations

import sys

from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from spinvae.data.datamodule import PresetDataModule
from spinvae.training.module import SpinVAEModule
from spinvae.training.predictions import PredictionWriter


class SpinVAECLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data", "model.data_info", compute_fn=lambda data: data.model_info(),
                              apply_on="instantiate")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({
            "checkpoint.monitor": "val/loss",
            "checkpoint.mode": "min",
            "checkpoint.save_last": True,
            "checkpoint.save_top_k": 1,
            "checkpoint.filename": "best-{epoch}-{step}",
        })
        parser.add_lightning_class_args(RichProgressBar, "progress_bar")
        parser.add_lightning_class_args(PredictionWriter, "predictions")


def run_training_cli(args: list[str]) -> None:
    """Run a LightningCLI subcommand (``args[0]`` in fit, validate, test, predict)."""
    SpinVAECLI(
        SpinVAEModule,
        PresetDataModule,
        args=None if args == sys.argv[1:] else args,  # LightningCLI warns when given argv twice
        auto_configure_optimizers=False,  # the module's own parameter groups and schedule
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": "spinvae"},
    )
