"""Writing a sequence of presets so a person can load, hear and see it.

``write_sequence`` writes into a folder: ``interpolation`` + the synth's bank suffix (the steps in
order as one bank of the synth's preset format: for the DX7 a 32-voice ``.syx`` bank loadable in
Dexed or a DX7 and playable from a MIDI keyboard), one WAV per step (``step_01.wav`` ...), and
``spectrograms.png`` (the steps' mel-spectrograms side by side).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spinvae.audio.figures import spectrogram_strip_figure
from spinvae.audio.mel import MelSettings
from spinvae.data.spectrograms import analyse_presets
from spinvae.synth.base import RenderSettings, Synth
from spinvae.synth.registry import get_synth


def step_names(steps: int, prefix: str) -> list[str]:
    """``<prefix><i>`` for i = 1..steps, numbered with equal widths, 10 characters at most."""
    width = len(str(steps))
    return [f"{prefix[: 10 - width]}{i + 1:0{width}d}" for i in range(steps)]


def write_sequence(out: str | Path, values: np.ndarray, render: RenderSettings = RenderSettings(),
                   mel: MelSettings = MelSettings(), prefix: str = "MORPH ", title: str = "",
                   synth: Synth | None = None, workers: int = 2) -> list[Path]:
    """Write the bank, the WAVs and the picture of a sequence of presets (T, L) of ``synth`` (default:
    the registry's default synth); returns the files.

    Only the first (note, velocity) of ``render`` is played for the WAVs and the picture.
    """
    import soundfile

    synth = synth or get_synth()
    out = Path(out)
    if synth.bank_size is not None and len(values) > synth.bank_size:
        raise ValueError(f"a {synth.name} bank holds {synth.bank_size} presets, got a sequence of {len(values)} steps")
    out.mkdir(parents=True, exist_ok=True)
    presets = synth.schema.from_learnable(np.asarray(values, dtype=np.uint8))
    files = synth.write_bank(out / f"interpolation{synth.preset_suffixes[0]}", presets, step_names(len(values), prefix))
    single = RenderSettings(render.sample_rate, render.notes[:1], render.note_duration, render.duration)
    audio = synth.render(presets, single, workers=workers)[:, 0]
    for i, clip in enumerate(audio):
        files.append(out / f"step_{i + 1:02d}.wav")
        soundfile.write(files[-1], clip, render.sample_rate, subtype="FLOAT")
    db = analyse_presets(presets, single, mel, workers=workers, synth=synth).db[:, 0]
    files.append(out / "spectrograms.png")
    plot_spectrogram_strip(db, files[-1], title)
    return files


def plot_spectrogram_strip(db: np.ndarray, path: str | Path, title: str = "", range_db: float = 80.0) -> None:
    """Save :func:`spectrogram_strip_figure` as a PNG."""
    spectrogram_strip_figure(db, title, range_db).savefig(path, dpi=100)


def write_morph_page(out: str | Path, title: str, recordings: dict[str, Path], mel: MelSettings = MelSettings()) -> Path:
    """``OUT/morph.html``: the steps' WAVs of a written sequence in order, each recording an end was
    matched to beside its end (``recordings``: ``"start"``/``"end"`` -> the recording, copied into
    ``out``), and ``morph.png``, the steps' mel-spectrograms with the recordings' beside the ends (each
    recording resampled to the steps' rate and cut to their length); links are relative, so the folder
    can be moved whole."""
    import html
    import shutil

    import librosa
    import soundfile
    import torch

    from spinvae.audio.mel import mel_spectrogram

    out = Path(out)
    steps = sorted(out.glob("step_*.wav"))
    clips = [soundfile.read(step, dtype="float32")[0] for step in steps]
    rate, length = soundfile.info(steps[0]).samplerate, len(clips[0])
    for end in ("start", "end"):
        if end in recordings:
            audio, sample_rate = soundfile.read(recordings[end], dtype="float32", always_2d=True)
            audio = librosa.resample(audio.mean(axis=1), orig_sr=sample_rate, target_sr=rate)[:length]
            audio = np.pad(audio, (0, length - len(audio)))
            clips = [audio, *clips] if end == "start" else [*clips, audio]
    db = mel_spectrogram(rate, mel)(torch.from_numpy(np.stack(clips).astype(np.float32))).numpy()
    fig = spectrogram_strip_figure(db, title)
    fig.savefig(out / "morph.png", dpi=100)
    copies = {}
    for end, path in recordings.items():
        copies[end] = f"{end}_recording{Path(path).suffix.lower()}"
        shutil.copyfile(path, out / copies[end])

    def player(src: str, caption: str) -> str:
        return (f"<figure><audio controls preload='none' src='{html.escape(src)}'></audio>"
                f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    cells = ([player(copies["start"], "recording (start)")] if "start" in copies else [])
    cells += [player(step.name, f"step {i + 1}") for i, step in enumerate(steps)]
    cells += ([player(copies["end"], "recording (end)")] if "end" in copies else [])
    page = out / "morph.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>spinvae morph</title>"
        "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto}figure{display:inline-block;margin:.3em}"
        "figcaption{font-size:80%;text-align:center}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><div>{''.join(cells)}</div>"
        "<p>Mel-spectrograms: the recordings (first and last where they are ends) and the steps.</p>"
        "<p><img alt='spectrograms of the recordings and the steps' src='morph.png'></p></body></html>")
    return page
