"""``--ckpt`` beyond checkpoint files: evaluate's model specs (shipped ones, model folders) and match's
first guess (the shipped sound encoder where there is one, the candidates with ``--ckpt none``)."""

from __future__ import annotations

import json

import pytest
import soundfile

import spinvae.pretrained
from spinvae.cli.commands import parse_checkpoints
from spinvae.cli.main import main
from spinvae.errors import UserError
from spinvae.matching.run import SETTINGS
from spinvae.model.weights import CONFIG
from spinvae.synth.base import RenderSettings
from spinvae.synth.registry import get_synth
from tests.conftest import altered_model_folder


@pytest.fixture
def shipped_dir(tmp_path, monkeypatch):
    """An empty folder of shipped models in place of spinvae/pretrained/."""
    folder = tmp_path / "pretrained"
    folder.mkdir()
    monkeypatch.setattr(spinvae.pretrained, "SHIPPED_DIR", folder)
    return folder


def test_parse_checkpoints_takes_shipped_models_and_model_folders(tmp_path, shipped_dir):
    (shipped_dir / "dx7").mkdir()
    (shipped_dir / "dx7" / CONFIG).write_text("{}")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / CONFIG).write_text("{}")
    assert parse_checkpoints(["shipped"]) == {"shipped": "shipped"}
    assert parse_checkpoints(["shipped:dx7"]) == {"shipped_dx7": "shipped:dx7"}
    assert parse_checkpoints(["base=shipped", f"mine={mine}", "shipped:dx7", str(mine / CONFIG)]) == {
        "base": "shipped", "mine": str(mine), "shipped_dx7": "shipped:dx7", "model4": str(mine / CONFIG)}


def test_parse_checkpoints_refuses_what_names_no_model(tmp_path, shipped_dir):
    with pytest.raises(UserError, match="nothing: no such checkpoint or model folder"):
        parse_checkpoints([f"a={tmp_path / 'nothing'}"])
    with pytest.raises(UserError, match="shipped:pluck: no such shipped model"):
        parse_checkpoints(["shipped:pluck"])
    with pytest.raises(UserError, match="'shipped' used twice"):
        parse_checkpoints(["shipped", "shipped"])


@pytest.fixture
def recording(tmp_path):
    """One note of a pluck preset, as a WAV."""
    synth, settings = get_synth("pluck"), RenderSettings(16000, ((57, 100),), 0.75, 1.0)
    path = tmp_path / "note.wav"
    soundfile.write(path, synth.render(synth.generate(1, seed=3).params, settings)[0, 0], 16000)
    return path


MATCH = ["--synth", "pluck", "--note", "57", "--steps", "0", "--candidates", "4", "--progress", "false"]


def test_match_takes_the_shipped_sound_encoder_unless_ckpt_none(recording, tmp_path, shipped_dir, capsys):
    altered_model_folder(shipped_dir / "pluck_match", synth="pluck", fusion="audio_only")  # present, refused when loaded
    assert main(["match", str(recording), *MATCH, "--out", str(tmp_path / "shipped")]) == 2
    err = capsys.readouterr().err
    assert "pluck_match/model.safetensors: checksum mismatch" in err and len(err.strip().splitlines()) == 1
    assert main(["match", str(recording), *MATCH, "--ckpt", "none", "--out", str(tmp_path / "none")]) == 0
    assert json.loads((tmp_path / "none" / SETTINGS).read_text())["ckpt"] is None


def test_match_without_a_shipped_encoder_takes_the_candidates(recording, tmp_path, shipped_dir):
    assert main(["match", str(recording), *MATCH, "--out", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / SETTINGS).read_text())["ckpt"] is None
