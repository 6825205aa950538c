"""Mel-spectrograms in dB, as the model sees sounds.

Hann-windowed STFT (torch), magnitude, a Slaney-style mel filter bank built by librosa at the
audio's true sample rate (the reference built it for 22.05 kHz while its audio was 16 kHz),
then ``20 * log10`` with a floor (-120 dB by default). With the defaults a 4-s clip at 16 kHz
gives 257 mel bands x 251 frames. Scaling to [-1, 1] uses min/max statistics of the training
split (:func:`scale_db`), computed when a dataset is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import warnings

import librosa
import numpy as np
import torch


@dataclass(frozen=True)
class MelSettings:
    """Spectrogram settings: FFT size and hop in samples, mel band count, dB floor."""

    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 257
    floor_db: float = -120.0

    def n_frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop_length


class MelSpectrogram(torch.nn.Module):
    """Audio (..., n_samples) -> dB mel-spectrogram (..., n_mels, n_frames), float32.

    Frames are centred with zero padding, so a note-on at sample 0 is seen by the first frame.
    """

    def __init__(self, sample_rate: int, settings: MelSettings = MelSettings()):
        super().__init__()
        self.settings = settings
        filters = librosa.filters.mel(
            sr=sample_rate, n_fft=settings.n_fft, n_mels=settings.n_mels, fmin=0.0, fmax=sample_rate / 2
        )
        if (filters.max(axis=1) == 0).any():
            raise ValueError(f"{settings.n_mels} mel bands are too many for n_fft={settings.n_fft} at {sample_rate} Hz")
        self.register_buffer("filters", torch.from_numpy(filters), persistent=False)
        self.register_buffer("window", torch.hann_window(settings.n_fft), persistent=False)
        # About 1,000 of the 257 x 513 weights are non-zero: on the CPU a sparse product is
        # 3-4x faster than the dense one (on a GPU the dense one is fine).
        with warnings.catch_warnings():  # torch flags CSR as beta; the one product used here is tested
            warnings.simplefilter("ignore", UserWarning)
            self._sparse_filters = torch.from_numpy(filters).to_sparse_csr()
        self.min_magnitude = 10.0 ** (settings.floor_db / 20.0)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        shape = audio.shape
        spec = torch.stft(
            audio.reshape(-1, shape[-1]).float(),
            n_fft=self.settings.n_fft,
            hop_length=self.settings.hop_length,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        if spec.device.type == "cpu":
            # torch's complex abs is about 5x slower than NumPy's on the CPU
            magnitude = torch.from_numpy(np.abs(spec.numpy()))
            n_bins = magnitude.shape[1]
            flat = magnitude.permute(1, 0, 2).reshape(n_bins, -1)
            mel = (self._sparse_filters @ flat).reshape(-1, magnitude.shape[0], magnitude.shape[2]).permute(1, 0, 2)
        else:
            mel = torch.matmul(self.filters, spec.abs())
        db = 20.0 * torch.log10(mel.clamp_min(self.min_magnitude))
        return db.reshape(shape[:-1] + db.shape[-2:])


@lru_cache(maxsize=8)
def mel_spectrogram(sample_rate: int, settings: MelSettings = MelSettings()) -> MelSpectrogram:
    """A shared :class:`MelSpectrogram` (building the filter bank takes milliseconds)."""
    return MelSpectrogram(sample_rate, settings)


def mel_spectrogram_db(audio: np.ndarray, sample_rate: int, settings: MelSettings = MelSettings()) -> np.ndarray:
    """NumPy convenience: audio (..., n_samples) -> dB mel-spectrogram (..., n_mels, n_frames)."""
    with torch.inference_mode():
        return mel_spectrogram(sample_rate, settings)(torch.from_numpy(np.asarray(audio))).numpy()


def scale_db(db: torch.Tensor | np.ndarray, db_min: float, db_max: float):
    """Min-max scale dB values to [-1, 1] (values outside [db_min, db_max] fall outside)."""
    return 2.0 * (db - db_min) / (db_max - db_min) - 1.0


def unscale_db(scaled: torch.Tensor | np.ndarray, db_min: float, db_max: float):
    """Inverse of :func:`scale_db`."""
    return (scaled + 1.0) / 2.0 * (db_max - db_min) + db_min
