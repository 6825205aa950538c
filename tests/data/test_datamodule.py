"""Integration tests of PresetDataset and PresetDataModule over a real (small) built dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from spinvae.audio.mel import scale_db, unscale_db
from spinvae.synth.dx7.variations import similar_algorithms
from spinvae.data.build import PRESETS, BuildConfig, build_dataset
from spinvae.data.datamodule import MAX_DELAY, PresetDataModule, PresetDataset
from spinvae.data.manifest import ManifestError, read_manifest
from spinvae.data.spectrograms import render_spectrograms
from spinvae.synth.dx7.schema import DX7_SCHEMA, TRANSPOSE_CENTRE, TRANSPOSE_INDEX
from spinvae.synth.dx7.generator import generate_presets
from spinvae.synth.dx7.sysex import bank_sysex, read_sysex

LEARNABLE = list(DX7_SCHEMA.learnable_names)
ALGORITHM = LEARNABLE.index("algorithm")
N_PROCEDURAL = 160
BATCH = 8


def _quiet(line: str) -> None:
    pass


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A procedural dataset of 160 presets (128/16/16), and the presets it was built from."""
    root = tmp_path_factory.mktemp("datamodule") / "data"
    manifest = build_dataset(root, BuildConfig(procedural=N_PROCEDURAL, seed=0, chunk_size=32), log=_quiet, progress=False)
    generated, _ = generate_presets(N_PROCEDURAL, seed=0)
    table = pd.read_parquet(root / PRESETS).set_index("uid")
    return {"root": root, "manifest": manifest, "table": table, "generated": generated}


def original_presets(dataset, uids) -> np.ndarray:
    """The full presets (n, 155) the build rendered for ``uids``."""
    return dataset["generated"][dataset["table"].loc[list(uids), "bank_index"].to_numpy()]


def scaled(dataset, db: np.ndarray) -> np.ndarray:
    norm = dataset["manifest"]["normalization"]
    return scale_db(db, norm["db_min"], norm["db_max"])


def test_split_lengths_and_uids(dataset):
    splits = dataset["manifest"]["splits"]
    assert splits == {"train": 128, "valid": 16, "test": 16}
    table = dataset["table"]
    for split, n in splits.items():
        ds = PresetDataset(dataset["root"], split)
        assert len(ds) == n
        assert ds.uids == table.index[table["split"] == split].tolist()
    with pytest.raises(ValueError, match="split must be one of"):
        PresetDataset(dataset["root"], "validation")


def test_batch_keys_shapes_and_dtypes(dataset):
    dm = PresetDataModule(str(dataset["root"]), batch_size=BATCH, num_workers=0, augment=False)
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        batch = next(iter(loader))
        assert set(batch) == {"classes", "numbers", "spectrogram", "attributes", "uid", "variation", "delay"}
        assert batch["classes"].shape == (BATCH, 144) and batch["classes"].dtype == torch.int64
        assert batch["numbers"].shape == (BATCH, 144) and batch["numbers"].dtype == torch.float32
        assert batch["spectrogram"].shape == (BATCH, 1, 257, 251) and batch["spectrogram"].dtype == torch.float32
        assert isinstance(batch["uid"], list) and len(batch["uid"]) == BATCH and all(isinstance(u, str) for u in batch["uid"])
        for key in ("variation", "delay"):
            assert batch[key].shape == (BATCH,) and batch[key].dtype == torch.int64
            assert (batch[key] == 0).all()
        categorical = torch.from_numpy(DX7_SCHEMA.is_categorical)
        assert (batch["classes"][:, ~categorical] == -1).all() and (batch["classes"][:, categorical] >= 0).all()
        assert (batch["numbers"][:, categorical] == 0).all()
        assert ((batch["numbers"] >= 0) & (batch["numbers"] <= 1)).all()
    assert len(dm.train_dataloader()) == 128 // BATCH  # drop_last on the shuffled train split
    assert len(dm.val_dataloader()) == 2


def test_tokens_decode_to_the_parquet_values(dataset):
    dm = PresetDataModule(str(dataset["root"]), batch_size=BATCH, num_workers=0, augment=False)
    for loader in (dm.train_dataloader(), dm.val_dataloader()):
        for batch in loader:
            values = DX7_SCHEMA.from_tokens(batch["classes"].numpy(), batch["numbers"].numpy())
            expected = dataset["table"].loc[batch["uid"], LEARNABLE].to_numpy(dtype=np.uint8)
            np.testing.assert_array_equal(values, expected)
            np.testing.assert_array_equal(values, DX7_SCHEMA.learnable(original_presets(dataset, batch["uid"])))


def test_stored_spectrogram_equals_a_fresh_render(dataset):
    ds = PresetDataset(dataset["root"], "valid")
    items = [ds[i] for i in (0, 7, 15)]
    fresh, _ = render_spectrograms(original_presets(dataset, [it["uid"] for it in items]))
    norm = dataset["manifest"]["normalization"]
    for item, db in zip(items, fresh):
        got = item["spectrogram"].numpy()
        # exactly the float16 store of the render, scaled
        np.testing.assert_allclose(got, scaled(dataset, db.astype(np.float16).astype(np.float32)), rtol=0, atol=1e-6)
        # and the render itself within float16 precision (relative 2^-11, plus float32 rounding)
        back = unscale_db(got, norm["db_min"], norm["db_max"])
        assert (np.abs(back - db) <= np.abs(db) * 2.0**-11 + 1e-4).all()


def test_train_spectrograms_lie_in_unit_range(dataset):
    ds = PresetDataset(dataset["root"], "train")
    spectrograms = torch.stack([ds[i]["spectrogram"] for i in range(len(ds))])
    assert spectrograms.min() >= -1.0 and spectrograms.max() <= 1.0
    # the scaling uses the train split's range: both ends are reached (within float16 rounding)
    assert spectrograms.min() == pytest.approx(-1.0, abs=1e-3)
    assert spectrograms.max() == pytest.approx(1.0, abs=1e-3)


def test_train_spectrograms_lie_in_unit_range_when_float16_rounds_up(tmp_path):
    # with these 40 procedural presets the train split's loudest bin rounds up in float16
    build_dataset(tmp_path, BuildConfig(procedural=40, seed=5, chunk_size=32), log=_quiet, progress=False)
    ds = PresetDataset(tmp_path, "train")
    spectrograms = torch.stack([ds[i]["spectrogram"] for i in range(len(ds))])
    assert spectrograms.min() >= -1.0
    assert spectrograms.max() <= 1.0


def test_augmentation_only_affects_the_train_split(dataset):
    torch.manual_seed(0)
    dm = PresetDataModule(str(dataset["root"]), batch_size=BATCH, num_workers=0, augment=True)
    dm.setup()
    assert dm.datasets["train"].augment and not dm.datasets["valid"].augment and not dm.datasets["test"].augment
    for loader in (dm.val_dataloader(), dm.test_dataloader()):
        for batch in loader:
            assert (batch["variation"] == 0).all() and (batch["delay"] == 0).all()
            values = DX7_SCHEMA.from_tokens(batch["classes"].numpy(), batch["numbers"].numpy())
            np.testing.assert_array_equal(values, dataset["table"].loc[batch["uid"], LEARNABLE].to_numpy(dtype=np.uint8))
    train = dm.datasets["train"]
    items = [train[i] for i in range(24)]
    variations = {it["variation"] for it in items}
    delays = [it["delay"] for it in items]
    assert variations <= {0, 1, 2, 3} and len(variations) > 1
    assert all(0 <= d <= MAX_DELAY for d in delays) and any(d > 0 for d in delays) and any(d == 0 for d in delays)
    partners = similar_algorithms()
    for item in items:
        values = DX7_SCHEMA.from_tokens(item["classes"].numpy(), item["numbers"].numpy())
        original = dataset["table"].loc[item["uid"], LEARNABLE].to_numpy(dtype=np.uint8)
        if item["variation"] == 0:
            np.testing.assert_array_equal(values, original)
        elif item["variation"] == 1:  # only the algorithm moves, to a similar one
            changed = np.flatnonzero(values != original)
            assert set(changed) <= {ALGORITHM}
            if partners[int(original[ALGORITHM])]:
                assert values[ALGORITHM] in partners[int(original[ALGORITHM])]
        else:
            assert values[ALGORITHM] == original[ALGORITHM]


def first_delayed_original(ds: PresetDataset, keep=lambda i: True, tries: int = 400):
    """Index and item of the first augmented item with variation 0 and a delay."""
    for k in range(tries):
        i = k % len(ds)
        if not keep(i):
            continue
        item = ds[i]
        if item["variation"] == 0 and item["delay"] > 0:
            return i, item
    pytest.fail(f"no item with variation 0 and a delay in {tries} draws")


def test_delayed_item_is_the_original_render_shifted(dataset):
    torch.manual_seed(1)
    ds = PresetDataset(dataset["root"], "train", augment=True)
    i, item = first_delayed_original(ds)
    d = item["delay"]
    preset = original_presets(dataset, [item["uid"]])
    shifted, _ = render_spectrograms(preset, delays=np.array([d]))
    np.testing.assert_allclose(item["spectrogram"].numpy(), scaled(dataset, shifted[0]), rtol=0, atol=1e-6)
    stored = PresetDataset(dataset["root"], "train")[i]
    assert stored["uid"] == item["uid"]
    assert not torch.allclose(stored["spectrogram"], item["spectrogram"], atol=1e-2)  # the delay shows


def test_two_workers_yield_the_same_valid_batches(dataset):
    def batches(num_workers):
        dm = PresetDataModule(str(dataset["root"]), batch_size=BATCH, num_workers=num_workers, augment=True)
        return list(dm.val_dataloader())

    serial, parallel = batches(0), batches(2)
    assert len(serial) == len(parallel) == 2
    for a, b in zip(serial, parallel):
        assert a["uid"] == b["uid"]
        for key in ("classes", "numbers", "spectrogram", "variation", "delay"):
            assert torch.equal(a[key], b[key]), key


def test_folder_without_manifest_is_a_clear_error(tmp_path):
    (tmp_path / "build_state.json").write_text("{}")  # an unfinished build
    with pytest.raises(ManifestError, match=f"{tmp_path}: no manifest.json"):
        PresetDataModule(str(tmp_path)).setup()
    with pytest.raises(ManifestError, match=str(tmp_path)):
        PresetDataset(tmp_path / "missing", "train")
    with pytest.raises(ManifestError, match=str(tmp_path)):
        PresetDataModule(str(tmp_path)).manifest


@pytest.mark.parametrize("text, reason", [("{not json", "not a readable JSON manifest"),
                                          ('{"format": 1}', "not a spinvae manifest")])
def test_a_broken_manifest_is_one_line_naming_it(tmp_path, text, reason):
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(ManifestError, match=f"{tmp_path / 'manifest.json'}: {reason}") as caught:
        read_manifest(tmp_path)
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------------------------------
# Real voices whose transpose is not C3
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def transposed_dataset(tmp_path_factory, factory_banks):
    """The rom1a voices whose transpose is not C3 (24), built into a dataset."""
    rom1a = read_sysex(next(f for f in factory_banks if f.name == "rom1a.syx")).params
    voices = rom1a[rom1a[:, TRANSPOSE_INDEX] != TRANSPOSE_CENTRE]
    assert len(voices) == 10
    folder = tmp_path_factory.mktemp("transposed")
    bank = folder / "transposed.syx"
    bank.write_bytes(bank_sysex(voices))
    root = folder / "data"
    manifest = build_dataset(root, BuildConfig(presets=(str(bank),), chunk_size=32), log=_quiet, progress=False)
    table = pd.read_parquet(root / PRESETS).set_index("uid")
    return {"root": root, "manifest": manifest, "table": table, "voices": read_sysex(bank).params}


def test_transposed_voices_are_stored_and_augmented_at_c3(transposed_dataset):
    """Stored and on-the-fly renders agree for a voice whose bank transposes it: both at C3."""
    data = transposed_dataset
    voice_of = lambda uid: data["voices"][data["table"].loc[uid, "bank_index"]]  # noqa: E731
    norm = data["manifest"]["normalization"]
    torch.manual_seed(2)
    ds = PresetDataset(data["root"], "train", augment=True)
    i, item = first_delayed_original(ds, keep=lambda i: voice_of(ds.uids[i])[TRANSPOSE_INDEX] != TRANSPOSE_CENTRE)
    voice = voice_of(item["uid"])
    at_c3 = voice.copy()
    at_c3[TRANSPOSE_INDEX] = TRANSPOSE_CENTRE
    fresh, _ = render_spectrograms(np.stack([at_c3, voice]))
    delayed, _ = render_spectrograms(at_c3[None], delays=np.array([item["delay"]]))
    np.testing.assert_allclose(item["spectrogram"].numpy(), scale_db(delayed[0], norm["db_min"], norm["db_max"]), rtol=0, atol=1e-6)
    stored = PresetDataset(data["root"], "train")[i]["spectrogram"].numpy()
    expected = scale_db(fresh[0].astype(np.float16).astype(np.float32), norm["db_min"], norm["db_max"])
    np.testing.assert_allclose(stored, expected, rtol=0, atol=1e-6)
    assert not np.allclose(stored, scale_db(fresh[1], norm["db_min"], norm["db_max"]), atol=1e-2)  # not at bank transpose


def test_attributes_are_the_stored_ones_and_recomputed_for_variations(dataset):
    from spinvae.data.spectrograms import analyse_presets
    from spinvae.features.attributes import AttributeTransform

    transform = AttributeTransform.from_dict(dataset["manifest"]["features"]["attributes"])
    names = [f"attr_{n}" for n in transform.kept]
    assert len(names) > 10
    plain = PresetDataset(dataset["root"], "valid")
    for i in range(len(plain)):
        item = plain[i]
        expected = dataset["table"].loc[item["uid"], names].to_numpy(dtype=np.float32)
        np.testing.assert_array_equal(item["attributes"].numpy(), expected)
    # the stored attributes are the transform of the preset's own render
    uid = plain.uids[0]
    analysis = analyse_presets(original_presets(dataset, [uid]), features=True)
    np.testing.assert_allclose(
        transform.apply(analysis.features[0]).mean(axis=0), plain[0]["attributes"].numpy(), rtol=1e-5, atol=1e-5
    )
    torch.manual_seed(0)
    augmented = PresetDataset(dataset["root"], "train", augment=True)
    seen = {"varied": 0, "delayed_only": 0}
    for i in range(60):
        item = augmented[i]
        stored = dataset["table"].loc[item["uid"], names].to_numpy(dtype=np.float32)
        if item["variation"] == 0:
            np.testing.assert_array_equal(item["attributes"].numpy(), stored)
            seen["delayed_only"] += item["delay"] > 0
        else:
            preset = DX7_SCHEMA.from_learnable(DX7_SCHEMA.from_tokens(item["classes"].numpy(), item["numbers"].numpy()))
            fresh = analyse_presets(preset[None], delays=np.array([item["delay"]]), features=True)
            np.testing.assert_allclose(
                item["attributes"].numpy(), transform.apply(fresh.features[0]).mean(axis=0), rtol=1e-5, atol=1e-5
            )
            seen["varied"] += 1
    assert seen["varied"] > 10 and seen["delayed_only"] > 3


def test_in_memory_items_equal_items_read_from_disk(dataset):
    for split in ("train", "test"):
        disk = PresetDataset(dataset["root"], split)
        memory = PresetDataset(dataset["root"], split, in_memory=True)
        for i in (0, len(disk) // 2, len(disk) - 1):
            assert torch.equal(disk[i]["spectrogram"], memory[i]["spectrogram"])
            assert disk[i]["uid"] == memory[i]["uid"]
