"""``spinvae sweep-report``: what a study found, from its storage alone.

Writes into OUT:

- ``trials.csv``: one row per trial: number, state, one column per objective, one per searched
  key, duration_s, fail_reason, retry_of, trial_dir;
- ``history.png`` (``history_<metric>.png`` per objective of a multi-objective study) and
  ``importance.png`` (fANOVA parameter importance; needs two complete trials), ``pareto.png``
  for two or three objectives;
- ``best.yaml``: the best trial's resolved training config, ready for ``spinvae fit --config``
  (multi-objective: the best by the first objective), and for multi-objective studies
  ``pareto.csv`` with ``pareto/trial_<n>.yaml`` for every trial of the Pareto front;
- ``report.md``: counts, the best trial(s), and notes on anything that could not be drawn.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from spinvae.sweeps.config import quiet_experimental
from spinvae.sweeps.trial import CONFIG_ATTR, FAIL_REASON_ATTR, TRIAL_DIR_ATTR

STOPPED_REASON = "its worker stopped (killed or interrupted) before it ended; not counted"


def metric_names(study: optuna.Study) -> list[str]:
    return study.metric_names or [f"value_{i}" for i in range(len(study.directions))]


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """The trials.csv table (see the module docstring)."""
    names = metric_names(study)
    trials = study.get_trials(deepcopy=False)
    keys = list(dict.fromkeys(key for t in trials for key in t.params))
    rows = []
    for t in trials:
        values = t.values or [None] * len(names)
        reason = t.user_attrs.get(FAIL_REASON_ATTR, STOPPED_REASON if t.state == TrialState.FAIL else "")
        rows.append({
            "number": t.number, "state": t.state.name, **dict(zip(names, values)),
            **{key: t.params.get(key) for key in keys},
            "duration_s": t.duration.total_seconds() if t.duration else None,
            "fail_reason": reason, "retry_of": t.system_attrs.get("failed_trial"),
            "trial_dir": t.user_attrs.get(TRIAL_DIR_ATTR, ""),
        })
    columns = ["number", "state", *names, *keys, "duration_s", "fail_reason", "retry_of", "trial_dir"]
    return pd.DataFrame(rows, columns=columns)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")


def _save(ax: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure = ax.figure
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


def write_plots(study: optuna.Study, out: Path) -> tuple[list[Path], list[str]]:
    """History, importance and (multi-objective) Pareto-front plots; the files and notes on what was not drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from optuna.visualization import matplotlib as plots

    names, files, notes = metric_names(study), [], []
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return files, ["no complete trial: no plot drawn"]
    multi = len(names) > 1
    with quiet_experimental():
        for i, name in enumerate(names):
            target = (lambda t, i=i: t.values[i]) if multi else None
            ax = plots.plot_optimization_history(study, target=target, target_name=name)
            files.append(_save(ax, out / (f"history_{_slug(name)}.png" if multi else "history.png")))
        if len(complete) < 2:
            notes.append(f"parameter importance needs at least 2 complete trials; the study has {len(complete)}")
        else:
            try:
                files.append(_save(plots.plot_param_importances(study), out / "importance.png"))
            except (ValueError, RuntimeError) as err:  # e.g. every complete trial has the same values
                notes.append(f"parameter importance not computed: {err}")
        if len(names) in (2, 3):
            files.append(_save(plots.plot_pareto_front(study, target_names=names), out / "pareto.png"))
    return files, notes


def _config_file(study: optuna.Study, trial: FrozenTrial, path: Path, title: str) -> Path | None:
    """A trial's resolved config, with a header saying where it comes from; None if it has none."""
    config = trial.user_attrs.get(CONFIG_ATTR)
    if config is None:
        return None
    values = ", ".join(f"{n} = {v:.6g}" for n, v in zip(metric_names(study), trial.values))
    params = "\n".join(f"#   {k}: {v}" for k, v in trial.params.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {title} of sweep study {study.study_name}: trial {trial.number}, {values}\n"
                    f"# searched values:\n{params}\n# train it: spinvae fit --config {path}\n{config}")
    return path


def best_by_first_objective(study: optuna.Study) -> FrozenTrial | None:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    sign = 1 if study.directions[0] == optuna.study.StudyDirection.MINIMIZE else -1
    return min(complete, key=lambda t: sign * t.values[0])


def write_best(study: optuna.Study, out: Path) -> tuple[list[Path], list[str]]:
    """best.yaml, and for multi-objective studies pareto.csv and pareto/trial_<n>.yaml."""
    best = best_by_first_objective(study)
    if best is None:
        return [], ["no complete trial: no best.yaml"]
    files, notes = [], []
    title = "best trial" if len(study.directions) == 1 else f"best trial by {metric_names(study)[0]}"
    path = _config_file(study, best, out / "best.yaml", title)
    if path is None:
        notes.append(f"trial {best.number} has no saved config: no best.yaml")
    else:
        files.append(path)
    if len(study.directions) > 1:
        front = sorted(study.best_trials, key=lambda t: t.number)
        table = trials_table(study)
        table = table[table["number"].isin([t.number for t in front])]
        table.to_csv(out / "pareto.csv", index=False)
        files.append(out / "pareto.csv")
        for trial in front:
            path = _config_file(study, trial, out / "pareto" / f"trial_{trial.number}.yaml", "Pareto-front trial")
            if path is not None:
                files.append(path)
    return files, notes


def _markdown(study: optuna.Study, table: pd.DataFrame, notes: list[str]) -> str:
    names = metric_names(study)
    counts = table["state"].value_counts()
    directions = ", ".join(f"{n} ({d.name.lower()})" for n, d in zip(names, study.directions))
    lines = [f"# Sweep study `{study.study_name}`", "",
             f"Objectives: {directions}. Trials: {len(table)} ("
             + ", ".join(f"{counts[s]} {s.lower()}" for s in counts.index) + ").", ""]
    best = table[table["state"] == "COMPLETE"]
    if len(best):
        if len(names) == 1:
            ascending = study.direction == optuna.study.StudyDirection.MINIMIZE
            best = best.sort_values(names[0], ascending=ascending).head(5)
            lines += ["## Best trials", ""]
        else:
            best = best[best["number"].isin([t.number for t in study.best_trials])]
            lines += ["## Pareto front", ""]
        lines += [best.drop(columns=["state", "fail_reason", "retry_of"]).to_markdown(index=False, floatfmt=".4g"), ""]
    failed = table[table["state"] == "FAIL"]
    if len(failed):
        lines += ["## Failed trials", "", failed[["number", "fail_reason"]].to_markdown(index=False), ""]
    if notes:
        lines += ["## Notes", "", *[f"- {note}" for note in notes], ""]
    return "\n".join(lines)


def write_report(storage: str, study_name: str, out: str | Path) -> dict[str, Any]:
    """Write the report of a study into ``out``; returns ``{"files": [...], "notes": [...]}``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    study = optuna.load_study(study_name=study_name, storage=storage)
    table = trials_table(study)
    table.to_csv(out / "trials.csv", index=False)
    plot_files, plot_notes = write_plots(study, out)
    best_files, best_notes = write_best(study, out)
    notes = plot_notes + best_notes
    (out / "report.md").write_text(_markdown(study, table, notes))
    return {"files": [out / "trials.csv", *plot_files, *best_files, out / "report.md"], "notes": notes}
