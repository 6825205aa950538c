"""The lock that makes "count the trials, start one" a single step across sweep workers."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from spinvae.sweeps.study import TrialClaimLock

_OTHER_WORKER = """
import sys, time
from spinvae.sweeps.study import TrialClaimLock
print("ready", flush=True)
with TrialClaimLock(sys.argv[1], "shared"):
    print(time.time(), flush=True)
"""


def _other_worker(storage: str) -> subprocess.Popen:
    """Another process that takes the lock as soon as it has imported spinvae; it prints when it has it."""
    other = subprocess.Popen([sys.executable, "-c", _OTHER_WORKER, storage], stdout=subprocess.PIPE, text=True)
    assert other.stdout.readline().strip() == "ready"
    return other


def _acquired_at(other: subprocess.Popen) -> float:
    out, _ = other.communicate(timeout=60)
    assert other.returncode == 0
    return float(out)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_second_worker_waits_until_the_first_has_started_its_trial(backend, tmp_path, request):
    storage = (f"sqlite:///{tmp_path / 'study.db'}" if backend == "sqlite"
               else request.getfixturevalue("postgres_url"))
    with TrialClaimLock(storage, "shared") as lock:
        other = _other_worker(storage)
        time.sleep(2.0)
        released_at = time.time()
        lock.release()
        lock.release()  # idempotent: the trial's start and the end of the step both release
    assert _acquired_at(other) >= released_at


def test_an_in_memory_study_needs_no_lock():
    with TrialClaimLock("sqlite:///:memory:", "shared") as lock:
        assert lock._held is None
