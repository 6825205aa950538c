"""What a built dataset says about itself, typed: its manifest, and what a model keeps of it.

``manifest.json`` is written by :mod:`spinvae.data.build` (a plain JSON file users read too);
readers take it through :func:`read_manifest` as a :class:`DatasetManifest`. A model keeps a
:class:`DataInfo` in its checkpoints (as plain values, so checkpoints load with
``weights_only=True``), enough to play and analyse presets as its dataset did.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spinvae.audio.mel import MelSettings
from spinvae.errors import UserError
from spinvae.features.attributes import AttributeTransform
from spinvae.synth.base import RenderSettings
from spinvae.synth.registry import DEFAULT_SYNTH

MANIFEST = "manifest.json"


class ManifestError(UserError, ValueError):
    """A dataset folder without a readable manifest: one line naming the folder and the reason."""


@dataclass(frozen=True)
class DatasetManifest:
    """The typed reading of a dataset's ``manifest.json``; ``raw`` is the whole file.

    ``synth``: the synth's name (datasets built before synths were plug-ins are the DX7's);
    ``render``/``mel``: how presets were played and analysed; ``db_min``/``db_max``: the training
    split's dB range (spectrogram scaling); ``attributes``: the raw-features-to-attributes transform
    (None for a build without features); ``ac_backend``: the Audio Commons implementation.
    """

    root: Path
    synth: str
    render: RenderSettings
    mel: MelSettings
    db_min: float
    db_max: float
    attributes: AttributeTransform | None
    ac_backend: str
    splits: dict[str, int]
    raw: dict[str, Any]

    @classmethod
    def from_dict(cls, root: str | Path, data: dict[str, Any]) -> DatasetManifest:
        settings = data["settings"]
        features = data.get("features")
        return cls(
            root=Path(root), synth=data.get("synth", DEFAULT_SYNTH),
            render=RenderSettings.from_dict(settings["render"]), mel=MelSettings(**settings["mel"]),
            db_min=float(data["normalization"]["db_min"]), db_max=float(data["normalization"]["db_max"]),
            attributes=AttributeTransform.from_dict(features["attributes"]) if features else None,
            ac_backend=settings.get("ac_backend", "native"), splits=dict(data["splits"]), raw=data,
        )


def read_manifest(root: str | Path) -> DatasetManifest:
    """The manifest of a built dataset; :class:`ManifestError` (one line) if the folder holds no
    finished build or its manifest cannot be read."""
    path = Path(root) / MANIFEST
    if not path.exists():
        raise ManifestError(f"{root}: no {MANIFEST}; build it first with `spinvae data build --out {root} ...`")
    try:
        return DatasetManifest.from_dict(root, json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ManifestError(f"{path}: not a readable JSON manifest ({err}); rebuild the dataset") from None
    except (KeyError, TypeError, ValueError) as err:
        raise ManifestError(f"{path}: not a spinvae manifest (missing or bad {err}); rebuild the dataset") from None


@dataclass(frozen=True)
class DataInfo:
    """What a model must know of its dataset (saved in its checkpoints as :meth:`to_dict`).

    ``spectrogram_shape`` (n_notes, n_mels, n_frames); ``attributes`` the dataset's attribute names,
    ``attribute_low``/``attribute_high`` their training-split ranges; the rest as in
    :class:`DatasetManifest`.
    """

    synth: str
    spectrogram_shape: tuple[int, int, int]
    attributes: tuple[str, ...]
    attribute_low: tuple[float, ...]
    attribute_high: tuple[float, ...]
    attribute_transform: AttributeTransform | None
    db_min: float
    db_max: float
    render: RenderSettings
    mel: MelSettings

    def to_dict(self) -> dict[str, Any]:
        """Plain values, in the checkpoint format every spinvae checkpoint has used."""
        return {
            "synth": self.synth,
            "spectrogram_shape": list(self.spectrogram_shape),
            "attributes": list(self.attributes),
            "attribute_low": list(self.attribute_low),
            "attribute_high": list(self.attribute_high),
            "attribute_transform": None if self.attribute_transform is None else self.attribute_transform.to_dict(),
            "normalization": {"db_min": self.db_min, "db_max": self.db_max},
            "render": json.loads(json.dumps(asdict(self.render))),  # tuples as lists, as JSON would
            "mel": asdict(self.mel),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataInfo:
        transform = data.get("attribute_transform")
        return cls(
            synth=data.get("synth", DEFAULT_SYNTH), spectrogram_shape=tuple(data["spectrogram_shape"]),
            attributes=tuple(data["attributes"]), attribute_low=tuple(data["attribute_low"]),
            attribute_high=tuple(data["attribute_high"]),
            attribute_transform=AttributeTransform.from_dict(transform) if transform else None,
            db_min=float(data["normalization"]["db_min"]), db_max=float(data["normalization"]["db_max"]),
            render=RenderSettings.from_dict(data["render"]), mel=MelSettings(**data["mel"]),
        )
