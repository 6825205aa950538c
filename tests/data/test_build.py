"""Integration tests of the dataset build (spinvae.data.build): real banks, the real Dexed
engine, real zarr stores, and a real ``spinvae data build`` subprocess killed and resumed.

Builds are kept small (a few hundred presets at most) and shared by module-scoped fixtures.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr

from spinvae.data.build import (
    split_fingerprints,
    MANIFEST,
    PRESETS,
    SPLIT_FRACTIONS,
    SPLITS,
    STATE,
    STORE,
    BuildConfig,
    BuildError,
    build_dataset,
    collect_presets,
    deduplicate,
    preset_uids,
    split_indices,
)
from spinvae.data.spectrograms import render_spectrograms
from spinvae.synth.dx7.schema import DX7_SCHEMA, TRANSPOSE_CENTRE, TRANSPOSE_INDEX, operator_offset, voice_name
from spinvae.synth.dx7.generator import generate_presets
from spinvae.synth.dx7.sysex import SysexError, bank_sysex, read_sysex
from spinvae.synth.base import RenderSettings

LEARNABLE = list(DX7_SCHEMA.learnable_names)
N_MELS, N_FRAMES = 257, 251
FACTORY = ("rom1a.syx", "rom1b.syx", "rom2a.syx", "rom2b.syx")
SILENT_VOICE = 0  # rom1a BRASS 1 with every output level at 0: digital silence
NEAR_SILENT_VOICE, NEAR_SILENT_LEVEL = 7, 25  # rom1a PIANO 1 with every output level at 25: about -65 dBFS


def _quiet(log=None) -> None:  # a build's log lines are not under test here
    pass


def with_output_levels(voice: np.ndarray, level: int) -> np.ndarray:
    out = voice.copy()
    for operator in range(1, 7):
        out[operator_offset(operator) + 16] = level
    return out


def at_c3(params: np.ndarray) -> np.ndarray:
    """Presets (..., 155) with transpose at C3: what a build renders (the model has no transpose)."""
    out = np.array(params, dtype=np.uint8, copy=True)
    out[..., TRANSPOSE_INDEX] = TRANSPOSE_CENTRE
    return out


def open_store(root: Path) -> zarr.Group:
    return zarr.open_group(root / STORE, mode="r")


def read_manifest(root: Path) -> dict:
    return json.loads((root / MANIFEST).read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``folder``: (mtime_ns, size, sha256)."""
    return {
        str(f.relative_to(folder)): (f.stat().st_mtime_ns, f.stat().st_size, sha256(f))
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


def chunk_files(root: Path) -> dict[int, list[Path]]:
    """The store files of each build chunk: ``<array>/c/<chunk>/...`` for every array."""
    out: dict[int, list[Path]] = {}
    for f in (root / STORE).rglob("*"):
        parts = f.relative_to(root / STORE).parts
        if f.is_file() and len(parts) >= 3 and parts[1] == "c":
            out.setdefault(int(parts[2]), []).append(f)
    return out


def manifest_without_timings(manifest: dict) -> dict:
    return {k: v for k, v in manifest.items() if k != "timings"}


# ---------------------------------------------------------------------------------------------
# Build from real banks, with broken, duplicated and silent files beside them
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quiet_voices(factory_banks) -> dict[str, np.ndarray]:
    rom1a = read_sysex(next(f for f in factory_banks if f.name == "rom1a.syx")).params
    return {
        "silent": with_output_levels(rom1a[SILENT_VOICE], 0),
        "near": with_output_levels(rom1a[NEAR_SILENT_VOICE], NEAR_SILENT_LEVEL),
        "loud": rom1a[[5, 10]],  # STRINGS 3, E.PIANO 1
    }


@pytest.fixture(scope="module")
def bank_build(tmp_path_factory, factory_banks, quiet_voices):
    """4 factory banks, a copy of one, a bank with a silent and a near-silent voice, 4 broken
    files (one in a subfolder with an upper-case suffix) and a non-.syx file, built once."""
    banks = tmp_path_factory.mktemp("banks")
    by_name = {f.name: f for f in factory_banks}
    for name in FACTORY:
        shutil.copy(by_name[name], banks / name)
    shutil.copy(by_name["rom1a.syx"], banks / "rom1a_copy.syx")  # sorts after rom1a.syx
    (banks / "quiet.syx").write_bytes(bank_sysex(np.stack([quiet_voices["silent"], quiet_voices["near"]])))
    broken = banks / "broken"
    broken.mkdir()
    (broken / "empty.syx").write_bytes(b"")
    (broken / "garbage.syx").write_bytes(bytes([0x12]) + np.random.default_rng(0).integers(0, 256, 999, dtype=np.uint8).tobytes())
    (broken / "truncated.SYX").write_bytes(by_name["rom2a.syx"].read_bytes()[:3000])
    (broken / "not_dx7.syx").write_bytes(bytes([0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7]))  # identity request
    (banks / "readme.txt").write_text("not a bank")

    out = tmp_path_factory.mktemp("bank_build") / "data"
    config = BuildConfig(presets=(str(banks),), seed=0, chunk_size=32, workers=2)
    logged: list[str] = []
    manifest = build_dataset(out, config, log=logged.append, progress=False)
    return {"banks": banks, "out": out, "config": config, "manifest": manifest, "log": logged}


def test_bank_build_finishes_and_writes_every_file(bank_build):
    out = bank_build["out"]
    for name in (MANIFEST, PRESETS, STORE, STATE):
        assert (out / name).exists(), name
    assert read_manifest(out) == json.loads(json.dumps(bank_build["manifest"]))
    state = json.loads((out / STATE).read_text())
    n_chunks = -(-bank_build["manifest"]["n_unique"] // 32)
    assert state["done"] == list(range(n_chunks))
    assert state["fingerprint"] == bank_build["manifest"]["fingerprint"]


def test_broken_files_are_excluded_with_their_reason(bank_build):
    banks, manifest = bank_build["banks"], bank_build["manifest"]
    broken = sorted((banks / "broken").iterdir())
    assert len(broken) == 4
    expected_start = {
        "empty.syx": "empty file",
        "garbage.syx": "not DX7 sysex: 1000 bytes starting with 0x12",
        "truncated.SYX": "truncated 32-voice dump at byte 0: 3000 of 4104 bytes",
        "not_dx7.syx": "no DX7 voice dump among 1 sysex message(s) (manufacturer 0x7E)",
    }
    excluded = {e["source"]: e for e in manifest["excluded"]}
    sources = {s["path"]: s for s in manifest["sources"]}
    for path in broken:
        with pytest.raises(SysexError) as err:
            read_sysex(path)
        reason = err.value.reason
        assert reason.startswith(expected_start[path.name])
        assert excluded[str(path)] == {"source": str(path), "reason": reason}
        assert sources[str(path)] == {"path": str(path), "sha256": sha256(path), "n_voices": 0, "error": reason}
        assert any(line.startswith("skipped ") and str(path) in line for line in bank_build["log"])
    # the readable files, and only them, have no error; the .txt file is not a source
    readable = sorted(p for p in banks.glob("*.syx"))
    assert sorted(sources) == sorted(str(p) for p in readable + broken)
    for path in readable:
        entry = sources[str(path)]
        assert "error" not in entry
        assert entry["n_voices"] == 32 and entry["sha256"] == sha256(path)


def test_duplicated_bank_counts_as_duplicates_only(bank_build):
    banks, manifest, out = bank_build["banks"], bank_build["manifest"], bank_build["out"]
    readable = sorted(banks.glob("*.syx"))  # the order of sources: sorted by path
    voices = {p.name: read_sysex(p).params for p in readable}
    everything = np.concatenate([voices[p.name] for p in readable])
    without_copy = np.concatenate([voices[p.name] for p in readable if p.name != "rom1a_copy.syx"])
    n_unique = len(np.unique(DX7_SCHEMA.learnable(everything), axis=0))
    n_unique_without_copy = len(np.unique(DX7_SCHEMA.learnable(without_copy), axis=0))

    assert manifest["n_voices_read"] == len(everything) == 6 * 32
    assert manifest["n_unique"] == n_unique == n_unique_without_copy
    assert manifest["n_duplicates"] == len(without_copy) - n_unique_without_copy + 32
    assert manifest["n_voices_read"] == manifest["n_unique"] + manifest["n_duplicates"]
    # the first occurrence is kept: nothing comes from the copy
    table = pd.read_parquet(out / PRESETS)
    copy = str(banks / "rom1a_copy.syx")
    assert copy not in set(table["source"])
    assert copy not in {e["source"] for e in manifest["excluded"]}
    assert (table["source"] == str(banks / "rom1a.syx")).sum() == 32


def test_silent_and_near_silent_voices_are_excluded(bank_build, quiet_voices):
    manifest, banks = bank_build["manifest"], bank_build["banks"]
    _, rms = render_spectrograms(at_c3(np.stack([quiet_voices["silent"], quiet_voices["near"]])))
    assert rms[0, 0] == -np.inf  # digital silence
    assert -80 < rms[1, 0] < -60  # measured: below the default -60 dBFS threshold
    quiet_bank = str(banks / "quiet.syx")
    by_index = {e["bank_index"]: e for e in manifest["excluded"] if e["source"] == quiet_bank}
    assert set(by_index) == {0, 1}
    silent, near = by_index[0], by_index[1]
    assert silent["reason"] == "silent"
    assert silent["uid"] == preset_uids(quiet_voices["silent"][None], DX7_SCHEMA)[0]
    assert silent["name"] == voice_name(quiet_voices["silent"])
    assert (silent["note"], silent["velocity"]) == (56, 75)
    assert near["reason"] == f"near-silent: {rms[1, 0]:.1f} dBFS RMS below -60"
    assert near["uid"] == preset_uids(quiet_voices["near"][None], DX7_SCHEMA)[0]
    # no other voice of the build is quiet: excluded counts add up
    reasons = manifest["excluded_by_reason"]
    assert reasons["silent"] == 1 and reasons["near-silent"] == 1
    assert sum(reasons.values()) == len(manifest["excluded"]) == 4 + 2
    assert manifest["n_presets"] == manifest["n_unique"] - 2
    table = pd.read_parquet(bank_build["out"] / PRESETS)
    assert silent["uid"] not in set(table["uid"]) and near["uid"] not in set(table["uid"])


def test_kept_and_excluded_levels_agree_with_the_store(bank_build):
    out, manifest = bank_build["out"], bank_build["manifest"]
    rms = open_store(out)["rms_db"][:]
    table = pd.read_parquet(out / PRESETS)
    kept = np.zeros(manifest["n_unique"], dtype=bool)
    kept[table["row"].to_numpy()] = True
    assert (rms[kept] >= -60).all()
    quiet = ~(rms[:, 0] >= -60)  # -inf compares False
    assert (quiet == ~kept).all()
    np.testing.assert_array_equal(table["rms_db"].to_numpy(), rms[table["row"].to_numpy(), 0])


def test_splits_are_80_10_10_and_disjoint(bank_build):
    manifest = bank_build["manifest"]
    table = pd.read_parquet(bank_build["out"] / PRESETS)
    n = manifest["n_presets"]
    assert len(table) == n == sum(manifest["splits"].values())
    counts = table["split"].value_counts().to_dict()
    assert counts == manifest["splits"]
    assert manifest["splits"]["train"] == round(0.8 * n)
    assert manifest["splits"]["valid"] == round(0.1 * n)
    assert abs(manifest["splits"]["test"] - 0.1 * n) <= 1
    assert table["uid"].is_unique
    uids = {split: set(table.loc[table["split"] == split, "uid"]) for split in SPLITS}
    assert not (uids["train"] & uids["valid"]) and not (uids["train"] & uids["test"]) and not (uids["valid"] & uids["test"])
    assert table["row"].is_unique


def test_parquet_values_equal_the_syx_voices(bank_build):
    table = pd.read_parquet(bank_build["out"] / PRESETS)
    for column in ("uid", "split", "name", "source", "bank_index", "row"):
        assert column in table.columns
    first = list(table.columns).index(LEARNABLE[0])
    assert list(table.columns[first : first + 144]) == LEARNABLE
    attributes = list(table.columns[first + 144 :])  # then one column per kept attribute
    assert attributes and all(c.startswith("attr_") for c in attributes)
    assert len(LEARNABLE) == 144
    for source, group in table.groupby("source"):
        params = read_sysex(source).params[group["bank_index"].to_numpy()]
        np.testing.assert_array_equal(group[LEARNABLE].to_numpy(), DX7_SCHEMA.learnable(params))
        assert group["uid"].tolist() == preset_uids(params, DX7_SCHEMA)
        assert group["name"].tolist() == [voice_name(p).rstrip() for p in params]


def test_store_shape_rows_and_normalization(bank_build):
    out, manifest = bank_build["out"], bank_build["manifest"]
    store = open_store(out)
    db = store["db"]
    n_unique = manifest["n_unique"]
    assert db.shape == (n_unique, 1, N_MELS, N_FRAMES)
    assert db.dtype == np.float16
    assert manifest["store"]["shape"] == [n_unique, 1, N_MELS, N_FRAMES]
    assert manifest["store"]["bytes_on_disk"] > 0
    table = pd.read_parquet(out / PRESETS)
    # one preset of each split: its row in the store holds its render at C3, cast to float16
    picks = table.groupby("split").head(1)
    params = np.stack([read_sysex(s).params[i] for s, i in zip(picks["source"], picks["bank_index"])])
    fresh, _ = render_spectrograms(at_c3(params))
    everything = db[:]
    np.testing.assert_array_equal(everything[picks["row"].to_numpy()], fresh.astype(np.float16))
    # the normalisation is the dB range of the training split
    train = np.sort(table.loc[table["split"] == "train", "row"].to_numpy())
    norm = manifest["normalization"]
    assert norm["db_min"] == float(store["db_min"][:][train].min())
    assert norm["db_max"] == float(store["db_max"][:][train].max())
    stored = everything[train].astype(np.float32)
    assert stored.min() == pytest.approx(norm["db_min"], abs=abs(norm["db_min"]) * 2**-11)
    assert stored.max() == pytest.approx(norm["db_max"], abs=abs(norm["db_max"]) * 2**-11)


def test_voices_are_rendered_with_transpose_at_c3(bank_build):
    """The model sees no transpose: a voice transposed by its bank is stored as played at C3."""
    out = bank_build["out"]
    table = pd.read_parquet(out / PRESETS)
    params = {s: read_sysex(s).params for s in table["source"].unique()}
    transpose = np.array([params[s][i, TRANSPOSE_INDEX] for s, i in zip(table["source"], table["bank_index"])])
    picks = table[transpose != TRANSPOSE_CENTRE].head(2)
    assert len(picks) == 2
    voices = np.stack([params[s][i] for s, i in zip(picks["source"], picks["bank_index"])])
    at_bank_transpose, _ = render_spectrograms(voices)
    played_at_c3, _ = render_spectrograms(at_c3(voices))
    stored = open_store(out)["db"][:][picks["row"].to_numpy()]
    np.testing.assert_array_equal(stored, played_at_c3.astype(np.float16))
    assert not np.allclose(stored.astype(np.float32), at_bank_transpose, atol=1.0)


# ---------------------------------------------------------------------------------------------
# Silence thresholds
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quiet_bank(tmp_path_factory, quiet_voices) -> Path:
    path = tmp_path_factory.mktemp("quiet") / "quiet.syx"
    path.write_bytes(bank_sysex(np.concatenate([quiet_voices["silent"][None], quiet_voices["near"][None], quiet_voices["loud"]])))
    return path


def test_silence_db_changes_what_is_excluded(tmp_path, quiet_bank):
    def build(name, silence_db):
        config = BuildConfig(presets=(str(quiet_bank),), silence_db=silence_db, chunk_size=32, workers=2)
        return build_dataset(tmp_path / name, config, log=_quiet, progress=False)

    default = build("default", -60.0)
    rms = open_store(tmp_path / "default")["rms_db"][:, 0]
    assert default["n_unique"] == 5  # silent, near-silent, 2 loud voices, INIT VOICE (padding)
    assert sorted(e["bank_index"] for e in default["excluded"]) == [0, 1]
    near_level = float(rms[1])

    lenient = build("lenient", near_level - 1.0)  # the near-silent voice is now loud enough
    assert [(e["bank_index"], e["reason"]) for e in lenient["excluded"]] == [(0, "silent")]
    assert lenient["n_presets"] == 4
    assert lenient["fingerprint"] == default["fingerprint"]  # same renders: only the final step differs

    audible = np.sort(rms[2:])
    strict_db = float(audible[0] + audible[1]) / 2  # above the quietest audible voice only
    assert audible[0] < strict_db < audible[1]
    strict = build("strict", strict_db)
    expected = {i for i in range(5) if not rms[i] >= strict_db}
    assert len(expected) == 3
    table = pd.read_parquet(tmp_path / "strict" / PRESETS)
    assert strict["n_presets"] == 2 == len(table)
    assert set(table["row"]) == set(range(5)) - expected
    assert (table["rms_db"] >= strict_db).all()
    assert strict["excluded_by_reason"] == {"silent": 1, "near-silent": 2}


# ---------------------------------------------------------------------------------------------
# Procedural builds: no .syx needed, deterministic, seeded splits
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def procedural_pair(tmp_path_factory):
    """The same procedural build twice, in two folders, with 2 and with 1 rendering threads."""
    root = tmp_path_factory.mktemp("procedural")
    manifests = []
    for name, workers in (("a", 2), ("b", 1)):
        config = BuildConfig(procedural=64, seed=0, chunk_size=32, workers=workers)
        manifests.append(build_dataset(root / name, config, log=_quiet, progress=False))
    return root / "a", root / "b", manifests


def test_procedural_build_with_another_seed(procedural_pair, tmp_path):
    a, _, (ma, _) = procedural_pair
    mc = build_dataset(tmp_path, BuildConfig(procedural=64, seed=1, chunk_size=32), log=_quiet, progress=False)
    assert mc["sources"] == [{"path": "procedural(seed=1)", "sha256": None, "n_voices": 64}]
    assert mc["fingerprint"] != ma["fingerprint"]
    ta, tc = pd.read_parquet(a / PRESETS), pd.read_parquet(tmp_path / PRESETS)
    assert not set(ta["uid"]) & set(tc["uid"])  # other presets
    for table, manifest, seed in ((ta, ma, 0), (tc, mc, 1)):  # each split by its own seed
        n = manifest["n_presets"]
        assert n == manifest["n_unique"] == 64  # no duplicate, nothing quiet
        for split, rows in split_indices(n, seed).items():
            assert table.loc[table["split"] == split, "row"].tolist() == rows.tolist()
    assert ta.loc[ta["split"] == "train", "row"].tolist() != tc.loc[tc["split"] == "train", "row"].tolist()


def test_procedural_build_needs_no_syx(procedural_pair):
    a, _, (manifest, _) = procedural_pair
    assert manifest["sources"] == [{"path": "procedural(seed=0)", "sha256": None, "n_voices": 64}]
    generated, families = generate_presets(64, seed=0)
    table = pd.read_parquet(a / PRESETS)
    assert manifest["n_voices_read"] == 64
    assert manifest["n_unique"] + manifest["n_duplicates"] == 64
    i = table["bank_index"].to_numpy()
    np.testing.assert_array_equal(table[LEARNABLE].to_numpy(), DX7_SCHEMA.learnable(generated[i]))
    assert table["source"].tolist() == [f"procedural:{families[k]}" for k in i]
    assert open_store(a)["db"].shape == (manifest["n_unique"], 1, N_MELS, N_FRAMES)


def test_procedural_build_is_deterministic(procedural_pair):
    a, b, (ma, mb) = procedural_pair
    assert (a / PRESETS).read_bytes() == (b / PRESETS).read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(a / PRESETS), pd.read_parquet(b / PRESETS))
    for name in ("db", "rms_db", "db_min", "db_max"):
        np.testing.assert_array_equal(open_store(a)[name][:], open_store(b)[name][:])
    assert manifest_without_timings(ma) == manifest_without_timings(mb)


def test_split_fingerprints_equal_for_a_build_without_features_and_differ_by_seed(procedural_pair, tmp_path):
    a, b, _ = procedural_pair
    lean = build_dataset(tmp_path / "lean", BuildConfig(procedural=64, seed=0, chunk_size=32, features=False),
                         log=_quiet, progress=False)
    assert split_fingerprints(a) == split_fingerprints(b) == split_fingerprints(tmp_path / "lean")
    other = build_dataset(tmp_path / "seed1", BuildConfig(procedural=64, seed=1, chunk_size=32, features=False),
                          log=_quiet, progress=False)
    assert other["n_presets"] == 64
    assert split_fingerprints(tmp_path / "seed1")["test"] != split_fingerprints(a)["test"]
    fingerprints = split_fingerprints(a)
    assert len(set(fingerprints.values())) == 3 and all(len(v) == 64 for v in fingerprints.values())


def test_a_different_seed_gives_a_different_split(tmp_path, factory_banks):
    bank = next(f for f in factory_banks if f.name == "rom1a.syx")
    tables, dbs = {}, {}
    for seed in (0, 1):
        config = BuildConfig(presets=(str(bank),), seed=seed, chunk_size=32, workers=2)
        manifest = build_dataset(tmp_path / str(seed), config, log=_quiet, progress=False)
        assert manifest["n_presets"] == 32 and manifest["splits"] == {"train": 26, "valid": 3, "test": 3}
        tables[seed] = pd.read_parquet(tmp_path / str(seed) / PRESETS)
        dbs[seed] = open_store(tmp_path / str(seed))["db"][:]
        # each split holds the rows of split_indices, in its permuted order
        for split, rows in split_indices(32, seed).items():
            assert tables[seed].loc[tables[seed]["split"] == split, "row"].tolist() == rows.tolist()
    np.testing.assert_array_equal(dbs[0], dbs[1])  # same presets, same renders
    assert set(tables[0]["uid"]) == set(tables[1]["uid"])
    split_of = {seed: dict(zip(tables[seed]["uid"], tables[seed]["split"])) for seed in (0, 1)}
    assert split_of[0] != split_of[1]
    assert set(tables[0].loc[tables[0]["split"] == "test", "uid"]) != set(tables[1].loc[tables[1]["split"] == "test", "uid"])


@pytest.mark.parametrize("n", [0, 1, 7, 10, 131, 1000])
def test_split_indices_partition(n):
    splits = split_indices(n, seed=3)
    assert sorted(np.concatenate(list(splits.values())).tolist()) == list(range(n))
    assert len(splits["train"]) == round(SPLIT_FRACTIONS[0] * n)
    assert len(splits["valid"]) == round(SPLIT_FRACTIONS[1] * n)
    again = split_indices(n, seed=3)
    assert all(np.array_equal(splits[s], again[s]) for s in SPLITS)


def test_deduplicate_keeps_first_occurrences_and_ignores_names():
    generated, _ = generate_presets(5, seed=0)
    renamed = generated[2].copy()
    renamed[145:155] = np.frombuffer(b"OTHER NAME", dtype=np.uint8)
    params = np.stack([generated[0], generated[1], generated[0], generated[2], renamed, generated[1], generated[3]])
    np.testing.assert_array_equal(deduplicate(params, DX7_SCHEMA), [0, 1, 3, 6])
    uids = preset_uids(params, DX7_SCHEMA)
    assert uids[0] == uids[2] and uids[3] == uids[4] and len(set(uids)) == 4
    assert all(len(u) == 16 and int(u, 16) >= 0 for u in uids)


def test_build_without_presets_is_refused(tmp_path):
    with pytest.raises(BuildError, match="no presets"):
        build_dataset(tmp_path / "out", BuildConfig(), log=_quiet, progress=False)
    only_broken = tmp_path / "broken"
    only_broken.mkdir()
    (only_broken / "empty.syx").write_bytes(b"")
    with pytest.raises(BuildError, match="no presets"):
        collect_presets(BuildConfig(presets=(str(only_broken),)), log=_quiet)
    missing = tmp_path / "missing.syx"
    with pytest.raises(BuildError, match="missing.syx: no such file or folder"):
        build_dataset(tmp_path / "out2", BuildConfig(presets=(str(missing),)), log=_quiet, progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()


def test_multiple_notes(tmp_path):
    notes = ((56, 75), (48, 100))
    config = BuildConfig(procedural=16, seed=5, render=RenderSettings(notes=notes), chunk_size=8, workers=2)
    manifest = build_dataset(tmp_path, config, log=_quiet, progress=False)
    store = open_store(tmp_path)
    n = manifest["n_unique"]
    assert store["db"].shape == (n, 2, N_MELS, N_FRAMES) and store["rms_db"].shape == (n, 2)
    assert manifest["store"]["shape"] == [n, 2, N_MELS, N_FRAMES]
    assert read_manifest(tmp_path)["settings"]["render"]["notes"] == [[56, 75], [48, 100]]
    generated, _ = generate_presets(16, seed=5)
    unique = generated[deduplicate(generated, DX7_SCHEMA)]
    for j, pair in enumerate(notes):  # each note's slice is that note rendered alone
        fresh, rms = render_spectrograms(unique, RenderSettings(notes=(pair,)), workers=2)
        np.testing.assert_array_equal(store["db"][:, j], fresh[:, 0].astype(np.float16))
        np.testing.assert_array_equal(store["rms_db"][:, j], rms[:, 0])
    assert not np.array_equal(store["db"][:, 0], store["db"][:, 1])


# ---------------------------------------------------------------------------------------------
# Resume after a kill, through the real command line
# ---------------------------------------------------------------------------------------------
N_RESUME, RESUME_CHUNK = 400, 32
N_RESUME_CHUNKS = -(-N_RESUME // RESUME_CHUNK)  # 13


def build_command(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "spinvae.cli.main", "data", "build", "--out", str(out),
        "--procedural", str(N_RESUME), "--chunk-size", str(RESUME_CHUNK), "--progress", "false", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """A build killed (SIGKILL) after at least 3 chunks, then run again to completion."""
    out = tmp_path_factory.mktemp("resume") / "data"
    proc = subprocess.Popen(build_command(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                stdout, stderr = proc.communicate()
                pytest.fail(f"the build ended (rc {proc.returncode}) before it could be killed:\n{stdout}\n{stderr}")
            if (out / STATE).exists() and len(json.loads((out / STATE).read_text())["done"]) >= 3:
                break
            if time.monotonic() > deadline:
                pytest.fail("no 3 chunks built in 180 s")
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    manifest_after_kill = (out / MANIFEST).exists()
    done = json.loads((out / STATE).read_text())["done"]
    files = chunk_files(out)
    before = {str(f): (f.stat().st_mtime_ns, sha256(f)) for k in done for f in files[k]}

    time.sleep(0.05)  # a rewrite would show in mtime_ns
    rerun = subprocess.run(build_command(out), capture_output=True, text=True, timeout=300)
    return {"out": out, "done": done, "manifest_after_kill": manifest_after_kill, "before": before, "rerun": rerun}


def test_killed_build_left_no_manifest_and_some_chunks(resumed):
    done = resumed["done"]
    assert not resumed["manifest_after_kill"]
    assert 3 <= len(done) < N_RESUME_CHUNKS
    assert done == sorted(done)
    for k in done:  # every done chunk: spectrogram shard, 3 statistics chunks, features and their reasons
        assert len([p for p in resumed["before"] if f"/c/{k}/" in p]) == 6


def test_resumed_build_skips_done_chunks(resumed):
    rerun, out = resumed["rerun"], resumed["out"]
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming, {len(resumed['done'])} of {N_RESUME_CHUNKS} chunks already built" in rerun.stdout
    assert (out / MANIFEST).exists()
    after = {p: (Path(p).stat().st_mtime_ns, sha256(Path(p))) for p in resumed["before"]}
    assert after == resumed["before"]  # neither rewritten nor changed
    assert json.loads((out / STATE).read_text())["done"] == list(range(N_RESUME_CHUNKS))


def test_resumed_build_equals_an_uninterrupted_one(resumed, tmp_path, capsys):
    from spinvae.cli.main import main

    reference = tmp_path / "reference"
    assert main(build_command(reference)[3:]) == 0
    assert f"dataset {reference}" in capsys.readouterr().out
    out = resumed["out"]
    pd.testing.assert_frame_equal(pd.read_parquet(out / PRESETS), pd.read_parquet(reference / PRESETS))
    assert (out / PRESETS).read_bytes() == (reference / PRESETS).read_bytes()
    for name in ("db", "rms_db", "db_min", "db_max"):
        np.testing.assert_array_equal(open_store(out)[name][:], open_store(reference)[name][:])
    assert manifest_without_timings(read_manifest(out)) == manifest_without_timings(read_manifest(reference))


def test_finished_build_has_nothing_to_do(resumed):
    out = resumed["out"]
    before = snapshot(out)
    again = subprocess.run(build_command(out), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{out}: already built, nothing to do" in again.stdout
    assert snapshot(out) == before


@pytest.mark.parametrize("extra", [("--seed", "1"), ("--notes", "56:75", "48:100")], ids=["seed", "notes"])
def test_another_build_in_the_same_folder_is_refused(resumed, extra):
    out = resumed["out"]
    before = snapshot(out)
    refused = subprocess.run(build_command(out, *extra), capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert lines == [
        f"spinvae: error: {out} holds another build (other presets or render settings); choose another --out or delete that folder"
    ]
    assert snapshot(out) == before


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 1},
        {"render": RenderSettings(notes=((56, 75), (48, 100)))},
        {"chunk_size": 64},
        {"features": False},
    ],
    ids=["seed", "notes", "chunk_size", "features"],
)
def test_build_dataset_refuses_another_build(resumed, change):
    out = resumed["out"]
    before = snapshot(out)
    config = BuildConfig(**{"procedural": N_RESUME, "chunk_size": RESUME_CHUNK, **change})
    with pytest.raises(BuildError, match="holds another build"):
        build_dataset(out, config, log=_quiet, progress=False)
    assert snapshot(out) == before


def test_a_new_silence_threshold_redoes_only_the_final_step(resumed, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(resumed["out"], out)
    store_before = {p: v for p, v in snapshot(out).items() if STORE in p}
    config = BuildConfig(procedural=N_RESUME, chunk_size=RESUME_CHUNK, silence_db=-15.0)
    logged: list[str] = []
    manifest = build_dataset(out, config, log=logged.append, progress=False)
    assert any("redoing the final step" in line for line in logged)
    assert {p: v for p, v in snapshot(out).items() if STORE in p} == store_before  # nothing re-rendered
    assert manifest["settings"]["silence_db"] == -15.0
    assert manifest["n_presets"] < read_manifest(resumed["out"])["n_presets"]  # louder threshold, more excluded
    assert all(e["reason"].startswith(("silent", "near-silent")) for e in manifest["excluded"])
