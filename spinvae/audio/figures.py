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


def comparison_figure(recording_db: np.ndarray, match_db: np.ndarray, title: str = "", range_db: float = 80.0):
    """A matplotlib figure of two dB mel-spectrograms (n_mels, n_frames) side by side, the recording's
    and its match's, and their difference (match minus recording, +-20 dB); colours of the two span the
    ``range_db`` below the louder one's peak."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3))
    axes = fig.subplots(1, 3, sharey=True)
    top = float(max(recording_db.max(), match_db.max()))
    for ax, db, label in ((axes[0], recording_db, "recording"), (axes[1], match_db, "match")):
        ax.imshow(db, origin="lower", aspect="auto", vmin=top - range_db, vmax=top, cmap="magma")
        ax.set_title(label, fontsize=9)
    floor = top - range_db  # differences below the shown range are not heard against the rest
    difference = np.maximum(match_db, floor) - np.maximum(recording_db, floor)
    image = axes[2].imshow(difference, origin="lower", aspect="auto", vmin=-20, vmax=20, cmap="coolwarm")
    axes[2].set_title("match - recording (dB)", fontsize=9)
    fig.colorbar(image, ax=axes[2], fraction=0.05)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
