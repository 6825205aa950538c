"""The LightningModule: learning, resuming, checkpoints that stand alone, stage chaining."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from spinvae.data.datamodule import PresetDataModule
from spinvae.model.latent import kl_free_bits
from spinvae.model.tokens import TokenLayout
from spinvae.model.vae import SpinVAE, VAEConfig
from spinvae.synth.dx7.schema import DX7_SCHEMA
from spinvae.synth.dx7.generator import generate_presets
from spinvae.training.metrics import preset_accuracy
from spinvae.training.module import SpinVAEModule
from tests.conftest import TINY_CNN

TINY = dict(dim_z=100, d_model=32, n_heads=2, d_ff=64, encoder_layers=1, decoder_layers=1, cnn_channels=TINY_CNN)


def trainer(tmp_path, max_epochs: int, **kwargs) -> L.Trainer:
    return L.Trainer(max_epochs=max_epochs, logger=False, enable_progress_bar=False, enable_model_summary=False,
                     default_root_dir=tmp_path, accelerator="cpu", **kwargs)


def module(datamodule: PresetDataModule, **overrides) -> SpinVAEModule:
    vae = dict(TINY, fusion="combined") | overrides.pop("vae", {})
    return SpinVAEModule(vae=vae, loss=dict(chunk=2) | overrides.pop("loss", {}), data_info=datamodule.model_info(),
                         **overrides)


@pytest.fixture()
def datamodule(tiny_dataset) -> PresetDataModule:
    return PresetDataModule(str(tiny_dataset), batch_size=16, augment=False)


def test_a_tiny_model_overfits_32_presets():
    torch.manual_seed(0)
    layout = TokenLayout.from_schema(DX7_SCHEMA)
    presets, _ = generate_presets(32, seed=1)
    values = DX7_SCHEMA.learnable(presets)
    classes, numbers = (torch.from_numpy(x) for x in DX7_SCHEMA.to_tokens(values))
    target = torch.from_numpy(values.astype(np.int64))
    vae = SpinVAE(VAEConfig(dim_z=64, decoders=["preset"], d_model=32, n_heads=2, d_ff=64, encoder_layers=1,
                            decoder_layers=1), layout, (1, 8, 8))
    optimizer = torch.optim.Adam(vae.parameters(), lr=3e-3)

    def accuracy() -> dict[str, float]:
        vae.eval()
        with torch.no_grad():
            predicted = vae.preset_values(vae(classes, numbers, sample=False).preset)
        vae.train()
        return {k: float(v) for k, v in preset_accuracy(predicted, target, layout.categorical, layout.numerical).items()}

    before = accuracy()
    for _ in range(250):
        out = vae(classes, numbers)
        ce, nll = vae.preset_losses(out.preset, classes, numbers)
        loss = ce + nll + 1e-4 * kl_free_bits(out.mu, out.variance, 0.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = accuracy()
    assert after["categorical_accuracy"] >= 0.95
    assert after["numerical_error_steps"] < 0.25 * before["numerical_error_steps"], (before, after)


def test_fit_logs_the_metrics_and_checkpoints_load_with_weights_only(tmp_path, datamodule):
    model = module(datamodule)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True, monitor="val/loss")
    fit = trainer(tmp_path, 1, callbacks=[checkpoint])
    fit.fit(model, datamodule)
    metrics = fit.callback_metrics
    for name in ("train/loss", "train/kl", "train/spectrogram", "train/categorical", "train/numerical",
                 "train/attribute", "val/loss", "val/categorical_accuracy", "val/numerical_error_steps",
                 "val/spectrogram_mse", "val/spearman_mean", "val/spearman/ac_brightness"):
        assert name in metrics and torch.isfinite(metrics[name]), name
    state = torch.load(tmp_path / "last.ckpt", weights_only=True)
    info = state["hyper_parameters"]["data_info"]
    assert info["attributes"] == datamodule.model_info()["attributes"]
    assert info["normalization"] == datamodule.manifest.raw["normalization"]
    loaded = SpinVAEModule.load_from_checkpoint(tmp_path / "last.ckpt", weights_only=True)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor)


class _StopAtEpoch(Callback):
    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise KeyboardInterrupt  # as a user's Ctrl-C: Lightning stops gracefully


def test_resuming_continues_the_same_optimisation(tmp_path, datamodule):
    L.seed_everything(0)
    straight = module(datamodule)
    trainer(tmp_path / "a", 2).fit(straight, datamodule)

    L.seed_everything(0)
    interrupted = module(datamodule)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "b", save_last=True)
    first = trainer(tmp_path / "b", 2, callbacks=[checkpoint, _StopAtEpoch(1)])
    with pytest.raises(SystemExit):  # Lightning shuts down gracefully, then exits
        first.fit(interrupted, datamodule)
    assert first.interrupted and first.current_epoch == 1

    L.seed_everything(0)
    resumed = module(datamodule)
    second = trainer(tmp_path / "b", 2)
    second.fit(resumed, datamodule, ckpt_path=tmp_path / "b" / "last.ckpt")
    assert second.global_step == 2 * first.global_step
    for name, tensor in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], tensor, msg=name)


def test_a_stage_starts_from_the_previous_stage_weights(tmp_path, datamodule):
    pretrain = module(datamodule, vae=dict(fusion="audio_only", decoders=["spectrogram"]), loss=dict(
        attribute_loss="none"))
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    trainer(tmp_path, 1, callbacks=[checkpoint]).fit(pretrain, datamodule)
    full = module(datamodule, init_checkpoint=str(tmp_path / "last.ckpt"),
                  init_modules=["audio_encoder", "spectrogram_decoder"])
    before = full.vae.preset_encoder.state_dict()
    full.setup("fit")
    for part in ("audio_encoder", "spectrogram_decoder"):
        for name, tensor in getattr(pretrain.vae, part).state_dict().items():
            torch.testing.assert_close(getattr(full.vae, part).state_dict()[name], tensor)
    for name, tensor in full.vae.preset_encoder.state_dict().items():
        assert torch.equal(tensor, before[name])
    wrong = module(datamodule, init_checkpoint=str(tmp_path / "last.ckpt"), init_modules=["preset_encoder"])
    with pytest.raises(ValueError, match="no weights for \\['preset_encoder'\\]"):
        wrong.setup("fit")


def test_unknown_or_too_many_attributes_are_clear_errors(datamodule):
    with pytest.raises(ValueError, match="unknown attributes \\['ac_nope'\\]"):
        module(datamodule, loss=dict(attributes=["ac_nope"]))
    with pytest.raises(ValueError, match="exceed dim_z=100"):
        module(datamodule, loss=dict(chunk=4))


def test_bf16_mixed_precision_trains_with_finite_losses(tmp_path, datamodule):
    model = module(datamodule)
    fit = trainer(tmp_path, 1, precision="bf16-mixed", limit_train_batches=2, limit_val_batches=1,
                  enable_checkpointing=False)
    fit.fit(model, datamodule)
    for name in ("train/loss", "train/numerical", "val/loss", "val/categorical_accuracy"):
        assert torch.isfinite(fit.callback_metrics[name]), name


def test_synth_in_the_loop_needs_a_differentiable_synth_without_categorical_parameters(datamodule):
    with pytest.raises(ValueError, match="synth_weight needs .* dx7 is not differentiable and has 22 categorical"):
        module(datamodule, loss={"synth_weight": 1.0})


def test_the_morph_term_trains_with_a_proxy_file_and_is_refused_without_one(tmp_path, datamodule, tiny_dataset):
    from spinvae.model.proxy import ProxyConfig
    from spinvae.training.proxy import ProxyTraining, fit_proxy, save_proxy

    with pytest.raises(ValueError, match="morph_weight needs loss.proxy"):
        module(datamodule, loss={"morph_weight": 1.0})
    proxy, report = fit_proxy(tiny_dataset, ProxyConfig(hidden=32, layers=1), ProxyTraining(epochs=2))
    path = save_proxy(tmp_path / "proxy.safetensors", proxy, "dx7", report)
    model = module(datamodule, loss={"morph_weight": 1.0, "proxy": str(path)})
    fit = trainer(tmp_path, 1, limit_train_batches=2, limit_val_batches=1, enable_checkpointing=False)
    fit.fit(model, datamodule)
    assert torch.isfinite(fit.callback_metrics["train/morph"]) and fit.callback_metrics["train/morph"] > 0
    assert "proxy" not in " ".join(model.state_dict())  # the judge is not part of the model
    wrong = module(datamodule, loss={"morph_weight": 1.0, "proxy": str(path)})
    save_proxy(path, proxy, "pluck", report)
    with pytest.raises(ValueError, match="a proxy of the pluck synth"):
        wrong.setup("fit")
