"""``spinvae fit|validate|test|predict``: LightningCLI over :class:`SpinVAEModule` and the DataModule.

    spinvae fit --config experiments/smoke.yaml
    spinvae fit --config experiments/cpu.yaml --print_config
    spinvae test --config experiments/cpu.yaml --ckpt_path runs/cpu/version_0/checkpoints/last.ckpt

The DataModule's :meth:`model_info` is linked into ``model.data_info`` when both are
instantiated, so a config never repeats what the dataset already says. Two callbacks are always
there and configurable: ``checkpoint`` (best by ``val/loss`` and last) and ``progress_bar`` (rich);
``predictions`` writes what ``predict`` computes (latent means, decoded presets) to a parquet file;
``media`` logs example audio and an interpolation picture after validations (TensorBoard, W&B).
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback

from spinvae.data.datamodule import PresetDataModule
from spinvae.training.media import ExampleMedia
from spinvae.training.module import SpinVAEModule
from spinvae.training.predictions import PredictionWriter


class SaveConfigToLoggers(SaveConfigCallback):
    """Writes ``config.yaml`` beside the run's logs, and gives the whole resolved config to a
    Weights & Biases run (TensorBoard already shows the model's own hyper-parameters)."""

    def save_config(self, trainer, pl_module, stage: str) -> None:
        for logger in trainer.loggers:
            if type(logger).__name__ == "WandbLogger":
                logger.experiment.config.update({"config": self.config.as_dict()}, allow_val_change=True)


class SpinVAECLI(LightningCLI):
    """``spinvae fit|validate|test|predict``: LightningCLI over :class:`SpinVAEModule` and
    :class:`PresetDataModule`, with the module's own optimiser and schedule, and the resolved config
    saved beside the logs (and given to W&B).

    Args:
        args: the command line without the program name (None: ``sys.argv[1:]``); with
            ``run=False``, options alone (no subcommand), as in a notebook or a sweep trial.
        run: run the subcommand, or only build the model, data and trainer (``cli.trainer.fit(cli.model,
            datamodule=cli.datamodule)`` then trains).
        **kwargs: more LightningCLI arguments (``trainer_defaults``, ``parser_kwargs`` ...).
    """

    def __init__(self, args: list[str] | None = None, run: bool = True, **kwargs: Any):
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("parser_kwargs", {"prog": "spinvae"})
        with warnings.catch_warnings():  # args from Python while sys.argv holds other ones: meant so
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
            super().__init__(SpinVAEModule, PresetDataModule, args=args, run=run,
                             auto_configure_optimizers=False,  # the module's own parameter groups and schedule
                             save_config_callback=SaveConfigToLoggers, **kwargs)

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
        parser.add_lightning_class_args(ExampleMedia, "media")

    def instantiate_trainer(self, **kwargs: Any):
        """The trainer, with the configured callbacks; the rich progress bar only when
        ``trainer.enable_progress_bar`` is on (Lightning refuses a progress-bar callback otherwise)."""
        trainer_config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        keys = self._parser(self.subcommand).callback_keys
        if trainer_config.get("enable_progress_bar") is False:
            keys = [key for key in keys if key != "progress_bar"]
        return self._instantiate_trainer(trainer_config, [self._get(self.config_init, key) for key in keys])


def run_training_cli(args: list[str]) -> None:
    """Run a LightningCLI subcommand (``args[0]`` in fit, validate, test, predict)."""
    import logging

    # "Seed set to N" on stderr at every start says what the resolved config.yaml already records, and
    # would stand before the one line of a refused command
    logging.getLogger("lightning.fabric.utilities.seed").setLevel(logging.WARNING)
    SpinVAECLI(args=None if args == sys.argv[1:] else args)
