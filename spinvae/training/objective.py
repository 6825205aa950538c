"""The training objective: how the VAE's loss terms are weighted, and the schedules over training.

loss = w_spec * spectrogram + beta(t) * KL + gamma * attribute + w_cat * categorical + w_num * numerical

with beta ramped linearly from 0 over the first ``beta_warmup`` fraction of the optimisation steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from spinvae.model.attribute_loss import ar_vae_loss, s2_vae_loss


@dataclass
class LossConfig:
    """Loss weights and the attribute regularisation.

    Args:
        spectrogram_weight: weight of the spectrogram NLL (MSE per pixel of the scaled spectrogram).
        categorical_weight, numerical_weight: weights of the preset terms (each summed over its
            tokens and divided by the number of tokens).
        beta: KL weight once warmed up; beta_warmup: fraction of the steps over which it ramps from 0.
        free_bits: KL floor per latent coordinate (nats).
        attribute_loss: ``ar_vae``, ``s2_vae`` or ``none``.
        attributes: regularised attributes by name; None: every attribute of the dataset.
        gamma: weight of the attribute loss.
        chunk: latent coordinates per attribute (attribute a owns a * chunk .. (a + 1) * chunk - 1).
        delta: AR-VAE tanh sharpness.
        min_difference: AR-VAE ignores pairs whose (z-scored) attributes differ by at most this.
        synth_weight: weight of the synth-in-the-loop term (0: none): the spectral distance
            (:func:`spinvae.matching.distance.spectral_distance`) between the render of the decoded
            preset (each parameter at its expected value) and the render of the input preset, through a
            differentiable synth whose parameters are all numerical or continuous.
        synth_presets: presets of each batch rendered for it (the first ones).
        synth_seconds: length of those renders (the dataset's first note and velocity, held throughout).
        morph_weight: weight of the morph term (0: none; :func:`morph_term`): the decoder is asked, at codes
            on the line between two presets' codes, for presets whose timbre (judged by ``proxy``) moves
            linearly from the one's to the other's.
        proxy: the attribute proxy file the morph term judges timbre with (``spinvae proxy``; needed
            only while training, never to use the model).
    """

    spectrogram_weight: float = 1.0
    categorical_weight: float = 0.5
    numerical_weight: float = 0.5
    beta: float = 1e-3
    beta_warmup: float = 0.25
    free_bits: float = 0.125
    attribute_loss: Literal["ar_vae", "s2_vae", "none"] = "ar_vae"
    attributes: list[str] | None = None
    gamma: float = 5e-3
    chunk: int = 4
    delta: float = 5.0
    min_difference: float = 0.0
    synth_weight: float = 0.0
    synth_presets: int = 8
    synth_seconds: float = 0.5
    morph_weight: float = 0.0
    proxy: str | None = None


def beta_at(config: LossConfig, progress: float) -> float:
    """KL weight at ``progress`` (0 at the first step, 1 at the last)."""
    if config.beta_warmup <= 0:
        return config.beta
    return config.beta * min(1.0, progress / config.beta_warmup)


def attribute_term(config: LossConfig, mu: torch.Tensor, attributes: torch.Tensor, low: torch.Tensor,
                   high: torch.Tensor) -> torch.Tensor:
    """The attribute regularisation of z_mu (B, dim_z) by ``attributes`` (B, n_regularised)."""
    if config.attribute_loss == "ar_vae":
        return ar_vae_loss(mu, attributes, config.chunk, config.delta, config.min_difference)
    if config.attribute_loss == "s2_vae":
        return s2_vae_loss(mu, attributes, config.chunk, low, high)
    return mu.new_zeros(())


def morph_term(path: torch.Tensor, start: torch.Tensor, end: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """How far the attributes ``path`` (B, A) of presets decoded at codes ``(1 - u) z_start + u z_end`` are
    from the straight line between the ends' attributes ``start`` and ``end`` (B, A), at positions ``u``
    (B,) in [0, 1]: the mean squared difference. Zero exactly when the timbre moves linearly along the
    latent line (SPINVAE-2's non-linearity measure is the deviation from that line)."""
    target = (1 - u)[:, None] * start + u[:, None] * end
    return (path - target).square().mean()


def total_loss(config: LossConfig, terms: dict[str, torch.Tensor], beta: float) -> torch.Tensor:
    weights = {
        "spectrogram": config.spectrogram_weight, "kl": beta, "attribute": config.gamma,
        "categorical": config.categorical_weight, "numerical": config.numerical_weight, "synth": config.synth_weight,
        "morph": config.morph_weight,
    }
    return sum(weights[name] * value for name, value in terms.items())


@dataclass
class OptimizerConfig:
    """Adam with one learning rate per parameter group, linear warm-up, then exponential decay.

    Groups: ``audio`` (CNN encoder and decoder), ``preset`` (transformer encoder and decoder),
    ``latent`` (the layers that map to and from z).

    Args:
        lr_audio, lr_preset, lr_latent: peak learning rates.
        weight_decay: Adam's L2 weight decay.
        warmup_epochs: epochs of linear warm-up from 0.
        decay_per_epoch: learning-rate factor per epoch after the warm-up.
    """

    lr_audio: float = 4e-4
    lr_preset: float = 4e-4
    lr_latent: float = 4e-4
    weight_decay: float = 1e-5
    warmup_epochs: float = 1.0
    decay_per_epoch: float = 0.98


def lr_factor(config: OptimizerConfig, step: int, steps_per_epoch: float) -> float:
    """Learning-rate multiplier at optimisation ``step``."""
    epoch = step / max(steps_per_epoch, 1.0)
    if epoch < config.warmup_epochs:
        return (step + 1) / max(config.warmup_epochs * steps_per_epoch, 1.0)
    return math.pow(config.decay_per_epoch, epoch - config.warmup_epochs)


LATENT_LAYERS = ("to_latent", "from_latent", "to_mu", "to_variance", "extra_tokens", "z_to_tokens", "z_to_mlp_token")


def parameter_group(name: str) -> str:
    """Group (audio / preset / latent) of a parameter of :class:`~spinvae.model.vae.SpinVAE` by name."""
    module, _, rest = name.partition(".")
    if rest.split(".")[0] in LATENT_LAYERS:
        return "latent"
    return "audio" if module in ("audio_encoder", "spectrogram_decoder") else "preset"
