"""Two ``spinvae sweep`` workers at once on one study in a real PostgreSQL server."""

from __future__ import annotations

import os
import subprocess
import sys

import optuna
from optuna.trial import TrialState

from tests.sweeps.conftest import write_sweep


def test_two_workers_share_one_study_and_stop_at_its_total(postgres_url, tiny_dataset, tmp_path):
    sweep = write_sweep(tmp_path, tiny_dataset)
    # one thread each: two workers and their torch threads share the machine's cores
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    workers = [
        subprocess.Popen([sys.executable, "-m", "spinvae.cli.main", "sweep", "--config", str(sweep), "--storage",
                          postgres_url, "--study-name", "shared", "--n-trials", "4", "--seed", str(seed)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for seed in (1, 2)  # each worker its own sampler seed, or both would propose the same values
    ]
    outputs = [worker.communicate(timeout=400)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], "\n".join(o[-3000:] for o in outputs)

    trials = optuna.load_study(study_name="shared", storage=postgres_url).trials
    assert len(trials) == 4 and sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state == TrialState.COMPLETE for t in trials), [(t.number, t.state, t.user_attrs) for t in trials]
    values = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(values)) == 4, values  # no set of values run twice
    assert len({t.user_attrs["trial_dir"] for t in trials}) == 4
    # each worker stops only once the study has its 4 trials
    assert all("study shared: 4 of 4 trials done" in output for output in outputs)
