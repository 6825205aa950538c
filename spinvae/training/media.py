"""Example sounds and pictures in the run's logger while a model trains.

After every ``every_n_epochs``-th validation, the first validation presets are encoded, decoded
and played: each original and its reconstruction are logged as audio, and the model's
interpolation between the first two as a picture of its spectrograms side by side. TensorBoard
and Weights & Biases both take them (other loggers are left alone).
"""

from __future__ import annotations

import numpy as np
import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger

import torch

from spinvae.audio.figures import spectrogram_strip_figure
from spinvae.data.spectrograms import analyse_presets
from spinvae.synth.base import RenderSettings


def figure_pixels(fig) -> np.ndarray:
    """The RGB pixels (H, W, 3) uint8 of a matplotlib figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


class ExampleMedia(L.Callback):
    """Log the audio of validation presets and their reconstructions, and a latent interpolation.

    Args:
        every_n_epochs: log after every n-th validation epoch (0: never).
        n_examples: validation presets played with their reconstructions (the first ones of the split).
        steps: steps of the interpolation picture (between validation presets 0 and 1).
    """

    def __init__(self, every_n_epochs: int = 1, n_examples: int = 2, steps: int = 9):
        self.every_n_epochs, self.n_examples, self.steps = every_n_epochs, n_examples, steps

    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        due = self.every_n_epochs > 0 and (trainer.current_epoch + 1) % self.every_n_epochs == 0
        if trainer.sanity_checking or not due or not trainer.is_global_zero or module.vae.preset_decoder is None:
            return
        loggers = [logger for logger in trainer.loggers if _media_kind(logger)]
        valid = getattr(trainer.datamodule, "datasets", {}).get("valid")
        if not loggers or valid is None or len(valid) < 2:
            return
        n = max(self.n_examples, 2)
        originals = valid.values[:n]
        items = [valid[i] for i in range(n)]  # the stored spectrograms: nothing to render to encode
        with torch.no_grad():
            mu, _ = module.vae.encode(*(torch.stack([item[key] for item in items]).to(module.device)
                                        for key in ("classes", "numbers", "spectrogram")))
            u = torch.linspace(0, 1, self.steps, device=mu.device)[:, None]
            z = torch.cat([mu, (1 - u) * mu[0] + u * mu[1]])  # reconstructions, then the latent path 0 -> 1
            decoded = module.vae.decode_presets(z).cpu().numpy().astype(np.uint8)
        reconstructions, path = decoded[:n], decoded[n:]
        render, mel, synth, schema = module.data.render, module.data.mel, module.synth, module.schema
        single = RenderSettings(render.sample_rate, render.notes[:1], render.note_duration, render.duration)
        played = synth.render(schema.from_learnable(np.concatenate([originals, reconstructions])), single)[:, 0]
        db = analyse_presets(schema.from_learnable(path), single, mel, synth=synth).db[:, 0]
        picture = figure_pixels(spectrogram_strip_figure(db, f"epoch {trainer.current_epoch}: {valid.uids[0]} -> "
                                                             f"{valid.uids[1]}"))
        sounds = {f"media/{valid.uids[i]}/{kind}": played[i + offset]
                  for i in range(self.n_examples) for kind, offset in (("original", 0), ("reconstruction", n))}
        for logger in loggers:
            _log_media(logger, sounds, picture, render.sample_rate, trainer.global_step)


def _media_kind(logger) -> str | None:
    if isinstance(logger, TensorBoardLogger):
        return "tensorboard"
    if type(logger).__name__ == "WandbLogger":  # wandb is optional: no import unless it is used
        return "wandb"
    return None


def _log_media(logger, sounds: dict[str, np.ndarray], picture: np.ndarray, sample_rate: int, step: int) -> None:
    if _media_kind(logger) == "tensorboard":
        for key, clip in sounds.items():
            logger.experiment.add_audio(key, np.clip(clip, -1, 1)[None], step, sample_rate)
        logger.experiment.add_image("media/interpolation", picture, step, dataformats="HWC")
    else:
        keys = list(sounds)
        logger.log_audio("media/audio", [np.clip(sounds[k], -1, 1) for k in keys], step=step,
                         sample_rate=[sample_rate] * len(keys), caption=keys)
        logger.log_image("media/interpolation", [picture], step=step)
