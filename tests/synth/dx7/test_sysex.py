"""DX7 sysex reading and writing: every real bank, agreement with dexed-py's own loader, malformed
and recoverable files, and export."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from dexed import Patch

from spinvae.synth.dx7.schema import DX7_SCHEMA, TRANSPOSE_INDEX, init_voice
from spinvae.synth.dx7.sysex import (
    SysexError,
    bank_sysex,
    pack_voices,
    parse_sysex,
    read_preset,
    read_sysex,
    single_voice_sysex,
    unpack_voices,
    write_banks,
)

UNRELATED = bytes([0xF0, 0x7E, 0x00, 0x06, 0x01, 0xF7])  # a universal device-inquiry message


def dx7_checksum(payload: bytes) -> int:
    """The DX7 bulk-dump checksum, from the DX7 manual: two's complement of the sum, low 7 bits."""
    return (128 - sum(payload) % 128) % 128


def file_payload(data: bytes) -> bytes:
    """The 4096 packed bytes of a real bank file (framed 4104-byte dump or headerless payload)."""
    if len(data) == 4104:
        assert data[0] == 0xF0 and data[-1] == 0xF7
        return data[6:4102]
    assert len(data) == 4096 and data[0] != 0xF0
    return data


def out_of_spec_bytes(packed: np.ndarray) -> np.ndarray:
    """Independent count, per packed voice (n, 128), of bytes outside the DX7 packed-format spec."""
    limit = np.full(128, 127)
    for op in range(6):
        b = op * 17
        limit[b : b + 11] = 99  # EG, breakpoint, depths
        limit[b + 11] = 0x0F  # two 2-bit curves
        limit[b + 13] = 0x1F  # AMS (2 bits) + key velocity sensitivity (3 bits)
        limit[b + 14] = 99  # output level
        limit[b + 15] = 0x3F  # mode + coarse
        limit[b + 16] = 99  # fine
    limit[102:110] = 99  # pitch EG
    limit[110] = 31  # algorithm
    limit[111] = 0x0F  # feedback + osc key sync
    limit[112:116] = 99  # LFO speed, delay, PMD, AMD
    limit[117] = 48  # transpose
    bad = packed > limit
    for op in range(6):
        bad[:, op * 17 + 12] |= (packed[:, op * 17 + 12] >> 3) > 14  # detune 0..14 over rate scaling
    bad[:, 116] |= ((packed[:, 116] >> 1) & 7) > 5  # LFO waveform 0..5
    return bad.sum(axis=1)


@pytest.fixture(scope="module")
def banks(real_bank_files):
    """(path, file bytes, packed payload (32, 128), SysexVoices) for every real bank file."""
    out = []
    for f in real_bank_files:
        data = f.read_bytes()
        packed = np.frombuffer(file_payload(data), np.uint8).reshape(32, 128)
        out.append((f, data, packed, read_sysex(f)))
    return out


@pytest.fixture(scope="module")
def a_bank(factory_banks) -> tuple[Path, bytes]:
    f = factory_banks[0]
    return f, f.read_bytes()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- every real bank ------------------------------------------------------------------------


def test_every_real_bank_reads(banks):
    assert len(banks) == 2086
    for f, _, _, voices in banks:
        assert voices.source == str(f)
        assert voices.params.shape == (32, 155) and voices.params.dtype == np.uint8
        assert voices.out_of_range.shape == (32,)
        DX7_SCHEMA.check_in_range(voices.params)
    assert sum(len(v.params) for *_, v in banks) == 66_752


def test_checksum_warnings_on_real_banks_match_the_stored_checksums(banks):
    n_bad = 0
    for f, data, packed, voices in banks:
        if data[0] != 0xF0:
            assert voices.warnings == [], f
            continue
        bad = data[4102] != dx7_checksum(packed.tobytes())
        n_bad += bad
        assert any("checksum" in w for w in voices.warnings) == bad, f
        assert len(voices.warnings) == bad, (f, voices.warnings)
    assert 10 <= n_bad <= 25  # SOURCES.md: "about 20 files have a wrong checksum byte"


def test_out_of_range_counts_the_out_of_spec_packed_bytes(banks):
    packed = np.concatenate([p for _, _, p, _ in banks])
    counted = np.concatenate([v.out_of_range for *_, v in banks])
    np.testing.assert_array_equal(counted, out_of_spec_bytes(packed))
    assert 0 < (counted > 0).sum() < len(counted)  # real data holds both kinds


def test_in_spec_voices_pack_back_to_the_same_bytes(banks):
    params = np.concatenate([v.params for *_, v in banks])
    packed = np.concatenate([p for _, _, p, _ in banks])
    ok = np.concatenate([v.out_of_range for *_, v in banks]) == 0
    assert ok.sum() > 50_000
    np.testing.assert_array_equal(pack_voices(params[ok]), packed[ok])
    # and every other voice differs from its file in exactly the counted bytes
    bad = ~ok
    diff = (pack_voices(params[bad]) != packed[bad]).sum(axis=1)
    np.testing.assert_array_equal(diff, np.concatenate([v.out_of_range for *_, v in banks])[bad])


def test_in_spec_banks_export_identically(banks):
    n_checked = 0
    for f, data, packed, voices in banks:
        if voices.out_of_range.any() or voices.warnings:
            continue
        out = bank_sysex(voices.params)
        assert out[6:4102] == packed.tobytes(), f
        if data[0] == 0xF0:
            assert out[4102] == data[4102], f
            assert out[:2] == data[:2] and out[3] == data[3] and out[-1] == data[-1], f
        n_checked += 1
    assert n_checked > 300


def test_unpacking_agrees_with_dexed_py_on_every_real_bank(banks):
    """Voices are masked and rescaled exactly the way dexed-py (mirroring Dexed) loads them."""
    for f, _, _, voices in banks:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dexed-py's checksum warnings
            patches = Patch.load_bank(str(f))
        theirs = np.stack([np.frombuffer(p.to_sysex()[:155], np.uint8) for p in patches])
        np.testing.assert_array_equal(voices.params, theirs, err_msg=str(f))


def test_unique_voice_count_matches_sources_md(banks):
    params = np.concatenate([v.params for *_, v in banks])
    sound = np.concatenate([DX7_SCHEMA.learnable_indices, [TRANSPOSE_INDEX]])
    assert len(np.unique(params[:, sound], axis=0)) == 30_703
    learnable_only = len(np.unique(params[:, DX7_SCHEMA.learnable_indices], axis=0))
    assert 30_000 < learnable_only <= 30_703


def test_real_banks_with_the_non_standard_byte_count_load(banks):
    odd = [(f, v) for f, data, _, v in banks if data[:1] == b"\xf0" and data[4:6] == b"\x10\x00"]
    assert odd, "SOURCES.md lists a few files with the byte count 10 00"
    for f, v in odd:
        assert v.params.shape == (32, 155), f


# --- malformed files --------------------------------------------------------------------------


def assert_unreadable(path: Path, match: str | None = None) -> SysexError:
    with pytest.raises(SysexError) as info:
        read_sysex(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message and len(message) > len(str(path)) + 5
    assert info.value.source == str(path)
    if match:
        assert match in message
    return info.value


def test_empty_file(tmp_path):
    assert_unreadable(write(tmp_path, "empty.syx", b""), "empty")


def test_missing_file(tmp_path):
    assert_unreadable(tmp_path / "nope.syx", "cannot read")


def test_random_garbage(tmp_path):
    data = bytearray(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    data[0] = 0x12
    assert_unreadable(write(tmp_path, "garbage.syx", bytes(data)))


def test_random_garbage_starting_with_f0(tmp_path):
    data = bytearray(np.random.default_rng(1).integers(0, 128, 3000, dtype=np.uint8).tobytes())
    data[0] = 0xF0
    assert_unreadable(write(tmp_path, "garbage_f0.syx", bytes(data)))


def test_truncated_bulk_dump(tmp_path, a_bank):
    _, data = a_bank
    err = assert_unreadable(write(tmp_path, "truncated.syx", data[:3000]), "truncated")
    assert "3000" in str(err)


def test_non_yamaha_message(tmp_path):
    roland = bytes([0xF0, 0x41, 0x10, 0x42, 0x12, 0x40, 0x00, 0x7F, 0x00, 0x41, 0xF7])
    assert_unreadable(write(tmp_path, "roland.syx", roland), "0x41")


def test_yamaha_message_of_another_format(tmp_path):
    other = bytes([0xF0, 0x43, 0x00, 0x7E, 0x01, 0x28]) + b"LM  8976AE" + bytes(20) + bytes([0x00, 0xF7])
    assert_unreadable(write(tmp_path, "yamaha_other.syx", other), "0x7E")


def test_only_f7_bytes(tmp_path):
    assert_unreadable(write(tmp_path, "f7.syx", b"\xf7" * 50))


# --- recoverable files -------------------------------------------------------------------------


def test_wrong_checksum_loads_with_a_warning(tmp_path, a_bank):
    f, data = a_bank
    bad = bytearray(data)
    bad[4102] = (bad[4102] + 1) & 0x7F
    voices = read_sysex(write(tmp_path, "badsum.syx", bytes(bad)))
    np.testing.assert_array_equal(voices.params, read_sysex(f).params)
    assert len(voices.warnings) == 1 and "checksum" in voices.warnings[0]


def test_non_standard_byte_count_loads(tmp_path, a_bank):
    f, data = a_bank
    odd = data[:4] + b"\x10\x00" + data[6:]
    voices = read_sysex(write(tmp_path, "odd.syx", odd))
    np.testing.assert_array_equal(voices.params, read_sysex(f).params)
    assert voices.warnings == []


def test_other_midi_channel_loads(tmp_path, a_bank):
    f, data = a_bank
    ch = data[:2] + b"\x05" + data[3:]
    np.testing.assert_array_equal(read_sysex(write(tmp_path, "ch6.syx", ch)).params, read_sysex(f).params)


def test_headerless_payload_loads_the_same_voices(tmp_path, a_bank):
    f, data = a_bank
    voices = read_sysex(write(tmp_path, "headerless.syx", data[6:4102]))
    np.testing.assert_array_equal(voices.params, read_sysex(f).params)


def test_single_voice_dump_round_trips(tmp_path, factory_voices):
    voice = factory_voices[77]
    message = single_voice_sysex(voice)
    assert len(message) == 163
    assert message[:6] == bytes([0xF0, 0x43, 0x00, 0x00, 0x01, 0x1B])  # 0x01 0x1B = 155 bytes
    assert message[-1] == 0xF7 and message[-2] == dx7_checksum(message[6:161])
    voices = read_sysex(write(tmp_path, "single.syx", message))
    assert voices.params.shape == (1, 155) and voices.warnings == []
    np.testing.assert_array_equal(voices.params[0], voice)
    assert voices.out_of_range.tolist() == [0]
    # dexed-py reads the same VCED payload to the same voice
    np.testing.assert_array_equal(np.frombuffer(Patch.from_sysex(message[6:161]).to_sysex()[:155], np.uint8), voice)


def test_two_bulk_dumps_back_to_back(tmp_path, factory_banks):
    a, b = factory_banks[0], factory_banks[5]
    voices = read_sysex(write(tmp_path, "two.syx", a.read_bytes() + b.read_bytes()))
    assert voices.params.shape == (64, 155)
    np.testing.assert_array_equal(voices.params, np.concatenate([read_sysex(a).params, read_sysex(b).params]))


@pytest.mark.parametrize("where", ["before", "after", "both"])
def test_bank_beside_an_unrelated_message(tmp_path, a_bank, where):
    f, data = a_bank
    framed = {"before": UNRELATED + data, "after": data + UNRELATED, "both": UNRELATED + data + UNRELATED}[where]
    voices = read_sysex(write(tmp_path, f"{where}.syx", framed))
    np.testing.assert_array_equal(voices.params, read_sysex(f).params)
    assert any("skipped" in w for w in voices.warnings)


def test_out_of_range_bytes_are_masked_and_counted(factory_banks):
    packed = np.frombuffer(factory_banks[0].read_bytes()[6:4102], np.uint8).reshape(32, 128)
    clean, count = unpack_voices(packed[3])
    assert count.tolist() == [0]
    corrupt = packed[3].copy()
    op1 = 5 * 17  # OP1 is the last operator block of a packed voice
    corrupt[op1 + 14] = 0x7F  # output level 127
    corrupt[102] = 120  # pitch EG rate 1
    corrupt[op1 + 11] = 0xFF  # curves byte with every bit set
    corrupt[0] = 0x80 | 50  # OP6 EG rate 1 with bit 7 set: Dexed copies these bytes raw, then saturates
    params, count = unpack_voices(corrupt)
    params = params[0]
    assert count.tolist() == [4]
    by = DX7_SCHEMA.by_name
    assert params[by["op1_output_level"].index] == 99
    assert params[by["pitch_eg_rate1"].index] == 120 * 99 // 255 == 46  # Dexed's normparm
    assert params[by["op1_left_curve"].index] == 3 and params[by["op1_right_curve"].index] == 3
    assert params[by["op6_eg_rate1"].index] == 99
    untouched = np.ones(155, bool)
    untouched[[by[n].index for n in ("op1_output_level", "pitch_eg_rate1", "op1_left_curve", "op1_right_curve")]] = False
    untouched[by["op6_eg_rate1"].index] = False
    np.testing.assert_array_equal(params[untouched], clean[0][untouched])
    # dexed-py brings the corrupt voice to the same values
    theirs = np.frombuffer(Patch.from_packed(corrupt.tobytes()).to_sysex()[:155], np.uint8)
    np.testing.assert_array_equal(params, theirs)


def test_masked_bytes_in_a_file_are_counted(tmp_path, a_bank):
    _, data = a_bank
    bad = bytearray(data)
    bad[6 + 2 * 128 + 14] = 0x7F  # voice 2, OP6 output level
    bad[6 + 2 * 128 + 116] = 0x0F  # voice 2, LFO waveform 7
    bad[4102] = dx7_checksum(bytes(bad[6:4102]))
    voices = read_sysex(write(tmp_path, "masked.syx", bytes(bad)))
    assert voices.out_of_range[2] == 2 and voices.out_of_range.sum() == 2
    assert voices.params[2, DX7_SCHEMA.by_name["op6_output_level"].index] == 99
    assert voices.params[2, DX7_SCHEMA.by_name["lfo_waveform"].index] == 5
    assert voices.warnings == []


# --- export -----------------------------------------------------------------------------------


def test_bank_of_five_voices(tmp_path, factory_voices):
    five = factory_voices[100:105]
    data = bank_sysex(five)
    assert len(data) == 4104
    assert data[:6] == bytes([0xF0, 0x43, 0x00, 0x09, 0x20, 0x00]) and data[-1] == 0xF7
    assert data[4102] == dx7_checksum(data[6:4102])
    voices = parse_sysex(data)
    assert voices.warnings == [] and not voices.out_of_range.any()
    np.testing.assert_array_equal(voices.params[:5], five)
    assert (voices.params[5:] == init_voice()).all()
    path = write(tmp_path, "five.syx", data)
    theirs = np.stack([np.frombuffer(p.to_sysex()[:155], np.uint8) for p in Patch.load_bank(str(path))])
    np.testing.assert_array_equal(theirs, voices.params)


def test_bank_channel_and_size_limit(factory_voices):
    assert bank_sysex(factory_voices[:1], channel=3)[2] == 0x03
    with pytest.raises(ValueError, match="32"):
        bank_sysex(factory_voices[:33])
    bad = factory_voices[:2].copy()
    bad[1, DX7_SCHEMA.by_name["algorithm"].index] = 40
    with pytest.raises(ValueError, match="algorithm"):
        bank_sysex(bad)


def test_write_banks_splits_and_reads_back(tmp_path, factory_voices):
    voices = factory_voices[200:270]
    files = write_banks(voices, tmp_path / "out" / "set.syx")
    assert [f.name for f in files] == ["set_001.syx", "set_002.syx", "set_003.syx"]
    back = np.concatenate([read_sysex(f).params for f in files])
    assert back.shape == (96, 155)
    np.testing.assert_array_equal(back[:70], voices)
    assert (back[70:] == init_voice()).all()
    assert all(f.stat().st_size == 4104 for f in files)


def test_write_banks_up_to_32_voices_uses_the_path(tmp_path, factory_voices):
    files = write_banks(factory_voices[:32], tmp_path / "one.syx")
    assert files == [tmp_path / "one.syx"]
    np.testing.assert_array_equal(read_sysex(files[0]).params, factory_voices[:32])


def test_read_preset(factory_banks):
    f = factory_banks[2]
    np.testing.assert_array_equal(read_preset(f"{f}:3"), read_sysex(f).params[3])
    np.testing.assert_array_equal(read_preset(f"{f}:31"), read_sysex(f).params[31])


def test_read_preset_errors(tmp_path, factory_banks):
    f = factory_banks[2]
    with pytest.raises(SysexError, match="32") as info:
        read_preset(f"{f}:32")
    assert str(info.value).startswith(str(f)) and "\n" not in str(info.value)
    for ref in (str(f), f"{f}:", f"{f}:x", f"{f}:-1"):
        with pytest.raises(ValueError, match="INDEX"):
            read_preset(ref)
    with pytest.raises(SysexError, match="cannot read"):
        read_preset(f"{tmp_path / 'missing.syx'}:0")


@pytest.mark.parametrize("export", ["bank_sysex", "single_voice_sysex", "write_banks"])
def test_exports_reject_values_that_wrap_in_uint8(tmp_path, export):
    voice = init_voice().astype(np.int64)
    voice[DX7_SCHEMA.by_name["op1_output_level"].index] = 256
    call = {
        "bank_sysex": lambda: bank_sysex(voice[None]),
        "single_voice_sysex": lambda: single_voice_sysex(voice),
        "write_banks": lambda: write_banks(voice[None], tmp_path / "wrap.syx"),
    }[export]
    with pytest.raises(ValueError, match="op1_output_level"):
        call()


def test_headerless_garbage_of_bank_size_is_rejected(tmp_path):
    rng = np.random.default_rng(0)
    assert_unreadable(write(tmp_path, "noise.syx", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()), "0x80")
    assert_unreadable(write(tmp_path, "f7_4096.syx", b"\xf7" * 4096), "0x80")
