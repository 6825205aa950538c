"""Pictures of sounds: strips of mel-spectrograms, drawn without pyplot."""

from __future__ import annotations

import numpy as np


def spectrogram_strip_figure(db: np.ndarray, title: str = "", range_db: float = 80.0):
    """A matplotlib figure of the dB mel-spectrograms (T, n_mels, n_frames) side by side, step
    numbers below; colours span the ``range_db`` below the loudest bin of the whole strip.

    The figure is made without pyplot, so it never changes the backend of a running notebook.
    """
    from matplotlib.figure import Figure

    steps = len(db)
    fig = Figure(figsize=(1.4 * steps, 2.2))
    axes = fig.subplots(1, steps, sharey=True, squeeze=False)
    top = float(db.max())
    for i, ax in enumerate(axes[0]):
        ax.imshow(db[i], origin="lower", aspect="auto", vmin=top - range_db, vmax=top, cmap="magma")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(str(i + 1))
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
