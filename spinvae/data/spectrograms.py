"""Presets to dB mel-spectrograms: render and analyse on all cores."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from spinvae.audio.mel import MelSettings, mel_spectrogram
from spinvae.synth.base import RenderSettings
from spinvae.synth.render import render_presets

BLOCK = 16  # presets per task: small enough to balance threads, large enough to batch the STFT


def render_spectrograms(
    presets: np.ndarray,
    render: RenderSettings = RenderSettings(),
    mel: MelSettings = MelSettings(),
    workers: int = 1,
    delays: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Render presets (n, 155) and analyse them.

    Returns dB mel-spectrograms (n, n_notes, n_mels, n_frames) float32 and the RMS level of
    each render in dBFS (n, n_notes) float32 (-inf for digital silence). Each of ``workers``
    threads renders and analyses blocks of presets with one synth and one torch thread: the
    Dexed engine and torch both release the GIL, so the threads overlap.
    """
    presets = np.asarray(presets, dtype=np.uint8)
    n, n_notes = len(presets), len(render.notes)
    n_frames = mel.n_frames(render.n_samples)
    db = np.empty((n, n_notes, mel.n_mels, n_frames), dtype=np.float32)
    rms_db = np.empty((n, n_notes), dtype=np.float32)
    analyse = mel_spectrogram(render.sample_rate, mel)

    def analyse_block(start: int) -> None:
        torch.set_num_threads(1)  # OpenMP's thread count belongs to each calling thread
        stop = min(start + BLOCK, n)
        audio = render_presets(presets[start:stop], render, workers=1, delays=None if delays is None else delays[start:stop])
        with np.errstate(divide="ignore"):
            rms_db[start:stop] = 10.0 * np.log10(np.mean(np.square(audio, dtype=np.float64), axis=-1))
        with torch.inference_mode():
            db[start:stop] = analyse(torch.from_numpy(audio)).numpy()

    starts = range(0, n, BLOCK)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # parallelism comes from our threads; nested OpenMP would oversubscribe
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
    return db, rms_db
