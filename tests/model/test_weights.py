"""Model folders (safetensors weights, JSON configuration, checksum): round trips and refusals."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from spinvae.interpolation.model import decode_latents, export_checkpoint, load_model
from spinvae.model.weights import CONFIG, WEIGHTS, PretrainedError, read_model_files


@pytest.fixture(scope="module")
def exported(tiny_checkpoint, tmp_path_factory):
    """The tiny checkpoint exported twice: float32 and float16."""
    root = tmp_path_factory.mktemp("exported")
    return {dtype: export_checkpoint(tiny_checkpoint, root / dtype, dtype=dtype).folder for dtype in ("float32", "float16")}


def test_float32_folder_loads_the_checkpoints_exact_weights(tiny_checkpoint, exported):
    original, folder = load_model(tiny_checkpoint), load_model(exported["float32"])
    a, b = original.state_dict(), folder.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert folder.hparams["data_info"] == json.loads(json.dumps(original.hparams["data_info"]))


def test_float16_folder_is_half_the_size_and_decodes_nearly_the_same_presets(tiny_checkpoint, exported):
    original, half = load_model(tiny_checkpoint), load_model(exported["float16"])
    size32 = (exported["float32"] / WEIGHTS).stat().st_size
    size16 = (exported["float16"] / WEIGHTS).stat().st_size
    assert size16 < 0.55 * size32
    for key, value in original.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(half.state_dict()[key], value, rtol=1e-3, atol=1e-3)
    z = torch.randn(32, original.vae.config.dim_z, generator=torch.Generator().manual_seed(0))
    same = (decode_latents(original, z) == decode_latents(half, z)).mean()
    assert same > 0.97  # a parameter's argmax moves only where two classes were within float16 rounding


def test_flipped_byte_in_weights_is_refused_naming_the_file(exported, tmp_path):
    folder = tmp_path / "altered"
    shutil.copytree(exported["float16"], folder)
    data = bytearray((folder / WEIGHTS).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(PretrainedError, match=rf"{WEIGHTS}: checksum mismatch") as err:
        load_model(folder)
    assert "\n" not in str(err.value) and str(folder) in str(err.value)


def test_truncated_weights_are_refused(exported, tmp_path):
    folder = tmp_path / "truncated"
    shutil.copytree(exported["float16"], folder)
    data = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(data[: len(data) // 3])
    with pytest.raises(PretrainedError, match="checksum mismatch"):
        read_model_files(folder)


def test_missing_weights_and_bad_json_are_one_line_each(exported, tmp_path):
    folder = tmp_path / "missing"
    shutil.copytree(exported["float16"], folder)
    (folder / WEIGHTS).unlink()
    with pytest.raises(PretrainedError, match=rf"{WEIGHTS}: missing"):
        load_model(folder / CONFIG)
    (folder / CONFIG).write_text("{ not json")
    with pytest.raises(PretrainedError, match=rf"{CONFIG}: not readable JSON"):
        load_model(folder)
    (folder / CONFIG).write_text(json.dumps({"format": "spinvae-pretrained/1", "name": "x"}))
    with pytest.raises(PretrainedError, match="not a spinvae model description"):
        load_model(folder)


def test_weights_of_another_architecture_are_refused(exported, tmp_path):
    folder = tmp_path / "other"
    shutil.copytree(exported["float32"], folder)
    config = json.loads((folder / CONFIG).read_text())
    config["hparams"]["vae"]["d_ff"] = 128
    (folder / CONFIG).write_text(json.dumps(config))
    with pytest.raises(PretrainedError, match="do not fit the model"):
        load_model(folder)
    config["hparams"]["vae"]["dim_z"] = 8  # fewer latent dimensions than the attributes' chunks need
    (folder / CONFIG).write_text(json.dumps(config))
    with pytest.raises(PretrainedError, match="not a model spinvae can build"):
        load_model(folder)


def test_a_stage_starts_from_a_model_folder(exported, tiny_checkpoint):
    from spinvae.training.module import initial_state

    state = initial_state(str(exported["float32"]), "dx7")
    expected = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    assert set(state) == {k for k in expected if k.startswith("vae.")}
    assert all(np.array_equal(state[k].numpy(), expected[k].numpy()) for k in state)
