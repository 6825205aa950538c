"""Recordings through the commands: spinvae match, a dataset of matched recordings, a morph between them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile

from spinvae.cli.main import main
from spinvae.synth.registry import get_synth


@pytest.fixture(scope="module")
def three_notes(soundfont_notes, tmp_path_factory):
    """Harp C5, koto D4 and banjo D3 (2 s, 48 kHz), and a file that is not audio, in one folder."""
    folder = tmp_path_factory.mktemp("notes")
    for key in (("harp", 72), ("koto", 62), ("banjo", 50)):
        (folder / soundfont_notes[key].name).write_bytes(soundfont_notes[key].read_bytes())
    (folder / "notes.wav").write_text("not audio")
    return folder


def test_match_writes_presets_wavs_pictures_and_beats_its_first_guess(three_notes, tmp_path, capsys):
    out = tmp_path / "matched"
    assert main(["match", str(three_notes), "--out", str(out), "--steps", "60", "--candidates", "32"]) == 0
    printed = capsys.readouterr().out
    assert f"skipped {three_notes / 'notes.wav'}: cannot read audio" in printed  # one line, and the rest go on
    table = pd.read_csv(out / "matches.csv")
    matched = table[table["reason"].isna()]
    assert len(matched) == 3 and len(table) == 4
    assert (matched["fit_distance"] < matched["guess_distance"]).all()
    assert set(matched["note_source"]) == {"file name"}
    synth = get_synth("pluck")
    for stem in ("harp_C5", "koto_D4", "banjo_D3"):
        assert synth.read_bank(out / f"{stem}.json").names == (stem,)
        audio, rate = soundfile.read(out / f"{stem}_match.wav")
        assert rate == 48000 and len(audio) == 96000  # the recording's rate and length
        assert (out / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["match", str(three_notes / "notes.wav"), "--out", str(tmp_path / "none")]) == 2
    assert main(["match", str(three_notes), "--synth", "dx7", "--out", str(tmp_path / "x")]) == 2
    assert "not differentiable" in capsys.readouterr().err


def test_a_dataset_of_matched_recordings_lists_their_fits_and_resumes_without_fitting(three_notes, tmp_path, capsys):
    out = tmp_path / "data"
    args = ["data", "build", "--synth", "pluck", "--wav", str(three_notes), "--procedural", "29", "--out", str(out),
            "--chunk-size", "16", "--duration", "1.0", "--note-duration", "0.75", "--n-mels", "32", "--progress", "false"]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    recorded = [s for s in manifest["sources"] if s["path"].endswith(".wav")]
    assert len(recorded) == 4
    assert sorted(s["path"].rsplit("/", 1)[1] for s in recorded if "fit_distance" in s) == [
        "banjo_D3.wav", "harp_C5.wav", "koto_D4.wav"]
    assert [s["error"] for s in recorded if "error" in s][0].startswith("cannot read audio")
    assert manifest["n_voices_read"] == 32
    capsys.readouterr()
    (out / "manifest.json").unlink()  # an interrupted build: the matches are kept
    assert main(args) == 0
    assert "matching" not in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text())["sources"] == manifest["sources"]


def test_a_morph_between_two_recordings_puts_them_beside_its_ends(three_notes, tmp_path, capsys):
    out = tmp_path / "morph"
    assert main(["interpolate", "--method", "reference", "--synth", "pluck", "--start", str(three_notes / "harp_C5.wav"),
                 "--end", str(three_notes / "banjo_D3.wav"), "--steps", "3", "--note", "52", "--sample-rate", "48000",
                 "--out", str(out)]) == 0
    assert "harp_C5.wav (matched at MIDI" in capsys.readouterr().out
    page = (out / "morph.html").read_text()
    assert page.index("start_recording.wav") < page.index("step_01.wav") < page.index("end_recording.wav")
    assert (out / "morph.png").read_bytes()[:4] == b"\x89PNG"
    audio, rate = soundfile.read(out / "step_02.wav")
    assert rate == 48000
    presets = get_synth("pluck").read_bank(out / "interpolation.json").params
    assert presets.shape == (3, 29) and not np.array_equal(presets[0], presets[-1])


def test_matching_into_a_folder_of_other_settings_is_refused_unless_overwritten(three_notes, tmp_path, capsys):
    out = tmp_path / "matched"
    koto = str(three_notes / "koto_D4.wav")
    assert main(["match", koto, "--out", str(out), "--steps", "5", "--candidates", "8", "--progress", "false"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert json.loads((out / "match.json").read_text())["steps"] == 5
    capsys.readouterr()
    again = ["match", koto, "--out", str(out), "--steps", "7", "--candidates", "8", "--progress", "false"]
    assert main(again) == 2
    assert capsys.readouterr().err.strip() == (f"spinvae: error: {out}: holds matches made with steps 5 (now 7); "
                                               "give --overwrite true to replace them, or another --out")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # untouched
    assert main([*again, "--overwrite", "true"]) == 0
    assert json.loads((out / "match.json").read_text())["steps"] == 7
    assert len(pd.read_csv(out / "matches.csv")) == 1
