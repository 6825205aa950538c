"""Datasets and the LightningDataModule over a built dataset folder.

A batch is a dict:

- ``classes`` (B, L) int64: class of each categorical token, -1 on numerical ones (L learnable
  parameters of the dataset's synth: 144 for the DX7);
- ``numbers`` (B, L) float32: value of each numerical token in [0, 1], 0 on categorical ones;
- ``spectrogram`` (B, n_notes, n_mels, n_frames) float32: dB mel-spectrograms min-max scaled
  with the training split's statistics (train values in [-1, 1]);
- ``attributes`` (B, n_attributes) float32: the timbre attributes of the dataset
  (``manifest["features"]["attributes"]["kept"]``; n_attributes = 0 for a dataset built
  without features);
- ``uid`` list of B str; ``variation`` and ``delay`` (B,) int64: the augmentation applied
  (0 and 0 for the original preset and sound).

With ``augment`` (train split only) each item is, at random, one of the synth's train-time preset
variations (:meth:`spinvae.synth.base.Synth.vary`; the DX7's 4 are :mod:`spinvae.synth.dx7.variations`)
and, with probability 1/2, delayed by 1-32 samples at note-on; such items are rendered on the fly
(the synth + mel, a few ms), the original is read from the store.
A preset variation changes the sound, so its attributes are computed on the fly too (the 53
features, about 25 ms); a delay alone keeps the original's attributes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
import zarr
from torch.utils.data import DataLoader, Dataset, Sampler

from spinvae.audio.mel import scale_db
from spinvae.data.build import PRESETS, SPLITS, STORE
from spinvae.data.manifest import DataInfo, DatasetManifest, read_manifest
from spinvae.data.spectrograms import analyse_presets
from spinvae.synth.registry import get_synth

MAX_DELAY = 32  # samples


class PresetDataset(Dataset):
    """One split of a built dataset (see the module docstring for the items)."""

    def __init__(self, root: str | Path, split: str, augment: bool = False, in_memory: bool = False):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.root = Path(root)
        self.split = split
        self.augment = augment
        self.manifest = read_manifest(root)
        self.synth = get_synth(self.manifest.synth)
        table = pd.read_parquet(self.root / PRESETS)
        table = table[table["split"] == split].reset_index(drop=True)
        self.uids = table["uid"].tolist()
        self.rows = table["row"].to_numpy()
        self.values = table[list(self.synth.schema.learnable_names)].to_numpy(dtype=np.uint8)
        self.render_settings, self.mel_settings = self.manifest.render, self.manifest.mel
        self.db_min, self.db_max = self.manifest.db_min, self.manifest.db_max
        self.transform = self.manifest.attributes
        self.attribute_names = self.transform.kept if self.transform else ()
        self.attributes = table[[f"attr_{name}" for name in self.attribute_names]].to_numpy(dtype=np.float32)
        self.ac_backend = self.manifest.ac_backend
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
            variation = int(self._rng.integers(self.synth.n_variations))
            delay = int(self._rng.integers(1, MAX_DELAY + 1)) if self._rng.random() < 0.5 else 0
        attributes = self.attributes[i]
        if variation == 0 and delay == 0:
            db = self._spectrogram_from_store(i)
        else:
            values = self.synth.vary(values, variation, self._rng)
            recompute = variation != 0 and self.transform is not None
            analysis = analyse_presets(
                self.synth.schema.from_learnable(values)[None], self.render_settings, self.mel_settings,
                delays=np.array([delay]), features=recompute, ac_backend=self.ac_backend, synth=self.synth,
            )
            db = analysis.db[0]
            if recompute:
                attributes = self.transform.apply(analysis.features[0]).mean(axis=0)
        classes, numbers = self.synth.schema.to_tokens(values)
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
    def manifest(self) -> DatasetManifest:
        return read_manifest(self.data_dir)

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            if split not in self.datasets:
                self.datasets[split] = PresetDataset(self.data_dir, split, augment=self.augment and split == "train",
                                                     in_memory=self.in_memory)

    def model_info(self) -> dict[str, Any]:
        """What a model must know of this dataset (:class:`spinvae.data.manifest.DataInfo`), as the
        plain values saved in its checkpoints."""
        self.setup()
        train = self.datasets["train"]
        manifest = train.manifest
        n_frames = manifest.mel.n_frames(manifest.render.n_samples)
        attributes = train.attributes
        return DataInfo(
            synth=manifest.synth,
            spectrogram_shape=(len(manifest.render.notes), manifest.mel.n_mels, n_frames),
            attributes=tuple(train.attribute_names),
            attribute_low=tuple(attributes.min(axis=0).tolist()) if len(attributes) else (),
            attribute_high=tuple(attributes.max(axis=0).tolist()) if len(attributes) else (),
            attribute_transform=manifest.attributes, db_min=manifest.db_min, db_max=manifest.db_max,
            render=manifest.render, mel=manifest.mel,
        ).to_dict()

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
