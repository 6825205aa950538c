"""``spinvae match``: recordings in, one preset per recording out, with its render and a picture.

For each readable recording ``NAME.wav`` the output folder gets ``NAME`` + the synth's preset suffix
(one preset, named after the file), ``NAME_match.wav`` (the preset played at the recording's pitch,
sample rate and length) and ``NAME.png`` (the two mel-spectrograms side by side and their difference);
``matches.csv`` lists every file: its pitch and where it came from, the distances of the first guess,
of the fit and of the preset on the grid, or the one-line reason it was skipped; ``match.json`` the
settings that made them (:func:`claim_folder`: a folder of other settings is not mixed with new matches).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spinvae.matching.fit import MatchConfig, MatchResult, match_audio
from spinvae.matching.recording import Recording, RecordingError, read_recording
from spinvae.synth.base import Synth

TABLE = "matches.csv"

AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3")


def audio_files(paths: list[str]) -> list[Path]:
    """The files named, and the audio files in the folders named (searched recursively, sorted)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
        else:
            found.append(p)  # a missing or unreadable file gets its reason from the reader
    return found


@dataclass
class MatchedFiles:
    """The recordings read, their matches (in the same order) and the files skipped with their reasons."""

    recordings: list[Recording]
    result: MatchResult | None
    skipped: dict[str, str]


def match_files(paths: list[str | Path], synth: Synth, config: MatchConfig = MatchConfig(), note: float | None = None,
                log=print, guess: Callable[[list[Recording]], np.ndarray] | None = None,
                progress: bool = False) -> MatchedFiles:
    """Read every recording (a bad one is skipped with its one-line reason, logged) and match the rest.

    ``guess`` maps the recordings read to first guesses (n, n_learnable) in [0, 1] (a model's encoder,
    :func:`spinvae.interpolation.sound_to_preset.guess_presets`); without it the first guess is the nearest
    procedural candidate."""
    recordings, skipped = [], {}
    for path in paths:
        try:
            recordings.append(read_recording(path, note=note))
        except RecordingError as err:
            log(f"skipped {err}")
            skipped[str(path)] = err.reason
    result = None
    if recordings:
        result = match_audio(synth, [r.audio for r in recordings], [r.sample_rate for r in recordings],
                             [r.note for r in recordings], config, guess=None if guess is None else guess(recordings),
                             progress=progress)
    return MatchedFiles(recordings, result, skipped)


SETTINGS = "match.json"


class OtherSettingsError(ValueError):
    """An output folder holding matches made with other settings: one line naming the setting."""


def claim_folder(out: str | Path, settings: dict, overwrite: bool = False) -> None:
    """Refuse a folder ``out`` holding matches made with other ``settings`` (unless ``overwrite``, which
    deletes the files those matches wrote); :func:`write_matches` records the new settings."""
    import json

    out = Path(out)
    saved_path = out / SETTINGS
    if saved_path.exists() or (out / TABLE).exists():
        try:
            saved = json.loads(saved_path.read_text())
        except (OSError, ValueError):
            saved = {}
        differs = next((key for key in sorted({*saved, *settings}) if saved.get(key) != settings.get(key)), None)
        if differs is not None and not overwrite:
            raise OtherSettingsError(f"{out}: holds matches made with {differs} {saved.get(differs)!r} (now "
                                     f"{settings.get(differs)!r}); give --overwrite true to replace them, or another --out")
        if differs is not None:
            if (out / TABLE).exists():
                for row in pd.read_csv(out / TABLE).itertuples():
                    if isinstance(row.preset, str):
                        stem = Path(row.preset).with_suffix("")
                        for made in (Path(row.preset), Path(f"{stem}_match.wav"), Path(f"{stem}.png")):
                            made.unlink(missing_ok=True)
                (out / TABLE).unlink()
            saved_path.unlink(missing_ok=True)


def write_matches(out: str | Path, matched: MatchedFiles, synth: Synth, config: MatchConfig,
                  settings: dict | None = None) -> Path:
    """Write each match's preset, WAV and picture into ``out``, ``matches.csv``, and ``settings`` (what made
    them, :func:`claim_folder`) as ``match.json``; returns the table's path."""
    import json

    import soundfile

    from spinvae.audio.figures import comparison_figure
    from spinvae.audio.mel import MelSettings, mel_spectrogram
    from spinvae.matching.fit import render

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, recording in enumerate(matched.recordings):
        stem = recording.path.stem
        synth.write_bank(out / f"{stem}{synth.preset_suffixes[0]}", matched.result.params[i : i + 1], [stem])
        values = synth.schema.learnable(matched.result.params[i : i + 1]) / (synth.schema.cardinalities - 1)
        import torch

        with torch.no_grad():
            audio = render(synth, torch.from_numpy(values).float(), torch.tensor([recording.note]), config.velocity,
                           recording.sample_rate, len(recording.audio))[0].numpy()
        soundfile.write(out / f"{stem}_match.wav", audio, recording.sample_rate, subtype="FLOAT")
        mel = MelSettings(n_fft=_scaled(1024, recording.sample_rate), hop_length=_scaled(256, recording.sample_rate),
                          n_mels=128)
        db = mel_spectrogram(recording.sample_rate, mel)(torch.from_numpy(np.stack([recording.audio, audio]))).numpy()
        title = (f"{recording.path.name}: MIDI {recording.note:.2f} ({recording.note_source}), "
                 f"distance {matched.result.distance[i]:.4f}")
        comparison_figure(db[0], db[1], title).savefig(out / f"{stem}.png", dpi=100)
        rows.append({"file": str(recording.path), "note": recording.note, "note_source": recording.note_source,
                     "f0_hz": recording.f0_hz, "sample_rate": recording.sample_rate, "seconds": recording.seconds,
                     "guess_distance": matched.result.guess_distance[i], "fit_distance": matched.result.fit_distance[i],
                     "distance": matched.result.distance[i], "preset": str(out / f"{stem}{synth.preset_suffixes[0]}"),
                     "reason": ""})
    rows += [{"file": path, "reason": reason} for path, reason in matched.skipped.items()]
    if settings is not None:
        (out / SETTINGS).write_text(json.dumps(settings, indent=2))
    table = out / TABLE
    pd.DataFrame(rows, columns=["file", "note", "note_source", "f0_hz", "sample_rate", "seconds", "guess_distance",
                                "fit_distance", "distance", "preset", "reason"]).to_csv(table, index=False)
    return table


def _scaled(samples_at_16k: int, sample_rate: int) -> int:
    """A window or hop of ``samples_at_16k`` samples at 16 kHz, as long in seconds at ``sample_rate``."""
    return max(16, int(round(samples_at_16k * sample_rate / 16000)))
