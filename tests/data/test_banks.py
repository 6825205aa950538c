"""The CC0 DX7 banks that ship in datasets/banks/dexed_cart: every file is the one its manifest names."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from spinvae.synth.registry import get_synth

BANKS = Path(__file__).resolve().parents[2] / "datasets" / "banks" / "dexed_cart"


def _manifest() -> dict[str, str]:
    lines = (BANKS / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines)}


def test_every_bank_file_matches_its_sha256_and_none_is_unlisted():
    manifest = _manifest()
    on_disk = sorted(p.relative_to(BANKS).as_posix() for p in BANKS.rglob("*.syx"))
    assert on_disk == sorted(manifest)
    assert len(on_disk) == 1873
    for name, digest in manifest.items():
        assert hashlib.sha256((BANKS / name).read_bytes()).hexdigest() == digest, name


def test_banks_carry_their_licence_and_provenance():
    licence = (BANKS / "LICENSE").read_text()
    assert "CC0 1.0 Universal" in licence
    sources = (BANKS / "SOURCES.md").read_text()
    assert "6b17188f645b0a23950a8bbaba3c9b04bda817dc" in sources and "visualizersdotnl/Yamaha-DX7-patch-library" in sources


@pytest.mark.parametrize("name", ["Ajay/dx7ii-bank-A.syx", "Aminet/001.syx"])
def test_a_bank_reads_as_32_dx7_voices(name):
    bank = get_synth("dx7").read_bank(BANKS / name)
    assert bank.params.shape == (32, get_synth("dx7").schema.n_params)
