"""Every command family against a new user's mistakes, class by class: each case must end with exit status 2,
one line ``spinvae: error: ...`` naming the file or option at fault, and no output left behind.

The classes are those of the bad-input survey: a file that is not there, a file that is not what it should
be, an option out of range (checked before any work), a dataset that is not built or whose manifest is not
JSON, a config that does not parse. ``CASES`` lists them; the module's last test prints the count by class.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import mido
import pytest

from spinvae.cli.main import main
from spinvae.synth.registry import get_synth
from tests.conftest import altered_model_folder

OUT = "OUT"  # replaced by a fresh path per case: it must not exist after the refusal


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Good and bad inputs: a DX7 bank, pluck presets, a MIDI file; text posing as each kind of file; a
    dataset folder whose manifest is not JSON; a YAML file that does not parse."""
    folder = tmp_path_factory.mktemp("bad_input")
    get_synth("dx7").write_bank(folder / "bank.syx", get_synth("dx7").generate(4, seed=1).params)
    get_synth("pluck").write_bank(folder / "pluck.json", get_synth("pluck").generate(2, seed=1).params)
    midi = mido.MidiFile()
    midi.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60), mido.Message("note_off", note=60, time=240)]))
    midi.save(folder / "take.mid")
    for name in ("text.syx", "text.wav", "text.mid", "text.ckpt"):
        (folder / name).write_text("this is not what its name says\n")
    (folder / "bad.json").write_text('{"presets": [{"name": "x", "parameters": {"f0": ')
    (folder / "broken_dataset").mkdir()
    (folder / "broken_dataset" / "manifest.json").write_text("{not json")
    (folder / "empty_dataset").mkdir()
    (folder / "bad.yaml").write_text("model:\n  vae: [dim_z\n")
    altered_model_folder(folder / "altered_model")
    return folder


F = "{files}"  # stands for the fixture's folder in the cases below
REF_DX7 = ["--method", "reference", "--synth", "dx7"]

# (class, command line, what the one line must name)
CASES = [
    # a file that is not there
    ("missing file", ["render", "--preset", f"{F}/none.syx:0", "--out", f"{OUT}/x.wav"], "none.syx"),
    ("missing file", ["interpolate", *REF_DX7, "--start", f"{F}/none.syx:0", "--end", f"{F}/bank.syx:1", "--out", OUT],
     "none.syx"),
    ("missing file", ["edit", "--ckpt", f"{F}/none.ckpt", "--preset", f"{F}/bank.syx:0", "--attribute", "ac_depth",
                      "--out", OUT], "none.ckpt"),
    ("missing file", ["evaluate", "--data", f"{F}/none_dataset", "--method", "reference", "--out", OUT], "none_dataset"),
    ("missing file", ["data", "info", f"{F}/none_dataset"], "none_dataset"),
    ("missing file", ["data", "build", "--presets", f"{F}/none_folder", "--out", OUT], "none_folder"),
    ("missing file", ["match", f"{F}/none.wav", "--out", OUT], "no recording could be matched"),
    ("missing file", ["play", *REF_DX7, "--start", f"{F}/bank.syx:0", "--end", f"{F}/bank.syx:1", "--midi-file",
                      f"{F}/none.mid", "--out", f"{OUT}/x.wav"], "none.mid"),
    ("missing file", ["fit", "--config", f"{F}/none.yaml"], "none.yaml"),
    ("missing file", ["interpolate", "--ckpt", "shipped:none_such", "--start", f"{F}/bank.syx:0", "--end",
                      f"{F}/bank.syx:1", "--out", OUT], "shipped:none_such: no such shipped model"),
    ("missing file", ["evaluate", "--data", f"{F}/empty_dataset", "--ckpt", f"{F}/none_model", "--out", OUT],
     "none_model: no such checkpoint or model folder"),
    ("missing file", ["export", "--ckpt", f"{F}/none.ckpt", "--out", OUT], "none.ckpt"),
    ("missing file", ["sweep", "--config", f"{F}/none.yaml"], "none.yaml"),
    # a file that is not what it should be
    ("not that kind of file", ["render", "--preset", f"{F}/text.syx:0", "--out", f"{OUT}/x.wav"], "text.syx"),
    ("not that kind of file", ["render", "--synth", "pluck", "--preset", f"{F}/bad.json:0", "--out", f"{OUT}/x.wav"],
     "bad.json"),
    ("not that kind of file", ["interpolate", "--ckpt", f"{F}/text.ckpt", "--start", f"{F}/bank.syx:0", "--end",
                               f"{F}/bank.syx:1", "--out", OUT], "text.ckpt"),
    ("not that kind of file", ["interpolate", "--ckpt", f"{F}/altered_model", "--start", f"{F}/bank.syx:0", "--end",
                               f"{F}/bank.syx:1", "--out", OUT], "altered_model/model.safetensors: checksum mismatch"),
    ("not that kind of file", ["export", "--ckpt", f"{F}/text.ckpt", "--out", OUT], "text.ckpt"),
    ("not that kind of file", ["evaluate", "--data", f"{F}/broken_dataset", "--method", "reference", "--out", OUT],
     "manifest.json"),
    ("not that kind of file", ["data", "info", f"{F}/broken_dataset"], "manifest.json"),
    ("not that kind of file", ["match", f"{F}/text.wav", "--out", OUT], "no recording could be matched"),
    ("not that kind of file", ["play", *REF_DX7, "--start", f"{F}/bank.syx:0", "--end", f"{F}/bank.syx:1",
                               "--midi-file", f"{F}/text.mid", "--out", f"{OUT}/x.wav"], "text.mid"),
    ("not that kind of file", ["play", *REF_DX7, "--start", f"{F}/text.syx:0", "--end", f"{F}/bank.syx:1",
                               "--midi-file", f"{F}/take.mid", "--out", f"{OUT}/x.wav"], "text.syx"),
    # a config that does not parse
    ("config that does not parse", ["fit", "--config", f"{F}/bad.yaml"], "bad.yaml: not valid YAML at line 3"),
    ("config that does not parse", ["data", "build", "--config", f"{F}/bad.yaml", "--out", OUT], "bad.yaml"),
    ("config that does not parse", ["sweep", "--config", f"{F}/bad.yaml"], "bad.yaml"),
    # a dataset that is not built
    ("dataset not built", ["evaluate", "--data", f"{F}/empty_dataset", "--method", "reference", "--out", OUT],
     "empty_dataset"),
    ("dataset not built", ["fit", "--config", "experiments/smoke.yaml", "--data.data_dir", f"{F}/empty_dataset",
                           "--trainer.logger", "false"], "empty_dataset: no manifest.json"),
    # an option out of range, refused before any work
    ("option out of range", ["interpolate", *REF_DX7, "--start", f"{F}/bank.syx:0", "--end", f"{F}/bank.syx:1",
                             "--steps", "1", "--out", OUT], "--steps 1"),
    ("option out of range", ["interpolate", *REF_DX7, "--start", f"{F}/bank.syx:0", "--end", f"{F}/bank.syx:1",
                             "--steps", "-3", "--out", OUT], "--steps -3"),
    ("option out of range", ["interpolate", *REF_DX7, "--start", f"{F}/bank.syx:0", "--end", f"{F}/bank.syx:1",
                             "--extrapolate", "-1", "--out", OUT], "--extrapolate -1"),
    ("option out of range", ["interpolate", *REF_DX7, "--start", f"{F}/bank.syx:0", "--end", f"{F}/bank.syx:1",
                             "--steps", "30", "--extrapolate", "1", "--out", OUT], "bank holds 32"),
    ("option out of range", ["edit", "--ckpt", f"{F}/none.ckpt", "--preset", f"{F}/bank.syx:0", "--attribute",
                             "ac_depth", "--steps", "1", "--out", OUT], "--steps 1"),
    ("option out of range", ["match", f"{F}/text.wav", "--steps", "-1", "--out", OUT], "--steps"),
    ("option out of range", ["match", f"{F}/text.wav", "--loudness-weight", "-1", "--out", OUT], "--loudness-weight -1"),
    ("option out of range", ["play", *REF_DX7, "--start", f"{F}/bank.syx:0", "--end", f"{F}/bank.syx:1", "--cc", "200",
                             "--midi-file", f"{F}/take.mid", "--out", f"{OUT}/x.wav"], "cc 200"),
    ("option out of range", ["play", *REF_DX7, "--start", f"{F}/bank.syx:0", "--end", f"{F}/bank.syx:1",
                             "--key-range", "90:30", "--midi-file", f"{F}/take.mid", "--out", f"{OUT}/x.wav"],
     "--key-range"),
    ("option out of range", ["play", *REF_DX7, "--start", f"{F}/bank.syx:0", "--end", f"{F}/bank.syx:1",
                             "--extrapolate", "-2", "--midi-file", f"{F}/take.mid", "--out", f"{OUT}/x.wav"],
     "--extrapolate -2"),
    ("option out of range", ["data", "build", "--procedural", "4", "--notes", "200:10", "--out", OUT], "200"),
    ("option out of range", ["data", "build", "--procedural", "4", "--match-steps", "-1", "--out", OUT],
     "--match-steps -1"),
    ("option out of range", ["render", "--preset", f"{F}/bank.syx:0", "--velocity", "0", "--out", f"{OUT}/x.wav"],
     "velocity"),
    ("option out of range", ["render", "--preset", f"{F}/bank.syx:40", "--out", f"{OUT}/x.wav"],
     "preset 40 asked for, the file holds 32"),
]


@pytest.mark.parametrize("kind, argv, named", CASES, ids=[f"{c[0]}: {' '.join(c[1][:2])}" for c in CASES])
def test_a_mistake_is_one_line_naming_it_and_leaves_nothing(kind, argv, named, files, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [arg.replace(F, str(files)).replace(OUT, str(out)) for arg in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("spinvae: error: ") and named in err[0], err[0]
    assert "Traceback" not in err[0]
    assert not out.exists(), f"{kind}: left {sorted(p.name for p in out.rglob('*'))}"


def test_the_cases_cover_every_class_and_family():
    classes = Counter(kind for kind, _, _ in CASES)
    families = {argv[0] for _, argv, _ in CASES}
    print("bad-input cases by class: " + ", ".join(f"{k} {n}" for k, n in classes.items()) + f"; {len(CASES)} in all")
    assert set(classes) == {"missing file", "not that kind of file", "config that does not parse", "dataset not built",
                            "option out of range"}
    assert families >= {"render", "interpolate", "edit", "evaluate", "data", "match", "play", "fit", "sweep", "export"}
