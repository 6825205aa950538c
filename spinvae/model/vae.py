"""SPINVAE: a bimodal VAE of synth presets (parameter tokens) and their sound (mel-spectrograms).

Read top to bottom: the configuration, the model (encoders -> fusion -> latent -> decoders),
then its loss terms. Shapes, for a batch of B presets of a schema with T tokens:

- input ``classes``, ``numbers`` (B, T) (see :mod:`spinvae.model.tokens`) and ``spectrogram``
  (B, n_notes, n_mels, n_frames), scaled to about [-1, 1];
- latent ``mu``, ``variance``, ``z`` (B, dim_z);
- outputs: ``preset`` (B, T, n_out) per-token distribution parameters, ``spectrogram`` like the input.

Fusion modes: ``preset_only`` encodes the preset alone (SPINVAE-2's best: the latent space must
also predict the sound), ``combined`` sums the two encoders' outputs (SPINVAE-1), ``audio_only``
encodes the sound alone (pre-training; with the preset decoder, the sound-matching baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from spinvae.model import dlm
from spinvae.model.audio_cnn import AudioEncoder, SpectrogramDecoder
from spinvae.model.latent import kl_free_bits, reparameterize, variance_from
from spinvae.model.preset_transformer import PresetDecoder, PresetEncoder, Tokens
from spinvae.model.tokens import TokenLayout

Fusion = Literal["preset_only", "combined", "audio_only"]
Decoder = Literal["preset", "spectrogram"]


@dataclass
class VAEConfig:
    """Architecture (defaults: SPINVAE-2).

    Args:
        dim_z: latent size.
        fusion: which encoders make the latent (see the module docstring).
        decoders: which decoders are built and trained.
        d_model, n_heads, d_ff: transformer width, attention heads, feed-forward size.
        encoder_layers, decoder_layers: transformer depths of the preset encoder and decoder.
        dropout: transformer dropout.
        n_components: logistic mixture components per numerical parameter.
        cnn_channels: channels of the audio CNN's stride-2 layers, input side first.
        tokens: what the preset transformers' tokens are: ``parameter`` (one per learnable parameter,
            SPINVAE-2's) or ``group`` (one per parameter group, the parameters as its features:
            :mod:`spinvae.model.tokens`).
    """

    dim_z: int = 256
    fusion: Fusion = "preset_only"
    decoders: list[Decoder] = field(default_factory=lambda: ["preset", "spectrogram"])
    d_model: int = 256
    n_heads: int = 4
    d_ff: int = 1024
    encoder_layers: int = 6
    decoder_layers: int = 6
    dropout: float = 0.0
    n_components: int = 3
    cnn_channels: list[int] = field(default_factory=lambda: [8, 16, 32, 64, 128, 256, 512, 512])
    tokens: Tokens = "parameter"


@dataclass
class VAEOutput:
    mu: torch.Tensor
    variance: torch.Tensor
    z: torch.Tensor
    preset: torch.Tensor | None
    spectrogram: torch.Tensor | None


class SpinVAE(nn.Module):
    """The model. ``spectrogram_shape`` = (n_notes, n_mels, n_frames) of the dataset."""

    def __init__(self, config: VAEConfig, layout: TokenLayout, spectrogram_shape: tuple[int, int, int]):
        super().__init__()
        self.config = config
        self.layout = layout
        c = config
        uses_preset = c.fusion in ("preset_only", "combined")
        uses_audio = c.fusion in ("audio_only", "combined")
        transformer = dict(d_model=c.d_model, n_heads=c.n_heads, d_ff=c.d_ff, dropout=c.dropout, tokens=c.tokens)
        cnn = dict(channels=list(c.cnn_channels), dim_z=c.dim_z)
        self.preset_encoder = (
            PresetEncoder(layout, c.dim_z, n_layers=c.encoder_layers, **transformer) if uses_preset else None
        )
        self.audio_encoder = AudioEncoder(*spectrogram_shape, **cnn) if uses_audio else None
        self.preset_decoder = (
            PresetDecoder(layout, c.dim_z, n_layers=c.decoder_layers, n_components=c.n_components, **transformer)
            if "preset" in c.decoders else None
        )
        self.spectrogram_decoder = SpectrogramDecoder(*spectrogram_shape, **cnn) if "spectrogram" in c.decoders else None
        self.register_buffer("numerical", layout.numerical, persistent=False)
        self.register_buffer("categorical", layout.categorical, persistent=False)
        self.register_buffer("cardinalities", torch.tensor(layout.cardinalities), persistent=False)

    # -- encoding ------------------------------------------------------------------------------
    def encode(self, classes: torch.Tensor | None = None, numbers: torch.Tensor | None = None,
               spectrogram: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """mu and variance (B, dim_z) of the posterior, from the inputs the fusion mode uses."""
        mu = pre_variance = 0.0
        if self.preset_encoder is not None:
            if classes is None or numbers is None:
                raise ValueError(f"fusion {self.config.fusion!r} needs the preset tokens")
            m, v = self.preset_encoder(classes, numbers)
            mu, pre_variance = mu + m, pre_variance + v
        if self.audio_encoder is not None:
            if spectrogram is None:
                raise ValueError(f"fusion {self.config.fusion!r} needs the spectrogram")
            m, v = self.audio_encoder(spectrogram)
            mu, pre_variance = mu + m, pre_variance + v
        return mu, variance_from(pre_variance)

    def forward(self, classes: torch.Tensor | None = None, numbers: torch.Tensor | None = None,
                spectrogram: torch.Tensor | None = None, sample: bool = True,
                generator: torch.Generator | None = None) -> VAEOutput:
        mu, variance = self.encode(classes, numbers, spectrogram)
        z = reparameterize(mu, variance, generator) if sample else mu
        return VAEOutput(
            mu, variance, z,
            self.preset_decoder(z) if self.preset_decoder is not None else None,
            self.spectrogram_decoder(z) if self.spectrogram_decoder is not None else None,
        )

    # -- decoding ------------------------------------------------------------------------------
    def preset_values(self, preset_out: torch.Tensor) -> torch.Tensor:
        """The most probable value of every parameter (B, T) int64, each within its range."""
        preset_out = preset_out.float()  # mixtures in float32 even under bf16 autocast
        values = torch.zeros(preset_out.shape[:2], dtype=torch.long, device=preset_out.device)
        if len(self.numerical):
            numerical = preset_out[:, self.numerical, : 3 * self.config.n_components]
            cards = self.cardinalities[self.numerical].expand(len(preset_out), -1)
            values[:, self.numerical] = dlm.most_probable_step(numerical, cards, int(cards.max()))
        if len(self.categorical):
            values[:, self.categorical] = self._class_logits(preset_out).argmax(dim=-1)
        return values

    def expected_numbers(self, preset_out: torch.Tensor) -> torch.Tensor:
        """Each numerical parameter's expected value as a token number (B, n_numerical) in [0, 1]
        (``step / (n_steps - 1)``, between steps too), differentiably: what a differentiable synth can
        play from the decoder's output."""
        mean = dlm.mixture_mean(preset_out.float()[:, self.numerical, : 3 * self.config.n_components])
        return (mean + 1.0) / 2.0

    def token_distributions(self, preset_out: torch.Tensor) -> torch.Tensor:
        """The decoded presets as distributions (B, n_numerical + n_categorical * max_classes),
        differentiably: each numerical token's expected number in [0, 1], then each categorical token's
        class probabilities; the layout of :func:`spinvae.model.proxy.token_features` for real presets."""
        parts = [self.expected_numbers(preset_out)]
        if len(self.categorical):
            parts.append(torch.softmax(self._class_logits(preset_out.float()), dim=-1).flatten(1))
        return torch.cat(parts, dim=1)

    @torch.no_grad()
    def decode_presets(self, z: torch.Tensor) -> torch.Tensor:
        """Learnable values (B, T) int64 of the presets decoded from z (B, dim_z)."""
        if self.preset_decoder is None:
            raise ValueError("this model has no preset decoder")
        return self.preset_values(self.preset_decoder(z))

    def value_margins(self, preset_out: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """How surely each parameter decodes to ``values`` (B, T) int64: the log-probability of its value
        minus the largest log-probability of any other value (B, T), in nats, differentiably. Positive
        everywhere exactly when the decoding (:meth:`preset_values`) is ``values``; +inf for a parameter
        with one value."""
        preset_out = preset_out.float()
        margins = preset_out.new_zeros(values.shape)
        if len(self.numerical):
            cards = self.cardinalities[self.numerical].expand(len(preset_out), -1)
            log_p = dlm.log_pmf(preset_out[:, self.numerical, : 3 * self.config.n_components], cards, int(cards.max()))
            margins[:, self.numerical] = _margin(log_p, values[:, self.numerical])
        if len(self.categorical):  # logits differ from log-probabilities by one constant per parameter
            margins[:, self.categorical] = _margin(self._class_logits(preset_out), values[:, self.categorical])
        return margins

    def _class_logits(self, preset_out: torch.Tensor) -> torch.Tensor:
        """Class logits (B, n_categorical, max_classes), -inf past each parameter's classes."""
        logits = preset_out[:, self.categorical, : self.layout.max_classes]
        k = torch.arange(logits.shape[-1], device=logits.device)
        return logits.masked_fill(k >= self.cardinalities[self.categorical][:, None], float("-inf"))

    # -- loss terms ----------------------------------------------------------------------------
    def token_nll(self, preset_out: torch.Tensor, classes: torch.Tensor,
                  numbers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Negative log-likelihood (nats) of every token of the presets: categorical (B, n_categorical)
        and numerical (B, n_numerical)."""
        preset_out = preset_out.float()  # log-masses in float32 even under bf16 autocast
        ce = nll = preset_out.new_zeros(len(preset_out), 0)  # a synth may have no parameter of a kind
        if len(self.categorical):
            logits = self._class_logits(preset_out)
            ce = F.cross_entropy(logits.transpose(1, 2), classes[:, self.categorical], reduction="none")
        if len(self.numerical):
            cards = self.cardinalities[self.numerical].expand(len(preset_out), -1)
            steps = torch.round(numbers[:, self.numerical] * (cards - 1)).long()
            nll = dlm.nll(preset_out[:, self.numerical, : 3 * self.config.n_components], cards, steps)
        return ce, nll

    def preset_losses(self, preset_out: torch.Tensor, classes: torch.Tensor,
                      numbers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Categorical cross-entropy and numerical DLM NLL, each summed over its tokens and divided
        by the number of tokens T (so the two add up to a per-token average), batch mean."""
        ce, nll = self.token_nll(preset_out, classes, numbers)
        scale = self.layout.n_tokens * len(preset_out)
        return ce.sum() / scale, nll.sum() / scale

    def loss_terms(self, out: VAEOutput, classes: torch.Tensor, numbers: torch.Tensor,
                   spectrogram: torch.Tensor, free_bits: float) -> dict[str, torch.Tensor]:
        """Unweighted loss terms (scalars): ``kl``, and those of the built decoders:
        ``spectrogram`` (Gaussian NLL up to constants: MSE per pixel), ``categorical``, ``numerical``."""
        terms = {"kl": kl_free_bits(out.mu.float(), out.variance.float(), free_bits)}
        if out.spectrogram is not None:
            terms["spectrogram"] = F.mse_loss(out.spectrogram.float(), spectrogram)
        if out.preset is not None:
            terms["categorical"], terms["numerical"] = self.preset_losses(out.preset, classes, numbers)
        return terms


def _margin(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``scores`` (..., K) of the target (...,) int64 minus the best score of the other K - 1 (...,)."""
    own = scores.gather(-1, target[..., None])[..., 0]
    other = scores.scatter(-1, target[..., None], float("-inf")).amax(-1)
    return own - other
