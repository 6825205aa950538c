"""All 53 timbre features of a batch of clips: 7 Audio Commons + 46 Timbre Toolbox.

Every clip gets an answer: a finite value, or NaN with a reason in the clip's reason string
(``"feature: why; ..."``, empty when every feature is fine). Nothing here raises on odd audio.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np

from spinvae.features.audio_commons import AC_FEATURES, audio_commons_features
from spinvae.features.timbre_toolbox import TT_FEATURES, timbre_toolbox_features

FEATURE_NAMES: tuple[str, ...] = AC_FEATURES + TT_FEATURES
N_FEATURES = len(FEATURE_NAMES)  # 53
AcBackend = Literal["native", "timbral_models"]
BATCH = 32  # clips per call: large enough to vectorise, small enough to stay in cache


def _features_of_batch(audio: np.ndarray, sample_rate: int, ac_backend: AcBackend) -> tuple[np.ndarray, list[str]]:
    if ac_backend == "native":
        ac, ac_reasons = audio_commons_features(audio, sample_rate)
    elif ac_backend == "timbral_models":
        from spinvae.features.timbral_models_backend import audio_commons_features_original

        ac, ac_reasons = audio_commons_features_original(audio, sample_rate)
    else:
        raise ValueError(f"ac_backend must be 'native' or 'timbral_models', got {ac_backend!r}")
    tt, tt_reasons = timbre_toolbox_features(audio, sample_rate)
    reasons = ["; ".join(r for r in pair if r) for pair in zip(ac_reasons, tt_reasons)]
    return np.concatenate([ac, tt], axis=1), reasons


def compute_features(
    audio: np.ndarray, sample_rate: int, workers: int = 1, ac_backend: AcBackend = "native"
) -> tuple[np.ndarray, list[str]]:
    """Features of clips (B, n_samples) at ``sample_rate`` Hz.

    Returns (B, 53) float64 in :data:`FEATURE_NAMES` order and one reason string per clip.
    ``workers`` threads share the batch (NumPy and torch release the GIL in the heavy parts).
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2:
        raise ValueError(f"expected audio of shape (clips, samples), got {audio.shape}")
    starts = list(range(0, len(audio), BATCH))
    if workers <= 1 or len(starts) <= 1:
        parts = [_features_of_batch(audio[s : s + BATCH], sample_rate, ac_backend) for s in starts]
    else:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda s: _features_of_batch(audio[s : s + BATCH], sample_rate, ac_backend), starts))
    if not parts:
        return np.empty((0, N_FEATURES)), []
    return np.concatenate([p[0] for p in parts]), [r for p in parts for r in p[1]]
