"""A model's ear as a first guess for sound matching: recordings in, presets out, in one forward pass.

A model trained with ``fusion: audio_only`` (its latent made from the mel-spectrogram alone, as in
the sound-matching encoder of docs/matching.md) and a preset decoder predicts a preset from a sound: the
amortised first guess that :func:`spinvae.matching.fit.match_audio` then refines by analysis by
synthesis.

A recording is made into the model's input as its dataset's renders were: resampled to the dataset's
rate, cut or padded to the dataset's render length, and analysed with the dataset's mel settings and
dB scale. The dataset played every preset at fixed notes, a recording plays its own: for each note
channel of the model's input the recording is pitch-shifted (librosa's phase vocoder, which keeps the
duration and so the decay times) from its own note to that channel's note. Shifting also moves the
body resonances and, by octaves, smears the attack: the guess is a starting point, the fit corrects it,
and ``BENCHMARKS.md`` (sound matching) measures both.
"""

from __future__ import annotations

import numpy as np
import torch

from spinvae.audio.mel import mel_spectrogram, scale_db
from spinvae.interpolation.model import decode_latents
from spinvae.matching.recording import Recording
from spinvae.training.module import SpinVAEModule


class EncoderGuessError(ValueError):
    """A checkpoint that cannot guess presets from sound: one line naming it and why."""


def check_sound_encoder(module: SpinVAEModule, synth_name: str, checkpoint: str = "the checkpoint") -> None:
    """Raise :class:`EncoderGuessError` unless the model encodes sound alone and decodes ``synth_name`` presets."""
    if module.data.synth != synth_name:
        raise EncoderGuessError(f"{checkpoint}: a model of the {module.data.synth} synth, not of {synth_name}")
    if module.vae.config.fusion != "audio_only" or module.vae.preset_decoder is None:
        raise EncoderGuessError(f"{checkpoint}: its latent is made with fusion {module.vae.config.fusion!r}; a first "
                                f"guess from sound needs an audio_only model with a preset decoder "
                                f"(docs/matching.md, a model's ear)")


def model_input(module: SpinVAEModule, recording: Recording) -> np.ndarray:
    """The model's scaled input (n_notes, n_mels, n_frames) float32 made from one recording."""
    import librosa

    render, mel = module.data.render, module.data.mel
    audio = np.asarray(recording.audio, dtype=np.float32)
    if recording.sample_rate != render.sample_rate:
        audio = librosa.resample(audio, orig_sr=recording.sample_rate, target_sr=render.sample_rate)
    audio = np.pad(audio[: render.n_samples], (0, max(0, render.n_samples - len(audio))))
    channels = np.stack([
        librosa.effects.pitch_shift(audio, sr=render.sample_rate, n_steps=note - recording.note)
        if abs(note - recording.note) > 1e-3 else audio
        for note, _ in render.notes
    ]).astype(np.float32)
    with torch.inference_mode():
        db = mel_spectrogram(render.sample_rate, mel)(torch.from_numpy(channels)).numpy()
    return scale_db(db, module.data.db_min, module.data.db_max).astype(np.float32)


@torch.no_grad()
def guess_presets(module: SpinVAEModule, recordings: list[Recording]) -> np.ndarray:
    """Unit controls (n, n_learnable) in [0, 1] of the presets the model hears in ``recordings``: the
    most probable preset decoded from each recording's posterior mean."""
    if not recordings:
        return np.zeros((0, module.schema.n_learnable))
    spectrograms = torch.from_numpy(np.stack([model_input(module, r) for r in recordings])).to(module.device)
    mu, _ = module.vae.encode(spectrogram=spectrograms)
    values = decode_latents(module, mu).astype(np.float64)
    return values / (np.asarray(module.schema.cardinalities) - 1)
