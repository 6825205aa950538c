"""Datasets and the LightningDataModule over a built dataset folder.

A batch is a dict:

- ``classes`` (B, 144) int64: class of each categorical token, -1 on numerical ones;
- ``numbers`` (B, 144) float32: value of each numerical token in [0, 1], 0 on categorical ones;
- ``spectrogram`` (B, n_notes, n_mels, n_frames) float32: dB mel-spectrograms min-max scaled
  with the training split's statistics (train values in [-1, 1]);
- ``attributes`` (B, n_attributes) float32: the timbre attributes of the dataset
  (``manifest["features"]["attributes"]["kept"]``; n_attributes = 0 for a dataset built
  without features);
- ``uid`` list of B str; ``variation`` and ``delay`` (B,) int64: the augmentation applied
  (0 and 0 for the original preset and sound).

With ``augment`` (train split only) each item is, at random, one of the 4 preset variations
of :mod:`spinvae.data.augment` and, with probability 1/2, delayed by 1-32 samples at note-on;
such items are rendered on the fly (Dexed + mel, a few ms), the original is read from the store.
A preset variation changes the sound, so its attributes are computed on the fly too (the 53
features, about 25 ms); a delay alone keeps the original's attributes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
import zarr
from torch.utils.data import DataLoader, Dataset, Sampler

from spinvae.audio.mel import MelSettings, scale_db
from spinvae.data.augment import N_VARIATIONS, vary_preset
from spinvae.data.build import MANIFEST, PRESETS, SPLITS, STORE
from spinvae.data.spectrograms import analyse_presets
from spinvae.features.attributes import AttributeTransform
from spinvae.presets.dx7 import DX7_SCHEMA
from spinvae.synth.base import RenderSettings

MAX_DELAY = 32  # samples


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The manifest of a built dataset; a clear error if the folder holds no finished build."""
    path = Path(root) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{root}: no {MANIFEST}; build it first with `spinvae data build --out {root} ...`")
    return json.loads(path.read_text())


class PresetDataset(Dataset):
    """One split of a built dataset (see the module docstring for the items)."""

    def __init__(self, root: str | Path, split: str, augment: bool = False, in_memory: bool = False):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.root = Path(root)
        self.split = split
        self.augment = augment
        self.manifest = read_manifest(root)
        table = pd.read_parquet(self.root / PRESETS)
        table = table[table["split"] == split].reset_index(drop=True)
        self.uids = table["uid"].tolist()
        self.rows = table["row"].to_numpy()
        self.values = table[list(DX7_SCHEMA.learnable_names)].to_numpy(dtype=np.uint8)
        settings = self.manifest["settings"]
        self.render_settings = RenderSettings(
            settings["render"]["sample_rate"],
            tuple(tuple(nv) for nv in settings["render"]["notes"]),
            settings["render"]["note_duration"],
            settings["render"]["duration"],
        )
        self.mel_settings = MelSettings(**settings["mel"])
        self.db_min = self.manifest["normalization"]["db_min"]
        self.db_max = self.manifest["normalization"]["db_max"]
        features = self.manifest.get("features")
        self.transform = AttributeTransform.from_dict(features["attributes"]) if features else None
        self.attribute_names = self.transform.kept if self.transform else ()
        self.attributes = table[[f"attr_{name}" for name in self.attribute_names]].to_numpy(dtype=np.float32)
        self.ac_backend = settings.get("ac_backend", "native")
        self._db: zarr.Array | None = None  # opened lazily: one handle per DataLoader worker
        self._rng: np.random.Generator | None = None
        self._cache: np.ndarray | None = self._read_split() if in_memory else None

    def _read_split(self) -> np.ndarray:
        """Every stored spectrogram of the split (n, n_notes, n_mels, n_frames) float16, read shard by
        shard: one bulk read instead of a few ms of zarr overhead per item."""
        db = zarr.open_group(self.root / STORE, mode="r")["db"]
        out = np.empty((len(self.rows),) + db.shape[1:], dtype=np.float16)
        step = db.shards[0] if db.shards else db.chunks[0]
        shard_of = self.rows // step
        for shard in np.unique(shard_of):
            members = np.flatnonzero(shard_of == shard)
            block = db[shard * step : (shard + 1) * step]
            out[members] = block[self.rows[members] - shard * step]
        return out

    def __len__(self) -> int:
        return len(self.uids)

    def _spectrogram_from_store(self, i: int) -> np.ndarray:
        if self._cache is not None:
            return self._cache[i].astype(np.float32)
        if self._db is None:
            self._db = zarr.open_group(self.root / STORE, mode="r")["db"]
        return np.asarray(self._db[int(self.rows[i])], dtype=np.float32)

    def __getitem__(self, i: int) -> dict[str, Any]:
        values = self.values[i]
        variation = delay = 0
        if self.augment:
            if self._rng is None:  # torch seeds each worker differently (and reproducibly)
                self._rng = np.random.default_rng(torch.initial_seed())
            variation = int(self._rng.integers(N_VARIATIONS))
            delay = int(self._rng.integers(1, MAX_DELAY + 1)) if self._rng.random() < 0.5 else 0
        attributes = self.attributes[i]
        if variation == 0 and delay == 0:
            db = self._spectrogram_from_store(i)
        else:
            values = vary_preset(values, variation, self._rng)
            recompute = variation != 0 and self.transform is not None
            analysis = analyse_presets(
                DX7_SCHEMA.from_learnable(values)[None], self.render_settings, self.mel_settings,
                delays=np.array([delay]), features=recompute, ac_backend=self.ac_backend,
            )
            db = analysis.db[0]
            if recompute:
                attributes = self.transform.apply(analysis.features[0]).mean(axis=0)
        classes, numbers = DX7_SCHEMA.to_tokens(values)
        return {
            "classes": torch.from_numpy(classes),
            "numbers": torch.from_numpy(numbers),
            "spectrogram": torch.from_numpy(scale_db(db, self.db_min, self.db_max)),
            "attributes": torch.tensor(attributes, dtype=torch.float32),
            "uid": self.uids[i],
            "variation": variation,
            "delay": delay,
        }


class EpochShuffleSampler(Sampler[int]):
    """A fresh permutation each epoch, a function of (seed, epoch) only.

    Lightning calls :meth:`set_epoch` before each epoch, so a run resumed from a checkpoint sees
    the same batches as an uninterrupted one (torch's RandomSampler draws from the global RNG).
    """

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(self.n).tolist())


class PresetDataModule(L.LightningDataModule):
    """Train/valid/test loaders over a dataset built by ``spinvae data build``.

    Args:
        data_dir: the dataset folder.
        batch_size: presets per batch.
        num_workers: DataLoader worker processes (0 loads in the main process).
        augment: preset variations and note-on delays on the train split.
        pin_memory: pin host memory (useful with a GPU).
        in_memory: read each split's stored spectrograms into memory once (float16: 16 kB per
            64 x 126 spectrogram, 129 kB per 257 x 251 one) instead of item by item from disk.
    """

    def __init__(
        self, data_dir: str, batch_size: int = 64, num_workers: int = 0, augment: bool = True, pin_memory: bool = False,
        in_memory: bool = False,
    ):
        super().__init__()
        self.data_dir = data_dir
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.augment = augment
        self.pin_memory = pin_memory
        self.in_memory = in_memory
        self.datasets: dict[str, PresetDataset] = {}

    @property
    def manifest(self) -> dict[str, Any]:
        return read_manifest(self.data_dir)

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            if split not in self.datasets:
                self.datasets[split] = PresetDataset(self.data_dir, split, augment=self.augment and split == "train",
                                                     in_memory=self.in_memory)

    def model_info(self) -> dict[str, Any]:
        """What a model must know of this dataset, as plain values (saved in its checkpoints).

        ``synth``, ``spectrogram_shape`` (n_notes, n_mels, n_frames), ``attributes`` (names),
        ``attribute_low`` / ``attribute_high`` (training-split range of each attribute),
        ``attribute_transform`` (raw features -> attributes), ``normalization`` (dB range of the
        spectrogram scaling), ``render`` and ``mel`` settings.
        """
        self.setup()
        train = self.datasets["train"]
        manifest = train.manifest
        features = manifest.get("features")
        n_frames = train.mel_settings.n_frames(train.render_settings.n_samples)
        attributes = train.attributes
        return {
            "synth": "dx7",
            "spectrogram_shape": [len(train.render_settings.notes), train.mel_settings.n_mels, n_frames],
            "attributes": list(train.attribute_names),
            "attribute_low": attributes.min(axis=0).tolist() if len(attributes) else [],
            "attribute_high": attributes.max(axis=0).tolist() if len(attributes) else [],
            "attribute_transform": features["attributes"] if features else None,
            "normalization": dict(manifest["normalization"]),
            "render": dict(manifest["settings"]["render"]),
            "mel": dict(manifest["settings"]["mel"]),
        }

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        self.setup()
        dataset = self.datasets[split]
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=EpochShuffleSampler(len(dataset), torch.initial_seed()) if shuffle else None,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            drop_last=shuffle and len(dataset) > self.batch_size,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
