"""A trained model as an interpolator: presets in, latent codes, presets out.

Everything comes from the checkpoint (architecture, dataset facts in ``data_info``), so a
checkpoint file alone is enough. Presets are learnable values (n, n_learnable) uint8 of the
checkpoint's synth schema.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from spinvae.audio.mel import MelSettings, scale_db
from spinvae.data.spectrograms import analyse_presets
from spinvae.interpolation.refine import RefineConfig, Refinement, refine_latents
from spinvae.model.weights import CONFIG, ModelFiles, PretrainedError, export_model, read_model_files, read_state_dict
from spinvae.pretrained import resolve_model
from spinvae.synth.base import RenderSettings
from spinvae.training.module import SpinVAEModule


class CheckpointError(ValueError):
    """A file that is not a spinvae checkpoint: one line naming it and what it is."""


def load_model(checkpoint: str | Path, device: str | torch.device = "cpu", synth: str | None = None) -> SpinVAEModule:
    """A trained model in eval mode, from a checkpoint alone (loaded with ``weights_only=True``, so a
    checkpoint that would run code when unpickled is refused, never run), or from a model folder:
    ``shipped`` (the shipped model of ``synth``), ``shipped:NAME`` or a folder's path
    (:mod:`spinvae.pretrained`).

    Raises FileNotFoundError for a missing file, :class:`CheckpointError` for a file that is not a
    spinvae checkpoint (truncated, another program's, unsafe to unpickle) and
    :class:`spinvae.pretrained.PretrainedError` for a model folder that is missing, altered or not spinvae's.
    """
    import pickle
    import zipfile

    folder = resolve_model(str(checkpoint), synth)
    if folder is not None:
        return load_model_folder(folder, device)
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    if not zipfile.is_zipfile(path):  # torch.save writes zip archives; a truncated one has no central directory
        raise CheckpointError(f"{path}: not a spinvae checkpoint (not a PyTorch checkpoint file: truncated, "
                              f"damaged, or another kind of file)")
    try:
        module = SpinVAEModule.load_from_checkpoint(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{path}: refused: it holds objects that unpickling would run as code (not a spinvae "
                              f"checkpoint, or not one to trust)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{path}: not a spinvae checkpoint (damaged: {str(err).splitlines()[0][:100]})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(f"{path}: not a spinvae checkpoint (a PyTorch file without a spinvae model: "
                              f"{type(err).__name__} {str(err)[:80]})") from None
    return module.eval()


def load_model_folder(folder: str | Path, device: str | torch.device = "cpu") -> SpinVAEModule:
    """The model of a model folder (:mod:`spinvae.model.weights`) in eval mode: its checksum verified, its
    weights as float32."""
    files = read_model_files(folder)
    hparams = files.hparams
    try:
        module = SpinVAEModule(vae=hparams["vae"], loss=hparams["loss"], optimizer=hparams["optimizer"],
                               data_info=hparams["data_info"])
    except (KeyError, TypeError, ValueError) as err:
        raise PretrainedError(f"{files.folder / CONFIG}: not a model spinvae can build ({type(err).__name__}: "
                              f"{str(err).splitlines()[0][:100]})") from None
    try:
        module.load_state_dict(read_state_dict(files), strict=True)
    except RuntimeError as err:
        raise PretrainedError(f"{files.weights}: weights do not fit the model its {CONFIG} describes "
                              f"({str(err).splitlines()[0][:100]})") from None
    return module.to(device).eval()


def export_checkpoint(checkpoint: str | Path, out: str | Path, name: str | None = None, dtype: str = "float16",
                      facts: dict | None = None) -> ModelFiles:
    """Write a trained model (a Lightning checkpoint or a model folder) as a model folder ``out``
    (:mod:`spinvae.model.weights`: safetensors weights, JSON configuration, a checksum)."""
    module = load_model(checkpoint)
    hparams = {"vae": module.hparams["vae"], "loss": module.hparams["loss"], "optimizer": module.hparams["optimizer"],
               "data_info": module.hparams["data_info"]}
    return export_model(module, hparams, out, name=name or Path(out).name, synth=module.synth.name, dtype=dtype,
                        facts=facts)


def render_settings(module: SpinVAEModule) -> tuple[RenderSettings, MelSettings]:
    """How the model's dataset played and analysed presets."""
    return module.data.render, module.data.mel


def scaled_spectrograms(module: SpinVAEModule, values: np.ndarray, workers: int = 2) -> torch.Tensor:
    """The model's input spectrograms (n, n_notes, n_mels, n_frames) of presets ``values`` (n, L)."""
    render, mel = render_settings(module)
    analysis = analyse_presets(module.schema.from_learnable(values), render, mel, workers=workers, synth=module.synth)
    return torch.from_numpy(scale_db(analysis.db, module.data.db_min, module.data.db_max))


@torch.no_grad()
def encode_posterior(module: SpinVAEModule, values: np.ndarray, workers: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and variances (n, dim_z) of presets ``values`` (n, L); renders them when the model listens."""
    values = np.asarray(values)
    classes, numbers = (torch.from_numpy(x).to(module.device) for x in module.schema.to_tokens(values))
    spectrogram = None
    if module.vae.audio_encoder is not None:
        spectrogram = scaled_spectrograms(module, values, workers).to(module.device)
    return module.vae.encode(classes, numbers, spectrogram)


def encode_presets(module: SpinVAEModule, values: np.ndarray, workers: int = 2) -> torch.Tensor:
    """Latent means (n, dim_z) of presets ``values`` (n, L)."""
    return encode_posterior(module, values, workers)[0]


def refined_codes(module: SpinVAEModule, values: np.ndarray, refine: RefineConfig,
                  workers: int = 2) -> Refinement:
    """Latent codes of presets ``values`` (n, L) refined from their posterior means until they decode
    back to the presets (:mod:`spinvae.interpolation.refine`)."""
    values = np.asarray(values)
    mu, variance = encode_posterior(module, values, workers)
    classes, numbers = (torch.from_numpy(x).to(module.device) for x in module.schema.to_tokens(values))
    target = torch.from_numpy(values.astype(np.int64)).to(module.device)
    return refine_latents(module.vae, target, classes, numbers, mu, variance, refine)


def end_codes(module: SpinVAEModule, values: np.ndarray, refine: RefineConfig | None = None,
              workers: int = 2) -> tuple[torch.Tensor, Refinement | None]:
    """The codes (n, dim_z) a morph starts or ends at: posterior means, or refined ones when ``refine``
    asks for steps (then with the refinement's figures)."""
    if refine is None or refine.steps == 0:
        return encode_presets(module, values, workers), None
    refinement = refined_codes(module, values, refine, workers)
    return refinement.z, refinement


def attribute_codes(module: SpinVAEModule, z: torch.Tensor, attribute: str, offsets: torch.Tensor) -> torch.Tensor:
    """Codes (len(offsets), dim_z): ``z`` (dim_z,) with ``offsets`` added to every coordinate of the latent
    chunk the model binds ``attribute`` to (the timbre knob); ValueError for an attribute it does not regularise."""
    if attribute not in module.attribute_names:
        raise ValueError(f"{attribute}: not regularised by this model; it has {', '.join(module.attribute_names) or 'none'}")
    a, chunk = module.attribute_names.index(attribute), module.loss_config.chunk
    codes = z.expand(len(offsets), -1).clone()
    codes[:, a * chunk : (a + 1) * chunk] += offsets[:, None].to(codes)
    return codes


@torch.no_grad()
def decode_latents(module: SpinVAEModule, z: torch.Tensor) -> np.ndarray:
    """Presets (n, L) uint8 decoded from latent codes (n, dim_z): the most probable value of each parameter."""
    return module.vae.decode_presets(z.to(module.device)).cpu().numpy().astype(np.uint8)
