"""Presets to what a dataset stores of their sound: dB mel-spectrograms, levels, timbre features.

Rendering and spectrograms run on all cores: each of ``workers`` threads renders a block of
presets with the synth, then analyses it with one torch thread. The synths' engines and torch
release the GIL, so the threads overlap. The timbre features hold the GIL much of the time (many
small NumPy steps), so with several workers they run in a pool of as many processes, kept for the
life of the program.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from spinvae.audio.mel import MelSettings, mel_spectrogram
from spinvae.synth.base import RenderSettings, Synth
from spinvae.synth.registry import get_synth

BLOCK = 16  # presets per task: small enough to balance threads, large enough to batch the STFT


@dataclass
class SoundAnalysis:
    """The analysis of n presets at n_notes (note, velocity) pairs.

    ``db`` (n, n_notes, n_mels, n_frames) float32 dB mel-spectrograms; ``rms_db`` (n, n_notes)
    float32 RMS levels in dBFS (-inf for digital silence); with features, ``features``
    (n, n_notes, 53) float64 raw timbre features and ``feature_reasons`` (n, n_notes) str, the
    reasons of NaN features ("" when none).
    """

    db: np.ndarray
    rms_db: np.ndarray
    features: np.ndarray | None = None
    feature_reasons: np.ndarray | None = None


def _init_feature_worker(parent: int) -> None:
    """Set up a feature worker process (Linux glibc; nothing happens elsewhere).

    - It dies with its parent: a killed build must not leave workers behind, holding its output
      pipes open and computing for nobody.
    - glibc keeps freed memory: the features allocate and free tens of MB of temporaries per batch,
      which glibc would hand back to the system and fault in again, about a quarter of the feature
      time (docs/features_audio_commons.md, "Speed").
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    pr_set_pdeathsig, m_trim_threshold, m_mmap_threshold = 1, -1, -3
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    libc.mallopt(m_mmap_threshold, 512 * 2**20)
    libc.mallopt(m_trim_threshold, 1024 * 2**20)


@lru_cache(maxsize=None)
def _feature_pool(workers: int) -> ProcessPoolExecutor:
    # Compile (or load) every numba function of the features here first: workers that compile the
    # same functions at once write numba's on-disk caches at once, and a cache index written by two
    # processes can point at another function's machine code (seen: a segfault in librosa's
    # peak_pick in a fresh environment). Once compiled here, the workers only read the caches.
    from spinvae.features.extract import compute_features

    compute_features(np.random.default_rng(0).standard_normal((1, 16000)).astype(np.float32) * 0.1, 16000)
    # spawn, not fork: the parent has OpenMP and synth threads, which fork would leave half-copied
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_feature_worker, initargs=(os.getpid(),))


def _features_of(audio: np.ndarray, sample_rate: int, ac_backend: str) -> tuple[np.ndarray, list[str]]:
    from spinvae.features.extract import compute_features

    torch.set_num_threads(1)
    return compute_features(audio, sample_rate, ac_backend=ac_backend)


def features_in_processes(audio: np.ndarray, sample_rate: int, ac_backend: str,
                           workers: int) -> tuple[np.ndarray, list[str]]:
    """Features of clips (B, n_samples) computed by ``workers`` processes, in clip order."""
    parts = [p for p in np.array_split(audio, workers) if len(p)]
    results = list(_feature_pool(workers).map(_features_of, parts, [sample_rate] * len(parts),
                                              [ac_backend] * len(parts)))
    return np.concatenate([r[0] for r in results]), [reason for r in results for reason in r[1]]


def analyse_presets(
    presets: np.ndarray,
    render: RenderSettings = RenderSettings(),
    mel: MelSettings = MelSettings(),
    workers: int = 1,
    delays: np.ndarray | None = None,
    features: bool = False,
    ac_backend: str = "native",
    synth: Synth | None = None,
) -> SoundAnalysis:
    """Render presets (n, n_params) of ``synth`` (default: the registry's default synth) at every
    note of ``render`` and analyse them (see SoundAnalysis).

    ``delays`` (n,) delays each note-on by that many samples (train-time augmentation);
    ``features`` adds the 53 timbre features, computed with the ``ac_backend`` Audio Commons
    implementation.
    """
    presets = np.asarray(presets, dtype=np.uint8)
    synth = synth or get_synth()
    n, n_notes = len(presets), len(render.notes)
    n_frames = mel.n_frames(render.n_samples)
    out = SoundAnalysis(
        db=np.empty((n, n_notes, mel.n_mels, n_frames), dtype=np.float32),
        rms_db=np.empty((n, n_notes), dtype=np.float32),
    )
    if features:
        from spinvae.features.extract import N_FEATURES, compute_features

        out.features = np.empty((n, n_notes, N_FEATURES), dtype=np.float64)
        out.feature_reasons = np.empty((n, n_notes), dtype=object)
    analyse = mel_spectrogram(render.sample_rate, mel)

    def analyse_block(start: int) -> None:
        torch.set_num_threads(1)  # OpenMP's thread count belongs to each calling thread
        stop = min(start + BLOCK, n)
        audio = synth.render(presets[start:stop], render, workers=1, delays=None if delays is None else delays[start:stop])
        with np.errstate(divide="ignore"):
            out.rms_db[start:stop] = 10.0 * np.log10(np.mean(np.square(audio, dtype=np.float64), axis=-1))
        with torch.inference_mode():
            out.db[start:stop] = analyse(torch.from_numpy(audio)).numpy()
        if features and workers <= 1:
            values, reasons = compute_features(audio.reshape(-1, audio.shape[-1]), render.sample_rate, ac_backend=ac_backend)
            out.features[start:stop] = values.reshape(stop - start, n_notes, -1)
            out.feature_reasons[start:stop] = np.array(reasons, dtype=object).reshape(stop - start, n_notes)
        elif features:
            rendered[start:stop] = audio

    rendered = np.empty((n, n_notes, render.n_samples), dtype=np.float32) if features and workers > 1 else None
    starts = range(0, n, BLOCK)
    previous_threads = torch.get_num_threads()
    try:
        if workers <= 1:
            for start in starts:
                analyse_block(start)
        else:
            with ThreadPoolExecutor(workers) as pool:
                for future in [pool.submit(analyse_block, s) for s in starts]:
                    future.result()
    finally:
        torch.set_num_threads(previous_threads)
    if rendered is not None:
        values, reasons = features_in_processes(rendered.reshape(n * n_notes, -1), render.sample_rate, ac_backend,
                                                 workers)
        out.features[:] = values.reshape(n, n_notes, -1)
        out.feature_reasons[:] = np.array(reasons, dtype=object).reshape(n, n_notes)
    return out


def render_spectrograms(
    presets: np.ndarray,
    render: RenderSettings = RenderSettings(),
    mel: MelSettings = MelSettings(),
    workers: int = 1,
    delays: np.ndarray | None = None,
    synth: Synth | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """dB mel-spectrograms (n, n_notes, n_mels, n_frames) and RMS levels (n, n_notes) of presets."""
    analysis = analyse_presets(presets, render, mel, workers, delays, synth=synth)
    return analysis.db, analysis.rms_db
