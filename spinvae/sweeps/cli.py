"""``spinvae sweep`` and ``spinvae sweep-report``: their arguments and what they do.

    spinvae sweep --config experiments/sweeps/cpu_loss.yaml --n-trials 20
    spinvae sweep --config experiments/sweeps/cpu_loss.yaml --storage postgresql+psycopg2://USER@HOST/DB --seed 1
    spinvae sweep-report --study-name cpu_loss --out experiments/runs/sweeps/cpu_loss/report

Optuna and the training stack are imported only when a sweep command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from jsonargparse import ArgumentParser

SWEEP_COMMANDS = ("sweep", "sweep-report")


def add_sweep_subcommands(commands: Any) -> None:
    """Add ``sweep`` and ``sweep-report`` to the ``spinvae`` parser's subcommands."""
    sweep = ArgumentParser(description="Run (or resume) a hyper-parameter sweep; several workers may share a study.")
    sweep.add_argument("--config", type=str, required=True,
                       help="the sweep YAML, e.g. experiments/sweeps/cpu_loss.yaml")
    sweep.add_argument("--storage", type=Optional[str], default=None,
                       help="Optuna storage URL (default: sqlite:///experiments/runs/sweeps/STUDY.db)")
    sweep.add_argument("--study-name", type=Optional[str], default=None,
                       help="the study (default: the YAML's study_name, else the YAML file's name)")
    sweep.add_argument("--n-trials", type=Optional[int], default=None,
                       help="the study's total of finished trials, all workers together (default: the YAML's n_trials)")
    sweep.add_argument("--overwrite", type=bool, default=False,
                       help="delete a study of the same name made with other settings, and its trials' folders")
    sweep.add_argument("--seed", type=Optional[int], default=None,
                       help="sampler seed of this worker (replaces the YAML's; give each worker its own)")
    commands.add_subcommand("sweep", sweep, help="hyper-parameter sweep (Optuna)")

    report = ArgumentParser(description="Trials table, plots and the best config of a sweep study.")
    report.add_argument("--storage", type=Optional[str], default=None,
                        help="Optuna storage URL (default: sqlite:///experiments/runs/sweeps/STUDY.db)")
    report.add_argument("--study-name", type=str, required=True, help="the study")
    report.add_argument("--out", type=str, required=True, help="output folder")
    commands.add_subcommand("sweep-report", report, help="report of a sweep study")


def run_sweep_command(args: Any) -> None:
    """Dispatch a parsed ``spinvae`` namespace whose subcommand is in :data:`SWEEP_COMMANDS`."""
    from spinvae.errors import UserError
    from spinvae.sweeps.space import SweepConfigError

    try:
        if args.subcommand == "sweep":
            _sweep(args.sweep)
        else:
            _report(args["sweep-report"])
    except SweepConfigError as err:
        raise UserError(str(err)) from None
    except KeyboardInterrupt:
        raise UserError("interrupted; run the same command again to resume the study") from None


def _storage_error(storage: str, err: Exception) -> str:
    from sqlalchemy.engine import make_url

    try:
        shown = make_url(storage).render_as_string(hide_password=True)
    except Exception:  # not even a URL: say so below
        shown = storage
    hint = ""
    if isinstance(err, ModuleNotFoundError):
        hint = " (PostgreSQL needs the driver: pip install 'spinvae[postgres]')"
    return f"--storage {shown}: {' '.join(str(err).split())[:300]}{hint}"


def _sweep(args: Any) -> None:
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from spinvae.errors import UserError
    from spinvae.sweeps.config import load_sweep
    from spinvae.sweeps.study import default_storage, run_sweep

    sweep = load_sweep(args.config)
    study_name = args.study_name or sweep.study_name or Path(args.config).stem
    n_trials = args.n_trials if args.n_trials is not None else sweep.n_trials
    if n_trials is None or n_trials < 1:
        raise UserError(f"sweep: give --n-trials N (>= 1) or n_trials in {args.config}")
    storage = args.storage or default_storage(study_name)
    try:
        run_sweep(sweep, storage, study_name, n_trials, seed=args.seed, overwrite=args.overwrite)
    except (ArgumentError, SQLAlchemyError, ModuleNotFoundError) as err:  # a bad URL, a server out of reach, no driver
        raise UserError(_storage_error(storage, err)) from None


def _report(args: Any) -> None:
    import optuna
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from spinvae.errors import UserError
    from spinvae.sweeps.report import write_report
    from spinvae.sweeps.study import default_storage

    storage = args.storage or default_storage(args.study_name)
    try:
        url = make_url(storage)
        if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_file():
            raise UserError(f"--storage {storage}: no such SQLite file")  # opening it would create an empty one
        names = optuna.get_all_study_names(storage)
        if args.study_name not in names:
            raise UserError(f"no study {args.study_name!r} in {url.render_as_string(hide_password=True)} "
                            f"(it has {', '.join(names) or 'none'})")
        result = write_report(storage, args.study_name, args.out)
    except (ArgumentError, SQLAlchemyError, ModuleNotFoundError) as err:
        raise UserError(_storage_error(storage, err)) from None
    for note in result["notes"]:
        print(f"note: {note}")
    print(f"wrote {', '.join(str(p) for p in result['files'])}")
