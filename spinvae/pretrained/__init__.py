"""Pretrained models that ship with spinvae, and loading any model folder (docs/models.md).

Shipped models sit beside this file, one folder each (:mod:`spinvae.model.weights` has the format):

- ``dx7``: the DX7 morph model, trained on the CC0 banks of ``datasets/banks/dexed_cart`` alone;
- ``pluck``: the pluck synth's preset VAE, trained on the pluck synth's own procedural presets;
- ``pluck_match``: an audio-only encoder of the pluck synth, the first guess of ``spinvae match``.

Every command that takes ``--ckpt`` takes ``shipped`` (the shipped model of the command's synth),
``shipped:NAME`` or the path of a model folder, as well as a Lightning checkpoint; where ``--ckpt`` is
not given, the commands that need a model use the shipped one. Loading a folder into a model is
:func:`spinvae.interpolation.model.load_model`'s; a training stage starts from one through
``model.init_checkpoint`` (:func:`spinvae.training.module.initial_state`).
"""

from __future__ import annotations

from pathlib import Path

from spinvae.model.weights import (
    CONFIG, WEIGHTS, ModelFiles, PretrainedError, export_model, is_model_folder, model_folder, read_model_files,
    read_state_dict,
)

SHIPPED_DIR = Path(__file__).resolve().parent
SHIPPED = "shipped"

__all__ = [
    "CONFIG", "WEIGHTS", "ModelFiles", "PretrainedError", "SHIPPED", "export_model", "shipped_model",
    "is_model_folder", "pretrained_state", "read_model_files", "resolve_model", "shipped_folder",
    "shipped_names",
]


def shipped_names() -> list[str]:
    """The names of the models shipped in this installation."""
    return sorted(p.name for p in SHIPPED_DIR.iterdir() if (p / CONFIG).is_file())


def shipped_folder(name: str) -> Path:
    """The folder of shipped model ``name``; :class:`PretrainedError` naming the ones there are."""
    folder = SHIPPED_DIR / name
    if not (folder / CONFIG).is_file():
        raise PretrainedError(f"shipped:{name}: no such shipped model; spinvae ships "
                              f"{', '.join(f'shipped:{n}' for n in shipped_names()) or 'none in this installation'}")
    return folder


def shipped_model(synth: str, sound_encoder: bool = False) -> str | None:
    """The name of the shipped morph model of ``synth`` (with ``sound_encoder``: its sound encoder, an
    ``audio_only`` model), as the folders' own ``model.json`` say; None when this installation has none.
    No synth is named here: a synth's shipped models are the folders that say they are its."""
    import json

    for name in shipped_names():
        data = json.loads((SHIPPED_DIR / name / CONFIG).read_text())
        listens = data.get("hparams", {}).get("vae", {}).get("fusion") == "audio_only"
        if data.get("synth") == synth and listens == sound_encoder:
            return name
    return None


def resolve_model(spec: str, synth: str | None = None, sound_encoder: bool = False) -> Path | None:
    """The model folder that a ``--ckpt`` value names, or None when it names none (a Lightning checkpoint).

    ``shipped``: the shipped morph model of ``synth`` (its sound encoder with ``sound_encoder``);
    ``shipped:NAME``: a shipped model by name; a model folder (or its ``model.safetensors``/``model.json``).
    """
    if spec == SHIPPED:
        name = shipped_model(synth, sound_encoder) if synth else None
        if name is None:
            what = "sound encoder" if sound_encoder else "model"
            raise PretrainedError(f"--ckpt shipped: spinvae ships no {what} of the {synth or 'given'} synth in this "
                                  f"installation (it has {', '.join(shipped_names()) or 'none'}); give a checkpoint")
        return shipped_folder(name)
    if spec.startswith(SHIPPED + ":"):
        return shipped_folder(spec.split(":", 1)[1])
    if is_model_folder(spec):
        return model_folder(spec)
    return None


def pretrained_state(path: str | Path) -> dict:
    """The state dict (``vae.*``, float32) of a model folder, checksum verified: a training stage's start."""
    return read_state_dict(read_model_files(path))
