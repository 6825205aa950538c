"""Fixtures of the sweep tests: sweep YAMLs derived from experiments/sweeps/smoke.yaml for the tiny
dataset, two finished studies shared by the tests of this package, and a real PostgreSQL server."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
import yaml

from tests.conftest import TINY_CNN

ROOT = Path(__file__).resolve().parents[2]
SMOKE_SWEEP = ROOT / "experiments" / "sweeps" / "smoke.yaml"


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The tiny models train about 10x faster on one thread than on two on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_sweep(folder: Path, data_dir: Path, name: str = "sweep", **changes: Any) -> Path:
    """experiments/sweeps/smoke.yaml for ``data_dir``, its runs under ``folder``, with top-level keys
    replaced by ``changes`` (``overrides`` and ``search_space`` are updated, not replaced)."""
    sweep = yaml.safe_load(SMOKE_SWEEP.read_text())
    sweep["base_config"] = str(ROOT / sweep["base_config"])
    sweep["overrides"].update({"data.data_dir": str(data_dir), "model.vae.cnn_channels": TINY_CNN})
    sweep["run_dir"] = str(folder / "runs" / "{study}")
    for key, value in changes.items():
        if key in ("overrides", "search_space"):
            sweep[key].update(value)
        else:
            sweep[key] = value
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


def sqlite_url(folder: Path, name: str = "study") -> str:
    return f"sqlite:///{folder / name}.db"


@pytest.fixture(scope="package")
def mixed_study(tiny_dataset, tmp_path_factory) -> dict[str, Any]:
    """A 3-trial study of the smoke sweep whose second trial asks for an impossible transformer (3 attention
    heads do not divide d_model 32): trials complete, fail, complete (values set by enqueuing)."""
    from spinvae.sweeps.config import load_sweep
    from spinvae.sweeps.study import open_study, run_sweep

    folder = tmp_path_factory.mktemp("mixed")
    path = write_sweep(folder, tiny_dataset, search_space={
        "model.vae.n_heads": {"type": "categorical", "choices": [2, 3]}})
    sweep, storage = load_sweep(path), sqlite_url(folder)
    study = open_study(sweep, storage, "mixed")
    for heads in (2, 3, 2):
        study.enqueue_trial({"model.vae.n_heads": heads})
    run_sweep(sweep, storage, "mixed", n_trials=3)
    return {"storage": storage, "name": "mixed", "folder": folder, "sweep": sweep}


@pytest.fixture(scope="package")
def interpolation_study(tiny_dataset, tmp_path_factory) -> dict[str, Any]:
    """A 1-trial study on 2 validation pairs of 3 steps: the plain model's smoothness, and the
    non-linearity of its path with refined ends moved onto the exact presets (``spinvae interpolate``'s default)."""
    from spinvae.sweeps.config import load_sweep
    from spinvae.sweeps.study import run_sweep

    folder = tmp_path_factory.mktemp("interpolation")
    path = write_sweep(folder, tiny_dataset, objectives=[
        {"metric": "interpolation/smoothness/mean_change_pct", "direction": "minimize"},
        {"metric": "interpolation/refined+bend/nonlinearity/mean_change_pct", "direction": "minimize"},
    ], evaluation={"split": "valid", "max_pairs": 2, "steps": 3, "workers": 1, "refine_steps": 5,
                   "refine_weight": 0.01, "anchor": True}, pruner=None)
    sweep, storage = load_sweep(path), sqlite_url(folder)
    run_sweep(sweep, storage, "interpolation", n_trials=1)
    return {"storage": storage, "name": "interpolation", "folder": folder, "sweep": sweep}


def load(study: dict[str, Any]) -> optuna.Study:
    return optuna.load_study(study_name=study["name"], storage=study["storage"])


# -- PostgreSQL ---------------------------------------------------------------------------------

def _postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server on 127.0.0.1 for this session (a fresh cluster in a temporary folder), and
    the URL of an empty database on it. PostgreSQL refuses to run as root, so as root it runs as the
    ``postgres`` system user. Skips, saying why, when it is not installed or does not start."""
    pytest.importorskip("psycopg2", reason="psycopg2 is the optional extra spinvae[postgres]; `make test` installs it")
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin): "
                    "apt-get install postgresql")
    as_user: list[str] = []
    # not under pytest's tmp folders: they are private to root, and the server must reach its folder
    folder = Path(tempfile.mkdtemp(prefix="spinvae-postgres-"))
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            pytest.skip("running as root and there is no `postgres` system user to run PostgreSQL as")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()

    def run(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)

    steps = [
        ("initdb", [str(bin_dir / "initdb"), "-D", str(data), "-U", "spinvae", "--auth=trust", "-E", "UTF8"]),
        ("pg_ctl start", [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60",
                          "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"]),
        ("createdb", [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "spinvae", "sweeps"]),
    ]
    started = False
    for name, command in steps:
        result = run(*command)
        if result.returncode != 0:
            log = (folder / "server.log").read_text()[-500:] if (folder / "server.log").exists() else ""
            if started:
                run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
            shutil.rmtree(folder, ignore_errors=True)
            pytest.skip(f"PostgreSQL did not start ({name} failed): {(result.stderr or result.stdout).strip()} {log}")
        started = started or name == "pg_ctl start"
    yield f"postgresql+psycopg2://spinvae@127.0.0.1:{port}/sweeps"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    shutil.rmtree(folder, ignore_errors=True)
