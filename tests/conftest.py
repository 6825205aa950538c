"""Shared fixtures: the real DX7 banks of ../shared (tests that need them skip, saying why)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DX7_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dx7"


def _real_bank_files() -> list[Path]:
    return sorted(DX7_DIR.rglob("*.syx")) if DX7_DIR.is_dir() else []


@pytest.fixture(scope="session")
def real_bank_files() -> list[Path]:
    """Every real DX7 bank file of ../shared/data/dx7 (2,086 files)."""
    files = _real_bank_files()
    if not files:
        pytest.skip(f"real DX7 banks not found at {DX7_DIR}: put the project's shared/ folder beside the checkout")
    return files


@pytest.fixture(scope="session")
def factory_banks(real_bank_files) -> list[Path]:
    """The 32 Yamaha factory and VRC cartridges (bwhitman_learnfm/default)."""
    files = [f for f in real_bank_files if f.parent.name == "default" and "learnfm" in str(f)]
    assert len(files) == 32
    return files


@pytest.fixture(scope="session")
def factory_voices(factory_banks) -> np.ndarray:
    """(1024, 155) voices of the factory banks."""
    from spinvae.synth.dx7.sysex import read_sysex

    return np.concatenate([read_sysex(f).params for f in factory_banks])


TINY_CNN = [4, 8, 16, 16, 16, 16]  # 64 x 63 spectrograms -> 2 x 2 maps


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A small procedural dataset for model tests: 96 presets (76/10/10), 1-s renders,
    64 x 63 mel-spectrograms, with features and attributes (built once per session, ~15 s)."""
    from spinvae.audio.mel import MelSettings
    from spinvae.data.build import BuildConfig, build_dataset
    from spinvae.synth.base import RenderSettings

    root = tmp_path_factory.mktemp("tiny") / "data"
    config = BuildConfig(
        procedural=96, seed=0, chunk_size=32,
        render=RenderSettings(note_duration=0.75, duration=1.0), mel=MelSettings(n_fft=512, hop_length=256, n_mels=64),
    )
    build_dataset(root, config, log=lambda *_: None, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_dataset, tmp_path_factory) -> str:
    """A checkpoint of a tiny bimodal model trained one epoch on ``tiny_dataset``."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from spinvae.data.datamodule import PresetDataModule
    from spinvae.training.module import SpinVAEModule

    folder = tmp_path_factory.mktemp("ckpt")
    datamodule = PresetDataModule(str(tiny_dataset), batch_size=16, augment=False)
    model = SpinVAEModule(vae=dict(dim_z=100, fusion="combined", d_model=32, n_heads=2, d_ff=64, encoder_layers=1,
                                   decoder_layers=1, cnn_channels=TINY_CNN), loss=dict(chunk=2),
                          data_info=datamodule.model_info())
    trainer = L.Trainer(max_epochs=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[ModelCheckpoint(dirpath=folder, save_last=True)], accelerator="cpu")
    trainer.fit(model, datamodule)
    return str(folder / "last.ckpt")


def altered_model_folder(folder: Path, synth: str = "dx7", fusion: str = "preset_only") -> Path:
    """A model folder written by :func:`spinvae.model.weights.export_model` (a stand-in module) whose
    weights file then had one byte flipped: loading it must stop at the checksum. ``fusion``: what its
    model.json says of the architecture (``audio_only``: a sound encoder)."""
    import torch

    from spinvae.model.weights import WEIGHTS, export_model

    export_model(torch.nn.ModuleDict({"vae": torch.nn.Linear(4, 4)}),
                 {"vae": {"fusion": fusion}, "loss": {}, "optimizer": {}, "data_info": {}}, folder, name=folder.name,
                 synth=synth)
    data = bytearray((folder / WEIGHTS).read_bytes())
    data[-1] ^= 0x01
    (folder / WEIGHTS).write_bytes(bytes(data))
    return folder
