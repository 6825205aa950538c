"""A model's encoder as the first guess of sound matching (spinvae.interpolation.sound_to_preset, match --ckpt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from spinvae.cli.main import main
from spinvae.interpolation.model import load_model, scaled_spectrograms
from spinvae.interpolation.sound_to_preset import (
    EncoderGuessError,
    check_sound_encoder,
    guess_presets,
    model_input,
)
from spinvae.matching.recording import Recording, read_recording
from spinvae.synth.base import RenderSettings
from spinvae.synth.registry import get_synth
from tests.conftest import TINY_CNN

NOTE, VELOCITY, RATE = 64, 100, 16000


@pytest.fixture(scope="module")
def ear(tmp_path_factory) -> str:
    """An audio_only pluck model (CNN -> latent -> preset decoder) trained one epoch on 64 procedural presets."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from spinvae.audio.mel import MelSettings
    from spinvae.data.build import BuildConfig, build_dataset
    from spinvae.data.datamodule import PresetDataModule
    from spinvae.training.module import SpinVAEModule

    root = tmp_path_factory.mktemp("ear")
    config = BuildConfig(synth="pluck", procedural=64, seed=0, chunk_size=32,
                         render=RenderSettings(sample_rate=RATE, notes=((NOTE, VELOCITY),), note_duration=0.75,
                                               duration=1.0),
                         mel=MelSettings(n_fft=512, hop_length=256, n_mels=64))
    build_dataset(root / "data", config, log=lambda *_: None, progress=False)
    datamodule = PresetDataModule(str(root / "data"), batch_size=16, augment=False)
    model = SpinVAEModule(vae=dict(dim_z=16, fusion="audio_only", decoders=["preset"], d_model=32, n_heads=2, d_ff=64,
                                   encoder_layers=1, decoder_layers=1, cnn_channels=TINY_CNN),
                          loss=dict(attribute_loss="none", spectrogram_weight=0.0), data_info=datamodule.model_info())
    trainer = L.Trainer(max_epochs=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[ModelCheckpoint(dirpath=root, save_last=True)], accelerator="cpu")
    trainer.fit(model, datamodule)
    return str(root / "last.ckpt")


def recording_of(values: np.ndarray, note: int, sample_rate: int, seconds: float = 1.0) -> Recording:
    """One pluck preset (learnable values) played at ``note``, velocity 100, as a recording."""
    synth = get_synth("pluck")
    render = RenderSettings(sample_rate=sample_rate, notes=((note, VELOCITY),), note_duration=0.75 * seconds,
                            duration=seconds)
    audio = synth.render(synth.schema.from_learnable(values[None]), render)[0, 0]
    return Recording(Path(f"note_{note}.wav"), audio, sample_rate, float(note), "given", float("nan"), 1.0)


def test_a_render_at_the_datasets_note_and_rate_is_the_models_own_input(ear):
    module = load_model(ear)
    synth = get_synth("pluck")
    values = synth.schema.learnable(synth.generate(3, seed=5).params)
    for v, expected in zip(values, scaled_spectrograms(module, values, workers=1).numpy()):
        made = model_input(module, recording_of(v, NOTE, RATE))
        assert made.shape == tuple(module.data.spectrogram_shape)
        np.testing.assert_allclose(made, expected, atol=2e-3)  # a render alone vs in a batch: float32 sums


def tone(hz: float, note: float, rate: int, seconds: float) -> Recording:
    t = np.arange(int(rate * seconds)) / rate
    return Recording(Path("tone.wav"), (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate, note, "given",
                     hz, 1.0)


def test_a_recording_at_another_note_rate_and_length_is_shifted_to_the_datasets_note(ear):
    module = load_model(ear)
    loudest_band = lambda x: int(x[0, :, 5:30].mean(axis=1).argmax())  # noqa: E731
    at_e4 = model_input(module, tone(329.63, NOTE, RATE, 1.0))  # E4, the dataset's note: no shift
    a3 = tone(220.0, NOTE - 7, 48000, 2.5)  # A3 at 48 kHz, 2.5 s: shifted up a fifth, resampled, cut to 1 s
    shifted = model_input(module, a3)
    assert shifted.shape == at_e4.shape == tuple(module.data.spectrogram_shape)
    assert loudest_band(shifted) == loudest_band(at_e4)
    unshifted = model_input(module, Recording(a3.path, a3.audio, 48000, float(NOTE), "given", 220.0, 1.0))
    assert loudest_band(unshifted) < loudest_band(at_e4)  # played as if it were E4, A3 stays lower


def test_the_guess_is_the_decoded_posterior_mean_in_unit_controls(ear):
    module = load_model(ear)
    synth = get_synth("pluck")
    values = synth.schema.learnable(synth.generate(4, seed=3).params)
    recordings = [recording_of(v, note, RATE) for v, note in zip(values, (52, 60, 64, 71))]
    guess = guess_presets(module, recordings)
    assert guess.shape == (4, synth.schema.n_learnable)
    assert (guess >= 0).all() and (guess <= 1).all()
    on_grid = guess * (synth.schema.cardinalities - 1)
    np.testing.assert_allclose(on_grid, np.rint(on_grid), atol=1e-9)  # presets a file can store
    with torch.no_grad():
        mu, _ = module.vae.encode(spectrogram=torch.from_numpy(np.stack([model_input(module, r) for r in recordings])))
        expected = module.vae.decode_presets(mu).numpy()
    np.testing.assert_array_equal(np.rint(on_grid).astype(int), expected)
    np.testing.assert_array_equal(guess_presets(module, recordings), guess)  # deterministic
    assert guess_presets(module, []).shape == (0, synth.schema.n_learnable)


def test_models_that_cannot_hear_or_play_pluck_are_refused(ear, tiny_checkpoint):
    with pytest.raises(EncoderGuessError, match=r"a model of the pluck synth, not of dx7$"):
        check_sound_encoder(load_model(ear), "dx7", "ear.ckpt")
    with pytest.raises(EncoderGuessError, match=r"^tiny.ckpt: a model of the dx7 synth, not of pluck$"):
        check_sound_encoder(load_model(tiny_checkpoint), "pluck", "tiny.ckpt")
    module = load_model(ear)
    module.vae.config.fusion = "preset_only"  # as a preset_only model of the same synth would say
    with pytest.raises(EncoderGuessError, match=r"fusion 'preset_only'; a first guess from sound needs an audio_only"):
        check_sound_encoder(module, "pluck", "ear.ckpt")


def test_match_takes_the_encoders_guess_and_refuses_a_model_that_cannot_give_one(ear, tiny_checkpoint, tmp_path,
                                                                                 capsys):
    synth = get_synth("pluck")
    values = synth.schema.learnable(synth.generate(1, seed=11).params)[0]
    recording = recording_of(values, 57, 48000)
    soundfile.write(tmp_path / "A3.wav", recording.audio, 48000)
    out = tmp_path / "matched"
    assert main(["match", str(tmp_path / "A3.wav"), "--ckpt", ear, "--steps", "0", "--out", str(out)]) == 0
    import pandas as pd

    row = pd.read_csv(out / "matches.csv").iloc[0]
    guess = guess_presets(load_model(ear), [read_recording(tmp_path / "A3.wav")])  # as match reads it
    assert np.isfinite(row["guess_distance"])
    # with no step, the match is the encoder's guess itself
    written = synth.schema.learnable(synth.read_bank(out / "A3.json").params)[0] / (synth.schema.cardinalities - 1)
    np.testing.assert_allclose(written, guess[0], atol=1e-9)
    capsys.readouterr()
    assert main(["match", str(tmp_path / "A3.wav"), "--ckpt", tiny_checkpoint, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"spinvae: error: {tiny_checkpoint}: a model of the dx7 synth, not of pluck"]
    assert not (tmp_path / "x").exists()
