"""Writing a sequence of presets so a person can load, hear and see it.

``write_sequence`` writes into a folder: ``interpolation.syx`` (a 32-voice DX7 bank holding the
steps in order, loadable in Dexed or a DX7 and playable from a MIDI keyboard), one WAV per step
(``step_01.wav`` ...), and ``spectrograms.png`` (the steps' mel-spectrograms side by side).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spinvae.audio.mel import MelSettings
from spinvae.data.spectrograms import analyse_presets
from spinvae.presets.dx7 import DX7_SCHEMA, NAME_SLICE, encode_name
from spinvae.presets.sysex import BANK_SIZE, bank_sysex
from spinvae.synth.base import RenderSettings
from spinvae.synth.render import render_presets


def named_presets(values: np.ndarray, prefix: str) -> np.ndarray:
    """Full presets (T, 155) from learnable values (T, L), voice i named ``<prefix><i>`` (10 characters)."""
    presets = DX7_SCHEMA.from_learnable(values)
    width = len(str(len(values)))
    for i in range(len(values)):
        presets[i, NAME_SLICE] = encode_name(f"{prefix[: 10 - width]}{i + 1:0{width}d}")
    return presets


def write_sequence(out: str | Path, values: np.ndarray, render: RenderSettings = RenderSettings(),
                   mel: MelSettings = MelSettings(), prefix: str = "MORPH ", title: str = "") -> list[Path]:
    """Write the bank, the WAVs and the picture of a sequence of presets (T, L); returns the files.

    Only the first (note, velocity) of ``render`` is played for the WAVs and the picture.
    """
    import soundfile

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if len(values) > BANK_SIZE:
        raise ValueError(f"a bank holds {BANK_SIZE} voices, got a sequence of {len(values)} steps")
    presets = named_presets(np.asarray(values, dtype=np.uint8), prefix)
    files = [out / "interpolation.syx"]
    files[0].write_bytes(bank_sysex(presets))
    single = RenderSettings(render.sample_rate, render.notes[:1], render.note_duration, render.duration)
    audio = render_presets(presets, single, workers=2)[:, 0]
    for i, clip in enumerate(audio):
        files.append(out / f"step_{i + 1:02d}.wav")
        soundfile.write(files[-1], clip, render.sample_rate, subtype="FLOAT")
    db = analyse_presets(presets, single, mel, workers=2).db[:, 0]
    files.append(out / "spectrograms.png")
    plot_spectrogram_strip(db, files[-1], title)
    return files


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


def plot_spectrogram_strip(db: np.ndarray, path: str | Path, title: str = "", range_db: float = 80.0) -> None:
    """Save :func:`spectrogram_strip_figure` as a PNG."""
    spectrogram_strip_figure(db, title, range_db).savefig(path, dpi=100)
