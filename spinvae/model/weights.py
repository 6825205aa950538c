"""A pretrained model on disk: weights in safetensors, configuration in JSON, a checksum checked at load.

A model folder holds two files:

- ``model.safetensors``: the VAE's weights (``vae.*`` tensors of :class:`spinvae.training.module.SpinVAEModule`),
  float16 or float32; safetensors holds tensors only, so loading never runs code (no pickle);
- ``model.json``: ``format`` (:data:`FORMAT`), ``name``, ``synth``, ``dtype``, ``sha256`` (of the weights
  file, checked before the weights are read), ``hparams`` (``vae``, ``loss``, ``optimizer`` and
  ``data_info``, as a Lightning checkpoint holds them) and ``facts``: provenance and figures for the model
  card, of which ``facts["data"]`` is read as :class:`TrainingData` (the split's fingerprints).

The shipped models live in ``spinvae/pretrained/NAME/`` (:mod:`spinvae.pretrained`); any folder of this
form loads the same way (``--ckpt path/to/folder``), and :func:`export_model` writes one from a trained
module (``spinvae export``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from spinvae.errors import UserError

FORMAT = "spinvae-pretrained/1"
WEIGHTS = "model.safetensors"
CONFIG = "model.json"
DTYPES = {"float16": torch.float16, "float32": torch.float32}


class PretrainedError(UserError, ValueError):
    """A model folder that cannot be loaded (missing, altered, not spinvae's): one line naming the file."""


@dataclass(frozen=True)
class TrainingData:
    """What a model was trained on: the dataset ``recipe``, the ``source`` of its presets and their
    ``licence``, the number of presets per split and each split's fingerprint
    (:func:`spinvae.data.build.split_fingerprints`), so that a rebuild can prove its test split held out."""

    recipe: str
    source: str
    licence: str
    splits: dict[str, int]
    split_sha256: dict[str, str]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingData:
        return cls(recipe=str(data["recipe"]), source=str(data["source"]), licence=str(data["licence"]),
                   splits={k: int(v) for k, v in data["splits"].items()},
                   split_sha256={k: str(v) for k, v in data["split_sha256"].items()})


@dataclass(frozen=True)
class ModelFiles:
    """What a model folder's ``model.json`` says, typed. ``hparams`` are the module's constructor arguments
    (``vae``, ``loss``, ``optimizer``, ``data_info``)."""

    folder: Path
    name: str
    synth: str
    dtype: str
    sha256: str
    hparams: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS

    @property
    def data(self) -> TrainingData | None:
        """``facts["data"]``, typed (None when the folder does not say what it was trained on)."""
        return TrainingData.from_dict(self.facts["data"]) if "data" in self.facts else None

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "name": self.name, "synth": self.synth, "dtype": self.dtype, "sha256": self.sha256,
                "hparams": self.hparams, "facts": self.facts}


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_model_folder(path: str | Path) -> bool:
    """Whether ``path`` is a model folder (or the ``model.safetensors`` or ``model.json`` of one)."""
    path = Path(path)
    folder = path.parent if path.name in (WEIGHTS, CONFIG) else path
    return (folder / CONFIG).is_file() or (folder / WEIGHTS).is_file()


def model_folder(path: str | Path) -> Path:
    """The folder of ``path`` (a model folder, or one of its two files)."""
    path = Path(path)
    return path.parent if path.name in (WEIGHTS, CONFIG) else path


def read_model_files(path: str | Path) -> ModelFiles:
    """The typed ``model.json`` of a model folder, with the weights file's checksum verified.

    Raises :class:`PretrainedError` (one line naming the file) for a missing file, a ``model.json`` that is
    not spinvae's, or weights whose sha256 differs from the one recorded (altered, truncated, replaced).
    """
    folder = model_folder(path)
    config = folder / CONFIG
    if not config.is_file():
        raise PretrainedError(f"{config}: missing; a model folder holds {CONFIG} and {WEIGHTS}")
    try:
        data = json.loads(config.read_text())
        if data.get("format") != FORMAT:
            raise KeyError("format")
        files = ModelFiles(folder=folder, name=str(data["name"]), synth=str(data["synth"]), dtype=str(data["dtype"]),
                           sha256=str(data["sha256"]), hparams=dict(data["hparams"]), facts=dict(data.get("facts", {})))
        missing = [key for key in ("vae", "loss", "optimizer", "data_info") if key not in files.hparams]
        if missing:
            raise KeyError(f"hparams.{missing[0]}")
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PretrainedError(f"{config}: not readable JSON ({err})") from None
    except (KeyError, TypeError, AttributeError) as err:
        raise PretrainedError(f"{config}: not a spinvae model description (missing or bad {err})") from None
    if files.dtype not in DTYPES:
        raise PretrainedError(f"{config}: dtype {files.dtype!r} is none of {', '.join(DTYPES)}")
    if not files.weights.is_file():
        raise PretrainedError(f"{files.weights}: missing; the model's weights file is not there")
    actual = file_sha256(files.weights)
    if actual != files.sha256:
        raise PretrainedError(f"{files.weights}: checksum mismatch (sha256 {actual[:12]}..., {CONFIG} records "
                              f"{files.sha256[:12]}...): the file was altered, truncated or replaced")
    return files


def read_state_dict(files: ModelFiles) -> dict[str, torch.Tensor]:
    """The weights of a verified model folder, as float32 tensors keyed as the module's state dict."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(files.weights)
    except (SafetensorError, OSError, ValueError) as err:
        raise PretrainedError(f"{files.weights}: not a readable safetensors file ({str(err).splitlines()[0][:100]})") from None
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def export_model(module: torch.nn.Module, hparams: dict[str, Any], out: str | Path, name: str, synth: str,
                 dtype: str = "float16", facts: dict[str, Any] | None = None) -> ModelFiles:
    """Write a model folder ``out`` from a trained module's ``vae.*`` weights and its ``hparams``.

    ``dtype``: "float16" halves the size (docs/models.md measures what it costs) or "float32".
    Returns the written description; the folder is created, its two files replaced.
    """
    from safetensors.torch import save_file

    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r}: use one of {', '.join(DTYPES)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().to(DTYPES[dtype]) if v.is_floating_point() else v.detach()).contiguous().cpu()
             for k, v in module.state_dict().items() if k.startswith("vae.")}
    keep = {k: hparams[k] for k in ("vae", "loss", "optimizer", "data_info")}
    keep = json.loads(json.dumps(keep))  # plain JSON values (tuples as lists)
    save_file(state, out / WEIGHTS, metadata={"format": FORMAT, "name": name})
    files = ModelFiles(folder=out, name=name, synth=synth, dtype=dtype, sha256=file_sha256(out / WEIGHTS),
                       hparams=keep, facts=dict(facts or {}))
    (out / CONFIG).write_text(json.dumps(files.to_dict(), indent=1) + "\n")
    return files


def update_facts(path: str | Path, facts: dict[str, Any]) -> ModelFiles:
    """Merge ``facts`` into a verified model folder's ``model.json`` (the weights are not touched)."""
    files = read_model_files(path)
    updated = ModelFiles(folder=files.folder, name=files.name, synth=files.synth, dtype=files.dtype, sha256=files.sha256,
                         hparams=files.hparams, facts={**files.facts, **json.loads(json.dumps(facts))})
    (files.folder / CONFIG).write_text(json.dumps(updated.to_dict(), indent=1) + "\n")
    return updated
