"""Mel-spectrograms in dB: shape, agreement with librosa as an independent reference, floor,
frequency placement, batches, dB scaling, invalid settings."""

from __future__ import annotations

import warnings

import librosa
import numpy as np
import pytest
import torch

from spinvae.audio.mel import MelSettings, MelSpectrogram, mel_spectrogram_db, scale_db, unscale_db
from spinvae.synth.dx7.dexed import DexedSynth

SR = 16000



def librosa_reference(y: np.ndarray, sr: int = SR) -> np.ndarray:
    """The same spectrogram computed by librosa, in float64."""
    mel = librosa.feature.melspectrogram(
        y=y.astype(np.float64), sr=sr, n_fft=1024, hop_length=256, n_mels=257, power=1.0, center=True,
        pad_mode="constant",
    )
    return librosa.amplitude_to_db(mel, ref=1.0, amin=1e-6, top_db=None)


def sine(hz: float, seconds: float = 4.0, sr: int = SR, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


@pytest.fixture(scope="module")
def renders(factory_voices) -> np.ndarray:
    """Real DX7 sounds (6, 64000): note 56, velocity 75, held 3 s of 4 s."""
    synth = DexedSynth(SR)
    return np.stack([synth.render(v, 56, 75, 3.0, 4.0) for v in factory_voices[[0, 2, 33, 130, 517, 1000]]])


def test_shape_of_a_four_second_clip():
    db = mel_spectrogram_db(np.zeros(64000, np.float32), SR)
    assert db.shape == (257, 251) and db.dtype == np.float32
    assert MelSettings().n_frames(64000) == 251


def assert_matches_reference(ours: np.ndarray, ref: np.ndarray) -> None:
    """Within 1e-3 dB wherever float32 arithmetic allows it.

    The module computes in float32: bins far below the loudest bin of their frame carry the frame's
    float32 rounding noise (about 1e-6 of its peak), which is up to a few hundredths of a dB
    there. So: 1e-3 dB within 50 dB of each frame's peak, and everywhere a linear error under
    1e-5 of the frame's peak magnitude.
    """
    assert ours.shape == ref.shape
    frame_peak = ref.max(axis=0, keepdims=True)
    near = ref >= frame_peak - 50.0
    assert near.mean() > 0.05
    np.testing.assert_allclose(ours[near], ref[near], atol=1e-3, rtol=0)
    linear_error = np.abs(10.0 ** (ours / 20.0) - 10.0 ** (ref / 20.0)) / 10.0 ** (frame_peak / 20.0)
    assert linear_error.max() < 1e-5


def test_matches_librosa_everywhere_on_noise():
    y = 0.1 * np.random.default_rng(0).standard_normal(64000).astype(np.float32)
    np.testing.assert_allclose(mel_spectrogram_db(y, SR), librosa_reference(y), atol=1e-3, rtol=0)


def test_matches_librosa_on_sines():
    y = sine(440.0) + sine(3000.0, amplitude=0.01)
    assert_matches_reference(mel_spectrogram_db(y, SR), librosa_reference(y))


def test_matches_librosa_on_real_sounds(renders):
    for y in renders:
        assert_matches_reference(mel_spectrogram_db(y, SR), librosa_reference(y))


def test_silence_is_the_floor_everywhere():
    db = mel_spectrogram_db(np.zeros((2, 64000), np.float32), SR)
    assert (db == -120.0).all()
    low = mel_spectrogram_db(np.zeros(16000, np.float32), SR, MelSettings(floor_db=-80.0))
    assert (low == -80.0).all()


def test_floor_clamps_quiet_sounds():
    quiet = sine(1000.0, amplitude=1e-9)
    db = mel_spectrogram_db(quiet, SR)
    assert (db >= -120.0).all() and (db == -120.0).all()


@pytest.mark.parametrize("sr", [16000, 22050])
def test_a_1khz_sine_peaks_in_the_band_centred_nearest_1khz(sr):
    centres = librosa.mel_frequencies(259, fmin=0.0, fmax=sr / 2)[1:-1]
    expected = int(np.abs(centres - 1000.0).argmin())
    db = mel_spectrogram_db(sine(1000.0, seconds=2.0, sr=sr), sr)
    peaks = db[:, 5:-5].argmax(axis=0)  # away from the zero-padded edges
    assert (np.abs(peaks - expected) <= 1).all()
    # and it is a narrow peak: bands far from it are much lower
    mid = db[:, db.shape[1] // 2]
    assert mid.max() - np.delete(mid, np.arange(expected - 6, expected + 7)).max() > 40.0


def test_batch_shapes_are_preserved(renders):
    batch = renders.reshape(2, 3, -1)
    db = mel_spectrogram_db(batch, SR)
    assert db.shape == (2, 3, 257, 251)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(db[i, j], mel_spectrogram_db(batch[i, j], SR), atol=1e-4, rtol=0)
    assert mel_spectrogram_db(np.zeros((1, 1, 1, 16000), np.float32), SR).shape == (1, 1, 1, 257, 63)


def test_module_on_torch_tensors_matches_numpy(renders):
    module = MelSpectrogram(SR)
    with torch.inference_mode():
        out = module(torch.from_numpy(renders[:2]))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), mel_spectrogram_db(renders[:2], SR), atol=1e-4, rtol=0)
    # float64 input is accepted and computed the same way
    np.testing.assert_allclose(
        mel_spectrogram_db(renders[0].astype(np.float64), SR), mel_spectrogram_db(renders[0], SR), atol=1e-4, rtol=0
    )


def test_scale_db_maps_the_range_to_minus_one_one():
    db_min, db_max = -120.0, 35.0
    np.testing.assert_allclose(scale_db(np.array([db_min, db_max, (db_min + db_max) / 2]), db_min, db_max), [-1, 1, 0])
    x = np.random.default_rng(1).uniform(-150, 50, size=(4, 257, 251))
    scaled = scale_db(x, db_min, db_max)
    np.testing.assert_allclose(unscale_db(scaled, db_min, db_max), x, atol=1e-9)
    inside = (x >= db_min) & (x <= db_max)
    assert (np.abs(scaled[inside]) <= 1).all() and (np.abs(scaled[~inside]) > 1).all()
    t = torch.tensor([db_min, 0.0, db_max])
    st = scale_db(t, db_min, db_max)
    assert isinstance(st, torch.Tensor)
    torch.testing.assert_close(unscale_db(st, db_min, db_max), t)
    assert st[0].item() == -1.0 and st[2].item() == 1.0


def test_too_many_mel_bands_for_the_fft_size():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # librosa's "Empty filters detected"
        with pytest.raises(ValueError, match="too many"):
            MelSpectrogram(SR, MelSettings(n_fft=256, n_mels=1000))
        with pytest.raises(ValueError, match="1000 mel bands"):
            mel_spectrogram_db(np.zeros(4096, np.float32), SR, MelSettings(n_fft=256, n_mels=1000))
    MelSpectrogram(SR, MelSettings())  # the defaults are fine
