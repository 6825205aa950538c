"""The evaluation's ``report.html``: one self-contained file (pictures and sounds inlined as data
URIs, no script, no network) that opens from disk in any browser.

It holds the result table, sequence-end errors and latent-space quality, feature-trajectory plots
of example sequences, and for each example sequence the spectrogram strips of every method side by
side with an audio player per step.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spinvae.data.manifest import read_manifest
from spinvae.data.spectrograms import analyse_presets
from spinvae.interpolation.morph import REFERENCE
from spinvae.audio.figures import spectrogram_strip_figure
from spinvae.synth.registry import get_synth

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 1400px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; }
.steps { display: flex; flex-wrap: wrap; gap: 0.4em; margin-bottom: 1em; }
.steps figure { margin: 0; font-size: 0.8em; text-align: center; }
audio { width: 130px; }
"""


ENDS_NOTE = (
    "Categorical accuracy and numerical error (steps) of the decoded ends against the two presets; feature "
    "error: mean absolute error of their normalised attributes. The last two columns split the non-linearity "
    "(median change % against the reference, as in the table above): `ends_only` is what a perfectly straight "
    "path between the model's own ends would score, `own_line` how straight the model's path is against its "
    "own ends. A model that loses on non-linearity only through `ends_only` needs better reconstruction, "
    "not a straighter latent path."
)

REFINEMENT_NOTE = (
    "A `NAME+refined` method is the model with its ends' latent codes refined (test-time optimisation of the "
    "code until the decoder gives the preset back, or a step budget runs out); `NAME` alone is the reference "
    "protocol's, decoded from the encoder means. Exact: share of end presets decoded with every parameter "
    "right, before and after; wrong parameters: mean per end preset; time: the whole refinement."
)


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _wav(audio: np.ndarray, sample_rate: int) -> str:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(audio, -1, 1), sample_rate, format="WAV", subtype="PCM_16")
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode()


def _trajectory_figure(trajectories: pd.DataFrame, sequences: list[int], features: list[str], note: str) -> str:
    from matplotlib.figure import Figure  # no pyplot: a notebook's backend stays as it is

    fig = Figure(figsize=(2.3 * len(features), 1.9 * len(sequences)))
    axes = fig.subplots(len(sequences), len(features), squeeze=False, sharex=True)
    for i, sequence in enumerate(sequences):
        rows = trajectories[(trajectories["sequence"] == sequence) & (trajectories["note"] == note)]
        for j, feature in enumerate(features):
            ax = axes[i, j]
            for method, group in rows.groupby("method", sort=False):
                style = dict(color="0.4", linestyle="--") if method == REFERENCE else {}
                ax.plot(group["step"], group[feature], marker=".", label=method, **style)
            if i == 0:
                ax.set_title(feature, fontsize=8)
            if j == 0:
                ax.set_ylabel(f"sequence {sequence}", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _table(frame: pd.DataFrame, index: bool = False) -> str:
    return frame.to_html(index=index, float_format=lambda x: f"{x:.3f}", border=0, escape=True)


def write_html_report(out: str | Path, summary: dict[str, Any], table: pd.DataFrame, examples: int = 3,
                      n_features: int = 6, workers: int = 2) -> Path:
    """Write ``OUT/report.html`` from the evaluation's outputs (``workers`` render the examples); returns
    its path."""
    out = Path(out)
    info = summary["evaluation"]
    trajectories = pd.read_csv(out / "trajectories.csv")
    presets = np.load(out / "presets.npz")
    manifest = read_manifest(info["data"])
    synth = get_synth(manifest.synth)
    render = dataclasses.replace(manifest.render, notes=tuple(tuple(nv) for nv in info["notes"][:1]))
    mel = manifest.mel
    note = f"{render.notes[0][0]}:{render.notes[0][1]}"
    methods = list(dict.fromkeys(trajectories["method"]))
    sequences = sorted(trajectories["sequence"].unique())[:examples]
    # the features plotted: those the reference moves most on average
    spread = trajectories[trajectories["method"] == REFERENCE].groupby("sequence")[info["attributes"]].agg(np.ptp)
    features = list(spread.mean().sort_values(ascending=False).index[:n_features])

    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>spinvae interpolation evaluation</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Interpolation evaluation</h1>",
        f"<p>Dataset <code>{html.escape(info['data'])}</code> (synth <code>{synth.name}</code>), split <code>{info['split']}</code>: "
        f"{info['n_sequences']} sequences of {info['steps']} steps, {len(info['attributes'])} normalised attributes, "
        f"notes {', '.join(':'.join(map(str, nv)) for nv in info['notes'])}. Models: "
        + (", ".join(f"<code>{html.escape(k)}</code> ({html.escape(v)})" for k, v in info["checkpoints"].items())
           or "none (reference only)") + ".</p>",
        *([f"<p>{html.escape(summary['context'])}</p>"] if summary.get("context") else []),
        "<h2>Smoothness and non-linearity against parameter interpolation</h2>",
        "<p>Improved: features whose values are significantly lower than the reference's (one-sided Wilcoxon "
        "signed-rank test paired by sequence, p &lt; 0.05). Changes: of the median and of the mean over "
        "sequences, averaged over features; negative is better.</p>",
        _table(table) if len(table) else "<p>(reference only)</p>",
    ]
    if summary.get("endpoints"):
        parts += ["<h2>Sequence ends</h2>", f"<p>{html.escape(ENDS_NOTE)}</p>",
                  _table(pd.DataFrame(summary["endpoints"]).T, index=True)]
    if summary.get("refinement"):
        parts += ["<h2>Latent refinement of the ends</h2>", f"<p>{html.escape(REFINEMENT_NOTE)}</p>",
                  _table(pd.DataFrame(summary["refinement"]).T, index=True)]
    if summary.get("latent"):
        parts += ["<h2>Latent space</h2>",
                  _table(pd.DataFrame({k: v["mean"] for k, v in summary["latent"].items()}).T, index=True)]
    parts += ["<h2>Feature trajectories</h2>",
              f"<p>The {len(features)} attributes the reference moves most, for the first {len(sequences)} sequences "
              f"(note {note}); dashed: reference.</p>",
              f"<img alt='trajectories' src='{_trajectory_figure(trajectories, sequences, features, note)}'>",
              "<h2>Example sequences</h2>"]
    for sequence in sequences:
        parts.append(f"<h3>Sequence {sequence}</h3>")
        for method in methods:
            values = presets[method][sequence]
            full = synth.schema.from_learnable(values)
            audio = synth.render(full, render, workers=workers)[:, 0]
            db = analyse_presets(full, render, mel, workers=workers, synth=synth).db[:, 0]
            parts.append(f"<img alt='{html.escape(method)}' src='{_png(spectrogram_strip_figure(db, method))}'>")
            parts.append("<div class='steps'>" + "".join(
                f"<figure><audio controls preload='none' src='{_wav(clip, render.sample_rate)}'></audio>"
                f"<figcaption>{html.escape(method)} {i + 1}</figcaption></figure>" for i, clip in enumerate(audio))
                + "</div>")
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts))
    return path
