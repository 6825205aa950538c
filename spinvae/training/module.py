"""The LightningModule: SPINVAE's training, validation, test and predict steps.

Everything about the data the model needs later (token layout, spectrogram shape, normalisation,
attribute list and transforms, render settings) arrives as ``data_info`` (from
:meth:`spinvae.data.datamodule.PresetDataModule.model_info`) and is saved with the
hyper-parameters, so a checkpoint alone is enough to use the model.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import lightning as L
import numpy as np
import torch

from spinvae.model.proxy import n_token_features, token_features
from spinvae.model.tokens import TokenLayout
from spinvae.model.vae import SpinVAE, VAEConfig
from spinvae.data.manifest import DataInfo
from spinvae.matching.distance import spectral_distance
from spinvae.synth.base import RenderSettings
from spinvae.synth.registry import get_synth
from spinvae.training.metrics import attribute_spearman, preset_accuracy
from spinvae.training.objective import (
    LossConfig, OptimizerConfig, attribute_term, beta_at, lr_factor, morph_term, parameter_group, total_loss,
)


class SpinVAEModule(L.LightningModule):
    """SPINVAE training.

    Args:
        vae: architecture.
        loss: loss weights and attribute regularisation.
        optimizer: learning rates and schedule.
        init_checkpoint: a checkpoint of an earlier stage whose weights start this one (for the
            sub-modules both models have: e.g. the audio CNN of an audio-only pre-training); also a
            model folder, ``shipped`` (the synth's shipped model) or ``shipped:NAME`` (fine-tuning a
            shipped model: docs/models.md).
        init_modules: which sub-modules to take from ``init_checkpoint``.
        compile: compile the VAE's forward with ``torch.compile`` when training (about a minute of
            compilation on a CPU, then faster steps: docs/model.md, "Speed").
        data_info: set from the DataModule (linked by the CLI), saved in checkpoints.
    """

    def __init__(
        self,
        vae: VAEConfig | None = None,
        loss: LossConfig | None = None,
        optimizer: OptimizerConfig | None = None,
        init_checkpoint: str | None = None,
        init_modules: list[str] | None = None,
        compile: bool = False,
        data_info: dict[str, Any] | None = None,
    ):
        super().__init__()
        vae, loss, optimizer = _config(VAEConfig, vae), _config(LossConfig, loss), _config(OptimizerConfig, optimizer)
        if data_info is None:
            raise ValueError("data_info is required (the CLI links it from the DataModule)")
        # plain containers only, so that checkpoints load with torch.load(weights_only=True)
        self.save_hyperparameters({
            "vae": asdict(vae), "loss": asdict(loss), "optimizer": asdict(optimizer),
            "init_checkpoint": init_checkpoint, "init_modules": init_modules, "compile": compile,
            "data_info": data_info,
        })
        self.loss_config, self.optimizer_config, self.data_info = loss, optimizer, data_info
        self.data = DataInfo.from_dict(data_info)
        self.synth = get_synth(self.data.synth)
        self.schema = self.synth.schema
        self.vae = SpinVAE(vae, TokenLayout.from_schema(self.schema), self.data.spectrogram_shape)
        names = list(self.data.attributes)
        wanted = names if loss.attributes is None else list(loss.attributes)
        unknown = [a for a in wanted if a not in names]
        if unknown:
            raise ValueError(f"unknown attributes {unknown}; the dataset has {names}")
        if loss.synth_weight > 0 and (not self.synth.differentiable or self.schema.is_categorical.any()
                                      or "preset" not in vae.decoders):
            raise ValueError(f"loss.synth_weight needs a preset decoder and a differentiable synth without categorical "
                             f"parameters; {self.synth.name} is {'not ' if not self.synth.differentiable else ''}"
                             f"differentiable and has {int(self.schema.is_categorical.sum())} categorical parameters")
        if loss.morph_weight > 0 and (loss.proxy is None or "preset" not in vae.decoders):
            raise ValueError("loss.morph_weight needs loss.proxy (an attribute proxy file: spinvae proxy) and a preset decoder")
        if loss.attribute_loss != "none" and len(wanted) * loss.chunk > vae.dim_z:
            raise ValueError(f"{len(wanted)} attributes x chunk {loss.chunk} exceed dim_z={vae.dim_z}")
        self.attribute_names = wanted if loss.attribute_loss != "none" else []
        index = [names.index(a) for a in self.attribute_names]
        self.register_buffer("attribute_index", torch.tensor(index, dtype=torch.long), persistent=False)
        self.register_buffer("attribute_low", torch.tensor(self.data.attribute_low, dtype=torch.float32)[index],
                             persistent=False)
        self.register_buffer("attribute_high", torch.tensor(self.data.attribute_high, dtype=torch.float32)[index],
                             persistent=False)
        self._validation: dict[str, list[np.ndarray]] = {}
        self._steps: float | None = None
        # the morph term's judge, loaded when a fit starts (using the model never needs it); kept out of the
        # module's parameters and state dict: frozen, and not part of the model
        self.__dict__["proxy"] = None

    # -- steps ---------------------------------------------------------------------------------
    def _step(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        training = stage == "train"
        generator = None
        if training:  # noise as a function of the step: a resumed run continues the same optimisation
            generator = torch.Generator(device=self.device)
            generator.manual_seed(torch.initial_seed() + 1_000_003 * self.global_step + self.global_rank)
        out = self.vae(batch["classes"], batch["numbers"], batch["spectrogram"], sample=training, generator=generator)
        terms = self.vae.loss_terms(out, batch["classes"], batch["numbers"], batch["spectrogram"],
                                    self.loss_config.free_bits)
        if self.loss_config.synth_weight > 0:
            terms["synth"] = self._synth_term(out.preset, batch["numbers"])
        if self.loss_config.morph_weight > 0 and self.proxy is not None:
            terms["morph"] = self._morph_term(out.z, batch, generator)
        if len(self.attribute_names):
            attributes = batch["attributes"][:, self.attribute_index]
            terms["attribute"] = attribute_term(self.loss_config, out.mu.float(), attributes, self.attribute_low,
                                                self.attribute_high)
        beta = beta_at(self.loss_config, self.global_step / self._total_steps())
        loss = total_loss(self.loss_config, terms, beta)
        size = len(batch["classes"])
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=size, sync_dist=not training)
        self.log_dict({f"{stage}/{k}": v for k, v in terms.items()}, batch_size=size, sync_dist=not training)
        if training:
            self.log("beta", beta, batch_size=size)
        else:
            self._evaluate(batch, out, stage)
        return loss

    def _synth_term(self, preset_out: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
        """Synth in the loop (``loss.synth_weight``): the spectral distance between the renders of the
        decoded presets (expected values) and of the input presets, for the batch's first presets."""
        k = min(self.loss_config.synth_presets, len(numbers))
        render = self.data.render
        note, velocity = render.notes[0]
        settings = RenderSettings(render.sample_rate, render.notes[:1], self.loss_config.synth_seconds,
                                  self.loss_config.synth_seconds)
        notes = torch.full((k,), float(note), device=numbers.device)
        velocities = torch.full((k,), float(velocity), device=numbers.device)
        decoded = self.synth.render_controls(self.vae.expected_numbers(preset_out[:k]), notes, velocities, settings)
        with torch.no_grad():
            target = self.synth.render_controls(numbers[:k].float(), notes, velocities, settings)
        return spectral_distance(decoded, target, render.sample_rate).mean()

    def _morph_term(self, z: torch.Tensor, batch: dict[str, Any], generator: torch.Generator | None) -> torch.Tensor:
        """The morph term (``loss.morph_weight``, :func:`morph_term`): each preset of the batch paired with the
        next one (the last with the first), a code at a random position u of the line between their codes
        decoded, its timbre judged by the proxy, against the line between the proxy's attributes of the two
        real presets (so the proxy's own bias cancels)."""
        proxy = self.proxy.to(z.device)
        partner = torch.roll(torch.arange(len(z), device=z.device), 1)
        u = torch.rand(len(z), generator=generator, device=z.device, dtype=torch.float32)
        z_u = (1 - u)[:, None] * z.float() + u[:, None] * z.float()[partner]
        path = proxy(self.vae.token_distributions(self.vae.preset_decoder(z_u)))
        with torch.no_grad():
            ends = proxy(token_features(self.vae.layout, batch["classes"], batch["numbers"]))
        return morph_term(path, ends, ends[partner], u)

    def _total_steps(self) -> float:
        if self._steps is None:  # Lightning recomputes it on each access (it sets up the loaders)
            self._steps = max(float(self.trainer.estimated_stepping_batches), 1.0)
        return self._steps

    def _evaluate(self, batch: dict[str, Any], out, stage: str) -> None:
        size = len(batch["classes"])
        if out.preset is not None:
            target = torch.as_tensor(self.schema.from_tokens(batch["classes"].cpu().numpy(),
                                                             batch["numbers"].cpu().numpy()).astype(np.int64))
            predicted = self.vae.preset_values(out.preset).cpu()
            metrics = preset_accuracy(predicted, target, self.vae.categorical.cpu(), self.vae.numerical.cpu())
            self.log_dict({f"{stage}/{k}": v for k, v in metrics.items()}, batch_size=size, sync_dist=True)
        if out.spectrogram is not None:
            mse = torch.mean((out.spectrogram - batch["spectrogram"]) ** 2)
            self.log(f"{stage}/spectrogram_mse", mse, batch_size=size, sync_dist=True)
        if len(self.attribute_names):
            self._validation.setdefault("mu", []).append(out.mu.float().cpu().numpy())
            self._validation.setdefault("attributes", []).append(
                batch["attributes"][:, self.attribute_index].float().cpu().numpy())

    def _log_attribute_spearman(self, stage: str) -> None:
        if not self._validation:
            return
        mu, attributes = (np.concatenate(self._validation[k]) for k in ("mu", "attributes"))
        self._validation = {}
        if self.trainer.world_size > 1:  # a rank holds its share of the split: rank by rank it would be noise
            mu, attributes = (self.all_gather(torch.from_numpy(a)).flatten(0, 1).cpu().numpy() for a in (mu, attributes))
        rho = attribute_spearman(mu, attributes, self.loss_config.chunk)
        self.log(f"{stage}/spearman_mean", float(np.nanmean(rho)) if np.isfinite(rho).any() else float("nan"))
        self.log_dict({f"{stage}/spearman/{name}": float(r) for name, r in zip(self.attribute_names, rho)})

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_attribute_spearman("val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._step(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_attribute_spearman("test")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Latent means and decoded presets: ``uid``, ``mu`` (B, dim_z), ``values`` (B, T) int64."""
        out = self.vae(batch["classes"], batch["numbers"], batch["spectrogram"], sample=False)
        values = self.vae.preset_values(out.preset) if out.preset is not None else None
        return {"uid": batch["uid"], "mu": out.mu, "values": values}

    # -- optimisation --------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        if stage == "fit" and self.loss_config.morph_weight > 0:
            from spinvae.training.proxy import load_proxy

            proxy, synth, _ = load_proxy(self.loss_config.proxy)
            if synth != self.synth.name or proxy.net[0].in_features != n_token_features(self.vae.layout):
                raise ValueError(f"{self.loss_config.proxy}: a proxy of the {synth} synth's {proxy.net[0].in_features} "
                                 f"inputs; this model's synth is {self.synth.name}")
            self.__dict__["proxy"] = proxy
        if stage == "fit" and self.hparams.init_checkpoint:
            self._load_initial_weights(self.hparams.init_checkpoint, self.hparams.init_modules)
        if stage == "fit" and self.hparams.get("compile"):
            # each network on its own (the latent sampling between them takes a torch.Generator, which
            # torch.compile cannot trace); in place, so the state dict's keys stay the plain model's
            for network in (self.vae.preset_encoder, self.vae.audio_encoder, self.vae.preset_decoder,
                            self.vae.spectrogram_decoder):
                if network is not None:
                    network.compile()

    def _load_initial_weights(self, path: str, modules: list[str] | None) -> None:
        state = initial_state(path, self.synth.name)
        available = {name.split(".")[1] for name in state if name.startswith("vae.")}
        wanted = [m for m in (modules or sorted(available)) if getattr(self.vae, m, None) is not None]
        missing = [m for m in wanted if m not in available]
        if missing:
            raise ValueError(f"{path}: no weights for {missing} (it has {sorted(available)})")
        for module in wanted:
            prefix = f"vae.{module}."
            getattr(self.vae, module).load_state_dict({k[len(prefix):]: v for k, v in state.items()
                                                        if k.startswith(prefix)})

    def configure_optimizers(self) -> dict[str, Any]:
        config = self.optimizer_config
        groups: dict[str, list[torch.nn.Parameter]] = {"audio": [], "preset": [], "latent": []}
        for name, parameter in self.vae.named_parameters():
            groups[parameter_group(name)].append(parameter)
        rates = {"audio": config.lr_audio, "preset": config.lr_preset, "latent": config.lr_latent}
        optimizer = torch.optim.Adam(
            [{"params": p, "lr": rates[g], "name": g} for g, p in groups.items() if p],
            weight_decay=config.weight_decay,
        )
        steps_per_epoch = self._total_steps() / max(self.trainer.max_epochs or 1, 1)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(config, step, steps_per_epoch))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def initial_state(path: str, synth: str) -> dict[str, torch.Tensor]:
    """The weights a stage starts from: a Lightning checkpoint's state dict, or a model folder's
    (``shipped``, ``shipped:NAME`` or a folder path: :mod:`spinvae.pretrained`), checksum verified."""
    from spinvae.pretrained import pretrained_state, resolve_model

    folder = resolve_model(path, synth)
    if folder is not None:
        return pretrained_state(folder)
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def _config(cls, value):
    """A config dataclass from an instance, a dict (from a checkpoint) or None (defaults)."""
    if value is None:
        return cls()
    return cls(**value) if isinstance(value, dict) else value
