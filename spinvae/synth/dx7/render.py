"""Rendering many presets on all cores."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from spinvae.synth.base import RenderSettings, Voice
from spinvae.synth.dx7.dexed import DexedSynth


def render_presets(
    presets: np.ndarray,
    settings: RenderSettings = RenderSettings(),
    workers: int = 1,
    synth_factory: Callable[[int], Voice] = DexedSynth,
    delays: np.ndarray | None = None,
) -> np.ndarray:
    """Render presets (n, n_params) at every (note, velocity) of ``settings``.

    Returns audio (n, n_notes, n_samples) float32. ``workers`` threads each own one synth made
    by ``synth_factory(sample_rate)`` and write straight into the output array. ``delays``
    (n,) delays each preset's note-on by that many samples (the train-time augmentation),
    keeping the length.
    """
    presets = np.asarray(presets, dtype=np.uint8)
    n = len(presets)
    out = np.empty((n, len(settings.notes), settings.n_samples), dtype=np.float32)
    local = threading.local()

    def render_range(start: int, stop: int) -> None:
        if not hasattr(local, "synth"):
            local.synth = synth_factory(settings.sample_rate)
        for i in range(start, stop):
            for j, (note, velocity) in enumerate(settings.notes):
                audio = local.synth.render(presets[i], note, velocity, settings.note_duration, settings.duration)
                d = 0 if delays is None else int(delays[i])
                out[i, j, :d] = 0.0
                out[i, j, d:] = audio[: settings.n_samples - d]

    workers = max(1, min(workers, n))
    if workers == 1:
        render_range(0, n)
        return out
    bounds = np.linspace(0, n, 4 * workers + 1).astype(int)  # a few ranges per thread balance the load
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(render_range, a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]:
            future.result()
    return out
