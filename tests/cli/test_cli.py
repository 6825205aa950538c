"""The ``spinvae`` command line, run as real subprocesses (they run concurrently: each one
spends a few seconds importing torch and librosa)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile

from spinvae.data.build import BuildConfig, build_dataset
from spinvae.synth.dx7.schema import init_voice, operator_offset
from spinvae.synth.dx7.generator import generate_presets
from spinvae.synth.dx7.sysex import bank_sysex, read_sysex
from spinvae.synth.dx7.dexed import DexedSynth
from tests.conftest import DX7_DIR

MODULE = [sys.executable, "-m", "spinvae.cli.main"]
SCRIPT = shutil.which("spinvae") or (
    str(Path(sys.executable).parent / "spinvae") if (Path(sys.executable).parent / "spinvae").exists() else None
)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single stderr line of a refused command (exit status 2)."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("spinvae: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Input files: a bank to render (the factory ROM1A when ../shared is here, else a bank of
    procedural voices), a 32-voice bank, an empty .syx and a small built dataset."""
    work = tmp_path_factory.mktemp("cli")
    factory = DX7_DIR / "bwhitman_learnfm" / "default" / "rom1a.syx"
    render_bank = work / "render_bank.syx"
    if factory.exists():
        shutil.copy(factory, render_bank)
    else:
        render_bank.write_bytes(bank_sysex(generate_presets(32, seed=11)[0]))
    bank = work / "bank.syx"
    bank.write_bytes(bank_sysex(generate_presets(32, seed=7)[0]))
    (work / "empty.syx").write_bytes(b"")

    # a dataset with exclusions: a silent and a near-silent INIT VOICE, an unreadable file
    silent, near = init_voice(), init_voice()
    silent[operator_offset(1) + 16] = 0
    near[operator_offset(1) + 16] = 20  # about -63 dBFS
    sources = work / "sources"
    sources.mkdir()
    (sources / "voices.syx").write_bytes(bank_sysex(np.concatenate([[silent, near], generate_presets(3, seed=1)[0]])))
    (sources / "empty.syx").write_bytes(b"")
    dataset = work / "dataset"
    manifest = build_dataset(dataset, BuildConfig(presets=(str(sources),), chunk_size=32), log=lambda line: None, progress=False)
    (work / "not_a_dataset").mkdir()
    return {"dir": work, "render_bank": render_bank, "bank": bank, "dataset": dataset, "manifest": manifest}


@pytest.fixture(scope="module")
def runs(work):
    """Every command of this module, run once, concurrently."""
    w = work["dir"]
    commands = {
        "render": ["render", "--preset", f"{work['render_bank']}:3", "--out", str(w / "out" / "sub" / "x.wav")],
        "render_note": [
            "render", "--preset", f"{work['render_bank']}:3", "--out", str(w / "y.wav"), "--note", "60", "--velocity", "100",
        ],
        "ref_missing": ["render", "--preset", f"{w / 'missing.syx'}:3", "--out", str(w / "m.wav")],
        "ref_index": ["render", "--preset", f"{work['bank']}:40", "--out", str(w / "i.wav")],
        "ref_no_colon": ["render", "--preset", str(work["bank"]), "--out", str(w / "c.wav")],
        "ref_empty": ["render", "--preset", f"{w / 'empty.syx'}:0", "--out", str(w / "e.wav")],
        "info": ["data", "info", str(work["dataset"])],
        "info_not_dataset": ["data", "info", str(w / "not_a_dataset")],
        "build_help": ["data", "build", "--help"],
        "notes_dash": ["data", "build", "--out", str(w / "never1"), "--procedural", "8", "--notes", "56-75"],
        "notes_velocity": ["data", "build", "--out", str(w / "never2"), "--procedural", "8", "--notes", "56:200"],
        "syx_missing": ["data", "build", "--out", str(w / "never3"), "--syx", str(w / "missing_folder")],
    }  # fmt: skip
    argv = {name: MODULE + args for name, args in commands.items()}
    if SCRIPT:
        argv["script_help"] = [SCRIPT, "data", "build", "--help"]

    def run(args):
        return subprocess.run(args, capture_output=True, text=True, cwd=w, timeout=300)

    with ThreadPoolExecutor(4) as pool:
        futures = {name: pool.submit(run, args) for name, args in argv.items()}
        return {name: f.result() for name, f in futures.items()}


def test_render_writes_the_dexed_render_of_the_voice(work, runs):
    result = runs["render"]
    assert result.returncode == 0, result.stderr
    out = work["dir"] / "out" / "sub" / "x.wav"
    assert result.stdout.strip() == f"wrote {out} (4.00 s, note 56, velocity 75)"
    audio, sample_rate = soundfile.read(out, dtype="float32")
    assert sample_rate == 16000 and audio.shape == (64000,)
    voice = read_sysex(work["render_bank"]).params[3]
    expected = DexedSynth(16000).render(voice, 56, 75, 3.0, 4.0)
    np.testing.assert_array_equal(audio, expected)
    assert np.sqrt(np.mean(np.square(audio))) > 1e-3  # a real sound, not silence


def test_render_note_and_velocity(work, runs):
    result = runs["render_note"]
    assert result.returncode == 0, result.stderr
    assert "note 60, velocity 100" in result.stdout
    audio, sample_rate = soundfile.read(work["dir"] / "y.wav", dtype="float32")
    default, _ = soundfile.read(work["dir"] / "out" / "sub" / "x.wav", dtype="float32")
    assert sample_rate == 16000 and audio.shape == (64000,)
    voice = read_sysex(work["render_bank"]).params[3]
    np.testing.assert_array_equal(audio, DexedSynth(16000).render(voice, 60, 100, 3.0, 4.0))
    assert not np.allclose(audio, default)


def test_render_missing_file(work, runs):
    line = one_error_line(runs["ref_missing"])
    assert f"{work['dir'] / 'missing.syx'}: cannot read" in line
    assert not (work["dir"] / "m.wav").exists()


def test_render_index_past_the_bank(work, runs):
    line = one_error_line(runs["ref_index"])
    assert line == f"spinvae: error: {work['bank']}: preset 40 asked for, the file holds 32 (0-based index)"
    assert not (work["dir"] / "i.wav").exists()


def test_render_reference_without_index(work, runs):
    line = one_error_line(runs["ref_no_colon"])
    assert str(work["bank"]) in line and "holds 32 presets; give FILE:INDEX" in line
    assert not (work["dir"] / "c.wav").exists()


def test_render_unreadable_bank(work, runs):
    assert one_error_line(runs["ref_empty"]) == f"spinvae: error: {work['dir'] / 'empty.syx'}: empty file"


def test_data_info_summarises_the_dataset(work, runs):
    result = runs["info"]
    assert result.returncode == 0, result.stderr
    manifest = work["manifest"]
    assert manifest["n_unique"] == 6 and manifest["n_presets"] == 4  # + INIT VOICE padding; - 2 quiet
    assert manifest["splits"] == {"train": 3, "valid": 0, "test": 1}
    lines = result.stdout.splitlines()
    assert lines[0] == f"dataset {work['dataset']} (dx7 presets)"
    text = result.stdout
    assert "presets           4  (train 3, valid 0, test 1)" in text
    assert "voices read      32  (26 duplicates removed, 6 unique)" in text
    assert "sources           2 preset files (1 unreadable)" in text
    assert "excluded          3  empty file: 1  near-silent: 1  silent: 1" in text
    assert "audio       16000 Hz, notes 56:75, 3.0 s held of 4.0 s" in text
    assert "spectrogram 1 x 257 x 251 (notes x mels x frames)" in text


def test_data_info_on_a_folder_without_dataset(work, runs):
    line = one_error_line(runs["info_not_dataset"])
    assert line == f"spinvae: error: {work['dir'] / 'not_a_dataset'}: no manifest.json (not a built dataset, or its build has not finished)"


def test_data_build_help(runs):
    result = runs["build_help"]
    assert result.returncode == 0, result.stderr
    for option in ("--out", "--syx", "--procedural", "--seed", "--notes", "--silence-db", "--chunk-size", "--workers", "--config"):
        assert option in result.stdout


def test_console_script_entry_point(runs):
    if "script_help" not in runs:
        pytest.skip("the `spinvae` console script is not installed next to this Python (pip install -e .)")
    result = runs["script_help"]
    assert result.returncode == 0, result.stderr
    assert result.stdout == runs["build_help"].stdout


def test_notes_without_colon_are_rejected(work, runs):
    line = one_error_line(runs["notes_dash"])
    assert line == "spinvae: error: --notes: '56-75' is not NOTE:VELOCITY (for example 56:75)"
    assert not (work["dir"] / "never1").exists()


def test_notes_out_of_range_are_rejected(work, runs):
    assert one_error_line(runs["notes_velocity"]) == "spinvae: error: invalid (note, velocity) pair (56, 200)"
    assert not (work["dir"] / "never2").exists()


def test_missing_syx_source_is_rejected(work, runs):
    line = one_error_line(runs["syx_missing"])
    assert line == f"spinvae: error: {work['dir'] / 'missing_folder'}: no such file or folder"
    assert not (work["dir"] / "never3").exists()


def test_files_that_are_not_spinvae_checkpoints_are_one_line_refusals(tmp_path, capsys):
    """Truncated, another program's, a text file, and a pickle that would run code: each refused in one
    line naming it, and the hostile one never unpickled."""
    import os

    import torch

    from spinvae.cli.main import main

    marker = tmp_path / "ran"

    class Hostile:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
    torch.save({"payload": Hostile()}, tmp_path / "hostile.ckpt")
    (tmp_path / "text.ckpt").write_text("not a checkpoint")
    (tmp_path / "truncated.ckpt").write_bytes((tmp_path / "other.ckpt").read_bytes()[:200])
    expected = {"other": "a PyTorch file without a spinvae model", "hostile": "refused: it holds objects that",
                "text": "not a PyTorch checkpoint file", "truncated": "not a PyTorch checkpoint file"}
    for name, reason in expected.items():
        path = tmp_path / f"{name}.ckpt"
        assert main(["edit", "--ckpt", str(path), "--preset", "x.syx:0", "--attribute", "ac_brightness",
                     "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"spinvae: error: {path}: ") and reason in err and "\n" not in err, err
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_ctrl_c_is_one_line_and_the_build_resumes(tmp_path):
    import signal
    import time

    out = tmp_path / "data"
    command = [sys.executable, "-m", "spinvae.cli.main", "data", "build", "--procedural", "300", "--out", str(out),
               "--chunk-size", "32", "--features", "false", "--progress", "false"]
    # a background job's children start with SIGINT ignored (and Python then installs no Ctrl-C handler):
    # the command gets the default disposition, as it has when a user runs it in a terminal
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not (out / "build_state.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err.strip().splitlines() == ["spinvae: interrupted; run the same command again to go on where it stopped"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and (out / "manifest.json").exists()


def test_features_of_files_keep_going_past_a_bad_one(tmp_path, capsys):
    import pandas as pd

    from spinvae.cli.main import main

    rate = 16000
    t = np.arange(rate) / rate
    soundfile.write(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate)
    soundfile.write(tmp_path / "b.wav", (0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-3 * t)).astype(np.float32), rate)
    (tmp_path / "bad.wav").write_text("not audio")
    files = [str(tmp_path / name) for name in ("a.wav", "bad.wav", "b.wav")]
    assert main(["features", *files, "--out", str(tmp_path / "f.csv"), "--progress", "false"]) == 0
    assert f"skipped {files[1]}: cannot read audio" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "f.csv")
    assert table["file"].tolist() == files  # in the order given
    assert table.loc[1, "reasons"].startswith("cannot read audio") and table.iloc[1, 1:-1].isna().all()
    assert table.loc[0, "tt_F0_med"] == pytest.approx(220, rel=0.02) and table.loc[2, "tt_F0_med"] == pytest.approx(440, rel=0.02)
    assert main(["features", files[1], "--out", str(tmp_path / "g.csv")]) == 2
    assert "no readable audio" in capsys.readouterr().err and not (tmp_path / "g.csv").exists()


@pytest.mark.parametrize("args, message", [
    (["evaluate", "--data", "d", "--out", "o", "--steps", "2"], "--steps 2: smoothness needs at least 3 steps"),
    (["evaluate", "--data", "d", "--out", "o", "--max-pairs", "0"], "--max-pairs 0: give 1 or more"),
    (["edit", "--ckpt", "c", "--preset", "p", "--attribute", "a", "--steps", "1", "--out", "o"],
     "--steps 1: a knob needs at least 2 steps"),
    (["edit", "--ckpt", "c", "--preset", "p", "--attribute", "a", "--amount", "0", "--out", "o"],
     "--amount 0.0: give a positive latent offset"),
    (["interpolate", "--method", "reference", "--start", "a", "--end", "b", "--steps", "1", "--out", "o"],
     "--steps 1: a morph needs at least 2 steps"),
    (["interpolate", "--method", "reference", "--start", "a", "--end", "b", "--steps", "30", "--extrapolate", "0.1",
      "--out", "o"], "34 steps, and a dx7 bank holds 32"),
])
def test_out_of_range_options_are_refused_before_any_work(args, message, tmp_path, capsys, monkeypatch):
    from spinvae.cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("spinvae: error: ") and message in err and "\n" not in err, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("text, expected", [
    ("out: x\nsynth: [dx7\n", r"bad.yaml: not valid YAML at line 3, column 1: expected ',' or '\]'"),
    ("a: 1\n\tb: 2\n", r"bad.yaml: not valid YAML at line 2, column 1: found character '\\t'"),
])
@pytest.mark.parametrize("command", [["data", "build"], ["fit"], ["sweep"]])
def test_a_yaml_config_that_does_not_parse_is_one_line_naming_the_file(tmp_path, capsys, text, expected, command):
    from spinvae.cli.main import main

    (tmp_path / "bad.yaml").write_text(text)
    assert main([*command, "--config", str(tmp_path / "bad.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"spinvae: error: {tmp_path / 'bad.yaml'}")
    assert re.search(expected, err[0]), err[0]
    assert main([*command, f"--config={tmp_path / 'missing.yaml'}"]) == 2
    assert capsys.readouterr().err.strip() == f"spinvae: error: {tmp_path / 'missing.yaml'}: no such config file"


def test_debug_adds_the_traceback_of_a_user_error(tmp_path, capsys, monkeypatch):
    from spinvae.cli.main import main

    assert main(["render", "--preset", str(tmp_path / "none.syx:0"), "--out", str(tmp_path / "x.wav")]) == 2
    quiet = capsys.readouterr().err
    assert "Traceback" not in quiet and len(quiet.strip().splitlines()) == 1
    assert main(["render", "--debug", "--preset", str(tmp_path / "none.syx:0"), "--out", str(tmp_path / "x.wav")]) == 2
    loud = capsys.readouterr().err
    assert "Traceback (most recent call last)" in loud and loud.strip().splitlines()[-1] == quiet.strip()
    monkeypatch.setenv("SPINVAE_DEBUG", "1")
    assert main(["render", "--preset", str(tmp_path / "none.syx:0"), "--out", str(tmp_path / "x.wav")]) == 2
    assert "Traceback" in capsys.readouterr().err


@pytest.fixture
def small_disk(tmp_path):
    """A real 1-MiB file system (tmpfs; mounting needs root, as CI and the developers' machines have)."""
    folder = tmp_path / "small_disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill: {mounted.stderr.strip()[:120]}")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_a_full_disk_is_one_line_and_the_build_resumes_when_there_is_room(small_disk, tmp_path):
    build = [*MODULE, "data", "build", "--procedural", "1000", "--chunk-size", "100", "--duration", "1.0",
             "--note-duration", "0.5", "--n-mels", "64", "--features", "false", "--progress", "false"]
    full = subprocess.run([*build, "--out", str(small_disk / "data")], capture_output=True, text=True, timeout=300)
    assert full.returncode == 2, full.stderr
    line = one_error_line(full)
    assert "cannot write: no space left on the device" in line and "run the same command again" in line
    # moved to a disk with room, the same build finishes from what was written
    shutil.copytree(small_disk / "data", tmp_path / "data")
    done = subprocess.run([*build, "--out", str(tmp_path / "data")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "manifest.json").is_file()
