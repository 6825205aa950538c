"""From trajectories to the evaluation's results: metrics.csv, summary.json, report.md and report.html."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spinvae.evaluation.html import ENDS_NOTE, REFINEMENT_NOTE, write_html_report
from spinvae.evaluation.metrics import (median_change_pct, nonlinearity, nonlinearity_decomposition,
                                        result_table, sequence_metrics, summarize)
from spinvae.interpolation.morph import REFERENCE
from spinvae.presets.schema import ParameterSchema
from spinvae.synth.registry import DEFAULT_SYNTH, get_synth


def endpoint_errors(out: Path, trajectories: pd.DataFrame, attributes: list[str],
                    schema: ParameterSchema) -> dict[str, dict[str, float]]:
    """Per model: how far its sequence ends are from the two presets themselves.

    ``categorical_accuracy`` and ``numerical_error_steps`` of the decoded ends against the start and
    end presets (NaN for a synth without parameters of that kind); ``feature_error``: mean absolute difference of the normalised attributes at the
    ends from the reference's (whose ends are the presets themselves). Then the non-linearity
    split of :func:`nonlinearity_decomposition`, each as the report's *median change %* against
    the reference's non-linearity (per feature, change of the median over sequences; averaged
    over features; every (sequence, note) counts as one sequence):
    ``nonlinearity_ends_only_median_change_pct`` (a perfectly straight path between the model's
    own ends) and ``nonlinearity_own_line_median_change_pct`` (the model's path against its own
    ends' line).
    """
    presets = np.load(out / "presets.npz")
    truth = np.stack([presets["start"], presets["end"]], axis=1).astype(np.int64)  # (n, 2, L)
    reference = trajectories[trajectories["method"] == REFERENCE]
    errors = {}
    for method in trajectories["method"].unique():
        if method == REFERENCE:
            continue
        ends = presets[method][:, [0, -1]].astype(np.int64)
        diff = np.abs(ends - truth)
        values, ref_values = _aligned_sequences(trajectories[trajectories["method"] == method], reference, attributes)
        errors[method] = {
            "categorical_accuracy": _mean(diff[..., schema.is_categorical] == 0),
            "numerical_error_steps": _mean(diff[..., ~schema.is_categorical]),
            "feature_error": float(np.nanmean(np.abs(values[:, [0, -1]] - ref_values[:, [0, -1]]))),
        }
        reference_nonlinearity = nonlinearity(ref_values, ref_values)
        for part, per_sequence in nonlinearity_decomposition(values, ref_values).items():
            errors[method][f"nonlinearity_{part}_median_change_pct"] = median_change_pct(per_sequence,
                                                                                         reference_nonlinearity)
    return errors


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def _aligned_sequences(method: pd.DataFrame, reference: pd.DataFrame,
                       attributes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(n, T, A) trajectories of a method and of the reference on the (sequence, note) pairs both have."""
    keys = ["sequence", "note"]
    common = method[keys].drop_duplicates().merge(reference[keys].drop_duplicates(), on=keys)

    def stack(table: pd.DataFrame) -> np.ndarray:
        rows = common.merge(table, on=keys).sort_values([*keys, "step"], kind="stable")
        return rows[attributes].to_numpy(dtype=np.float64).reshape(len(common), -1, len(attributes))

    return stack(method), stack(reference)


def write_results(out: str | Path, html: bool = True, workers: int = 2, context: str | None = None) -> dict[str, Any]:
    """Write ``metrics.csv``, ``summary.json``, ``report.md`` and (with ``html``) ``report.html``
    from ``OUT/trajectories.csv``; the HTML renders example sequences again, which a sweep trial
    that only needs the scores can skip. ``context``: a paragraph the reports show under their first line
    (for example, where the pairs come from: held out from a model's training), kept in the summary.

    With several (note, velocity) pairs, the summary has one entry per note (``"56:75"`` ...)
    and the table one block per note.
    """
    out = Path(out)
    trajectories = pd.read_csv(out / "trajectories.csv")
    info = json.loads((out / "evaluation.json").read_text())
    attributes = list(info["attributes"])
    metrics_parts, summary, tables = [], {"evaluation": info, "context": context, "notes": {}}, []
    for note, group in trajectories.groupby("note", sort=False):
        metrics = sequence_metrics(group.drop(columns="note"), REFERENCE)
        metrics.insert(2, "note", note)
        metrics_parts.append(metrics)
        note_summary = summarize(metrics.drop(columns="note"), REFERENCE)
        summary["notes"][note] = note_summary
        table = result_table(note_summary)
        table.insert(1, "note", note)
        tables.append(table)
    pd.concat(metrics_parts, ignore_index=True).to_csv(out / "metrics.csv", index=False)
    schema = get_synth(info.get("synth", DEFAULT_SYNTH)).schema
    summary["endpoints"] = endpoint_errors(out, trajectories, attributes, schema)
    for part in ("refinement", "latent"):
        path = out / f"{part}.json"
        summary[part] = json.loads(path.read_text()) if path.exists() else {}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    table = pd.concat(tables, ignore_index=True)
    (out / "report.md").write_text(_markdown(info, table, summary))
    if html:
        write_html_report(out, summary, table, workers=workers)
    return summary


def _markdown(info: dict[str, Any], table: pd.DataFrame, summary: dict[str, Any]) -> str:
    lines = [
        "# Interpolation evaluation",
        "",
        f"Dataset `{info['data']}` (synth `{info.get('synth', DEFAULT_SYNTH)}`), split `{info['split']}`: {info['n_sequences']} sequences of {info['steps']} steps, "
        f"{len(info['attributes'])} normalised attributes; models: "
        + (", ".join(f"`{k}` ({v})" for k, v in info["checkpoints"].items()) or "none (reference only)") + ".",
        "",
        *([summary["context"], ""] if summary.get("context") else []),
        "Per feature, smoothness (RMS second difference) and non-linearity (RMS distance to the reference's "
        "straight line) of each model against parameter interpolation; *improved* counts the features whose "
        "values are significantly lower (one-sided Wilcoxon signed-rank test paired by sequence, p < 0.05); the "
        "changes are of the median and the mean over sequences, averaged over features (negative is better).",
        "",
        table.to_markdown(index=False, floatfmt=".1f") if len(table) else "(reference only)",
        "",
    ]
    if summary["endpoints"]:
        lines += ["## Sequence ends (reconstruction of the two presets)", "", ENDS_NOTE, "",
                  pd.DataFrame(summary["endpoints"]).T.to_markdown(floatfmt=".3f"), ""]
    if summary["refinement"]:
        lines += ["## Latent refinement of the ends", "", REFINEMENT_NOTE, "",
                  pd.DataFrame(summary["refinement"]).T.to_markdown(floatfmt=".3f"), ""]
    if summary["latent"]:
        means = {name: quality["mean"] for name, quality in summary["latent"].items()}
        lines += ["## Latent space (the pairs' presets)", "",
                  "Mean over regularised attributes of: Spearman correlation with the mean of the attribute's "
                  "latent chunk; interpretability (R^2 of the best single latent coordinate); how often that "
                  "coordinate is in the attribute's own chunk; MIG (mutual information gap).", "",
                  pd.DataFrame(means).T.to_markdown(floatfmt=".3f"), ""]
    return "\n".join(lines)
