"""The study: its storage, resumption, and the loop of one worker.

A study lives in an Optuna RDB storage (SQLite by default; PostgreSQL for workers on several
machines), so a sweep resumes where it stopped and several ``spinvae sweep`` workers can share it.

- **Target**: ``n_trials`` is the study's total of *counted* trials: COMPLETE, PRUNED, and FAILED
  trials that failed by themselves (they carry a ``fail_reason``). A worker starts a trial only
  while counted + running trials are below the target, so workers together stop at exactly
  ``n_trials``; when the rest are running elsewhere it waits for them (it takes over when one dies).
  Counting and starting a trial are one step across workers (`TrialClaimLock`: a lock file beside a
  SQLite study, an advisory lock in PostgreSQL), or two workers that count at once both start the last
  trial.
- **Dead workers**: every running trial records a heartbeat; a RUNNING trial whose heartbeat is
  older than the grace period is marked FAIL (no ``fail_reason``, not counted) by the next worker
  that looks, and retried once with the same values (Optuna's heartbeat + retry callback). A
  worker stopped by Ctrl-C marks its trial FAIL the same way, uncounted (not retried).
"""

from __future__ import annotations

import fcntl
import random
import shutil
import time
import zlib
from pathlib import Path
from typing import Callable

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from spinvae.sweeps.config import SweepConfig, quiet_experimental
from spinvae.sweeps.space import SweepConfigError
from spinvae.sweeps.trial import FAIL_REASON_ATTR, SweepObjective, check_training_keys, free_memory

try:  # optuna >= 4.9 names the retry callback and its RDBStorage argument after heartbeats
    from optuna.storages import RetryHeartbeatStaleTrialCallback as _RetryStaleTrial

    _RETRY_ARGUMENT = "heartbeat_stale_trial_callback"
except ImportError:  # pragma: no cover - optuna 4.0 to 4.8
    from optuna.storages import RetryFailedTrialCallback as _RetryStaleTrial

    _RETRY_ARGUMENT = "failed_trial_callback"

SWEEP_ATTR = "sweep"  # study user attribute: the sweep YAML that created the study
_SCHEMA_ATTEMPTS = 5


def default_storage(study_name: str) -> str:
    """Where a study lives when no ``--storage`` is given: a SQLite file under experiments/runs/sweeps/."""
    return f"sqlite:///experiments/runs/sweeps/{study_name}.db"


def make_storage(url: str, heartbeat_interval: int | None = None,
                 grace_period: int | None = None) -> optuna.storages.RDBStorage:
    """An RDB storage for ``url`` (a SQLite file's folder is created); with a heartbeat, stale
    trials are failed and retried once."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # long trials leave connections idle: check them before use (a server may have dropped them)
    engine = {} if parsed.get_backend_name() == "sqlite" else {"pool_pre_ping": True}
    with quiet_experimental():
        heartbeat = {}
        if heartbeat_interval is not None:
            heartbeat = {"heartbeat_interval": heartbeat_interval, "grace_period": grace_period,
                         _RETRY_ARGUMENT: _RetryStaleTrial(max_retry=1)}
        for attempt in range(_SCHEMA_ATTEMPTS):
            try:
                return optuna.storages.RDBStorage(url, engine_kwargs=engine, **heartbeat)
            except (IntegrityError, ProgrammingError):
                # workers started together on an empty database all create Optuna's tables; the
                # losers of that race find them made when they try again
                if attempt == _SCHEMA_ATTEMPTS - 1:
                    raise
                time.sleep(0.5 + random.random())


#: sweep keys that do not change what a trial is (how many, how workers watch each other, names)
_NOT_DEFINING = ("n_trials", "heartbeat", "study_name")


def _defining(text: str) -> dict:
    data = yaml.safe_load(text) or {}
    return {key: value for key, value in data.items() if key not in _NOT_DEFINING} if isinstance(data, dict) else {}


def _other_settings(saved_text: str, sweep: SweepConfig) -> str | None:
    """The first setting that defines trials and differs between the study's sweep and this one (None: none)."""
    saved, now = _defining(saved_text), _defining(sweep.text)
    return next((key for key in sorted({*saved, *now}, key=str) if saved.get(key) != now.get(key)), None)


def open_study(sweep: SweepConfig, storage: str, study_name: str, seed: int | None = None,
               overwrite: bool = False) -> optuna.Study:
    """Create the study, or load it if it exists; its objectives, and every setting that defines its trials,
    must be the sweep's (a study of other settings is refused unless ``overwrite``, which deletes it and its
    trials' folders and starts again)."""
    if overwrite and study_name in optuna.get_all_study_names(storage):
        optuna.delete_study(study_name=study_name, storage=storage)
        shutil.rmtree(sweep.study_dir(study_name), ignore_errors=True)
    study = optuna.create_study(
        storage=make_storage(storage, sweep.heartbeat_interval, sweep.grace_period), study_name=study_name,
        directions=sweep.directions, sampler=sweep.make_sampler(seed), pruner=sweep.make_pruner(), load_if_exists=True,
    )
    directions = [d.name.lower() for d in study.directions]
    names = study.metric_names
    if directions != sweep.directions or (names is not None and names != sweep.metric_names):
        raise SweepConfigError(
            f"{sweep.source}: objectives: study {study_name!r} already exists with objectives "
            f"{list(zip(names or ['?'] * len(directions), directions))}; use another --study-name")
    if names is None:
        with quiet_experimental():
            study.set_metric_names(sweep.metric_names)
    if SWEEP_ATTR in study.user_attrs and (key := _other_settings(study.user_attrs[SWEEP_ATTR], sweep)) is not None:
        raise SweepConfigError(f"{sweep.source}: study {study_name!r} was made with another {key}; give --overwrite "
                               f"true to delete it and start again, or another --study-name")
    if SWEEP_ATTR not in study.user_attrs:
        study.set_user_attr(SWEEP_ATTR, sweep.text)
    return study


def is_counted(trial: FrozenTrial) -> bool:
    """Whether a trial counts toward the study's target (see the module docstring)."""
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and FAIL_REASON_ATTR in trial.user_attrs)


class TrialClaimLock:
    """Makes "count the study's trials, then start one" a single step across workers.

    SQLite (workers on one machine): an exclusive ``flock`` on ``DATABASE.lock``; PostgreSQL: a
    session advisory lock keyed by the study's name; other storages: no lock. Held from the count
    until the new trial is in the storage as RUNNING, where every worker counts it; ``release`` is
    idempotent so the trial's start and the end of the step can both call it.
    """

    def __init__(self, storage: str, study_name: str) -> None:
        from sqlalchemy.engine import make_url

        parsed = make_url(storage)
        backend = parsed.get_backend_name()
        self._path = (Path(f"{parsed.database}.lock") if backend == "sqlite" and parsed.database
                      and parsed.database != ":memory:" else None)
        self._url = storage if backend == "postgresql" else None
        self._key = zlib.crc32(f"spinvae-sweep:{study_name}".encode())
        self._held: object | None = None

    def __enter__(self) -> "TrialClaimLock":
        if self._path is not None:
            handle = open(self._path, "a")
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._held = handle
        elif self._url is not None:
            from sqlalchemy import create_engine, text
            from sqlalchemy.pool import NullPool

            connection = create_engine(self._url, poolclass=NullPool).connect()
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": self._key})
            self._held = connection
        return self

    def release(self) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        if self._path is not None:
            fcntl.flock(held, fcntl.LOCK_UN)
            held.close()
        else:
            from sqlalchemy import text

            held.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            held.close()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def run_sweep(sweep: SweepConfig, storage: str, study_name: str, n_trials: int, seed: int | None = None,
              log: Callable[[str], None] = print, overwrite: bool = False) -> optuna.Study:
    """Run trials until the study has ``n_trials`` counted trials (this worker's and others')."""
    check_training_keys(sweep)
    study = open_study(sweep, storage, study_name, seed, overwrite)
    objective = SweepObjective(sweep, sweep.study_dir(study_name))
    poll = min(sweep.heartbeat_interval, 10)
    lock = TrialClaimLock(storage, study_name)

    def claimed(trial: optuna.Trial) -> float | tuple[float, ...]:
        lock.release()  # the trial is RUNNING in the storage: every worker counts it from here
        return objective(trial)

    waiting = False
    while True:
        with lock:
            with quiet_experimental():
                optuna.storages.fail_stale_trials(study)
            trials = study.get_trials(deepcopy=False)
            counted = sum(map(is_counted, trials))
            running = sum(t.state == TrialState.RUNNING for t in trials)
            if counted >= n_trials:
                break
            if counted + running < n_trials:
                waiting = False
                study.optimize(claimed, n_trials=1, catch=(Exception,), gc_after_trial=True)
                free_memory()
                if objective.user_error is not None:  # every trial would fail the same way
                    raise objective.user_error
                continue
            if not waiting:
                log(f"study {study_name}: {counted} of {n_trials} trials done, {running} running elsewhere: "
                    f"waiting (a trial whose worker stopped is retried {sweep.grace_period} s after its last "
                    "heartbeat)")
            waiting = True
        time.sleep(poll)
    log(summary_line(study, n_trials))
    return study


def summary_line(study: optuna.Study, n_trials: int) -> str:
    """``study NAME: 12 of 12 trials done (10 complete, 1 pruned, 1 failed); best ...``."""
    trials = study.get_trials(deepcopy=False)
    states = {state: sum(t.state == state for t in trials) for state in (TrialState.COMPLETE, TrialState.PRUNED)}
    failed = sum(t.state == TrialState.FAIL and is_counted(t) for t in trials)
    line = (f"study {study.study_name}: {sum(map(is_counted, trials))} of {n_trials} trials done "
            f"({states[TrialState.COMPLETE]} complete, {states[TrialState.PRUNED]} pruned, {failed} failed)")
    if states[TrialState.COMPLETE] and len(study.directions) == 1:
        best = study.best_trial
        name = study.metric_names[0] if study.metric_names else "value"
        line += f"; best: trial {best.number}, {name} = {best.value:.6g}"
    return line
