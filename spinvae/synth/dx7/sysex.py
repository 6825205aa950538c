"""DX7 voice sysex: reading every common file layout, writing 32-voice banks.

Readable layouts:

- 32-voice bulk dumps ``F0 43 0n 09 20 00 <4096 bytes> <checksum> F7`` (4104 bytes; the
  non-standard byte count ``10 00`` is accepted, the length is fixed by the format);
- headerless 4096-byte payloads (the same 32 packed voices without framing);
- single-voice dumps ``F0 43 0n 00 01 1B <155 bytes> <checksum> F7`` (163 bytes);
- files holding several such messages, other sysex messages in between being skipped.

A wrong checksum is reported and the data loaded anyway, as Dexed does. Packed voices are
unpacked the way Dexed's ``Cartridge::unpackProgram`` and dexed-py do, then brought into
range: unused high bits are masked off; an out-of-range pitch-envelope byte is rescaled
from 0..127 to 0..99 (Dexed's ``normparm``); any other value still above its maximum
saturates to it. The number of packed bytes that this changes is counted per voice; a voice
with a count of 0 is *in spec*, and packing it again gives back the same 128 bytes.
A file that holds no readable voice raises :class:`SysexError`, whose message is one line
naming the file and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spinvae.synth.dx7.schema import DX7_SCHEMA, N_OPERATORS, N_PARAMS, init_voice

BANK_SIZE = 32
PACKED_VOICE_BYTES = 128
BANK_PAYLOAD_BYTES = BANK_SIZE * PACKED_VOICE_BYTES  # 4096
BANK_MESSAGE_BYTES = 6 + BANK_PAYLOAD_BYTES + 2  # 4104
VOICE_MESSAGE_BYTES = 6 + N_PARAMS + 2  # 163
YAMAHA_ID = 0x43
FORMAT_VOICE = 0x00
FORMAT_BANK = 0x09


class SysexError(ValueError):
    """A file that holds no readable DX7 voice. ``str()`` is ``"<path>: <reason>"``."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


@dataclass
class SysexVoices:
    """The voices read from one file.

    ``params`` is (n, 155) uint8 in native ranges; ``out_of_range`` (n,) counts the packed
    bytes each voice needed masked or saturated (0 = in spec); ``warnings`` holds one line per
    recoverable defect (checksum mismatch, skipped or truncated message).
    """

    source: str
    params: np.ndarray
    out_of_range: np.ndarray
    warnings: list[str] = field(default_factory=list)


def _packed_fields() -> list[tuple[int, int, int, int]]:
    """(param index, packed byte, shift, bit mask) for each of the 155 parameters."""
    fields: list[tuple[int, int, int, int]] = []
    for block in range(N_OPERATORS):
        p, b = block * 21, block * 17
        fields += [(p + i, b + i, 0, 0xFF) for i in range(11)]  # Dexed copies these raw
        fields += [
            (p + 11, b + 11, 0, 0x03),  # left curve
            (p + 12, b + 11, 2, 0x03),  # right curve
            (p + 13, b + 12, 0, 0x07),  # rate scaling
            (p + 20, b + 12, 3, 0x0F),  # detune
            (p + 14, b + 13, 0, 0x03),  # amp mod sensitivity
            (p + 15, b + 13, 2, 0x07),  # velocity sensitivity
            (p + 16, b + 14, 0, 0x7F),  # output level
            (p + 17, b + 15, 0, 0x01),  # frequency mode
            (p + 18, b + 15, 1, 0x1F),  # frequency coarse
            (p + 19, b + 16, 0, 0x7F),  # frequency fine
        ]
    fields += [(126 + i, 102 + i, 0, 0x7F) for i in range(8)]  # pitch envelope
    fields += [
        (134, 110, 0, 0x1F),  # algorithm
        (135, 111, 0, 0x07),  # feedback
        (136, 111, 3, 0x01),  # osc key sync
        (137, 112, 0, 0x7F),
        (138, 113, 0, 0x7F),
        (139, 114, 0, 0x7F),
        (140, 115, 0, 0x7F),
        (141, 116, 0, 0x01),  # lfo key sync
        (142, 116, 1, 0x07),  # lfo waveform
        (143, 116, 4, 0x07),  # pitch mod sensitivity
        (144, 117, 0, 0x7F),  # transpose
    ]
    fields += [(145 + i, 118 + i, 0, 0x7F) for i in range(10)]  # name
    assert sorted(f[0] for f in fields) == list(range(N_PARAMS))
    return fields


_FIELDS = sorted(_packed_fields())
_F_BYTE = np.array([f[1] for f in _FIELDS])
_F_SHIFT = np.array([f[2] for f in _FIELDS], dtype=np.uint8)
_F_MASK = np.array([f[3] for f in _FIELDS], dtype=np.uint8)
_PITCH_EG = slice(126, 134)


def unpack_voices(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unpack (n, 128) packed voices to (n, 155) params in range, and count masked bytes (n,)."""
    packed = np.asarray(packed, dtype=np.uint8).reshape(-1, PACKED_VOICE_BYTES)
    raw = (packed[:, _F_BYTE] >> _F_SHIFT) & _F_MASK
    params = raw.astype(np.int64)
    eg = params[:, _PITCH_EG]
    params[:, _PITCH_EG] = np.where(eg > 99, eg * 99 // 255, eg)  # Dexed's normparm
    params = np.minimum(params, DX7_SCHEMA.max_values).astype(np.uint8)
    out_of_range = (pack_voices(params) != packed).sum(axis=1)
    return params, out_of_range


def pack_voices(params: np.ndarray) -> np.ndarray:
    """Pack (n, 155) in-range params into (n, 128) bulk-dump voices."""
    params = DX7_SCHEMA.as_presets(params).reshape(-1, N_PARAMS)
    packed = np.zeros((len(params), PACKED_VOICE_BYTES), dtype=np.uint8)
    for index, byte, shift, mask in _FIELDS:
        packed[:, byte] |= ((params[:, index].astype(np.uint8) & mask) << shift).astype(np.uint8)
    return packed


def unpack_single_voice(payload: bytes) -> tuple[np.ndarray, int]:
    """The 155 unpacked bytes of a single-voice dump -> (155,) params in range, masked count."""
    raw = np.frombuffer(payload, dtype=np.uint8).astype(np.int64) & 0x7F
    params = np.minimum(raw, DX7_SCHEMA.max_values)
    return params.astype(np.uint8), int((params != raw).sum())


def checksum(payload: bytes) -> int:
    """DX7 sysex checksum: the low 7 bits of the two's complement of the payload sum."""
    return (-sum(payload)) & 0x7F


def parse_sysex(data: bytes, source: str = "<bytes>") -> SysexVoices:
    """Read every DX7 voice in ``data``; raise :class:`SysexError` when there is none."""
    if not data:
        raise SysexError(source, "empty file")
    if data[0] != 0xF0:
        high = sum(b >= 0x80 for b in data)
        if len(data) == BANK_PAYLOAD_BYTES and high > len(data) // 10:
            raise SysexError(
                source, f"not DX7 voice data: a headerless 4096-byte bank holds 7-bit bytes, {high} bytes are >= 0x80"
            )
        if len(data) == BANK_PAYLOAD_BYTES:
            params, masked = unpack_voices(np.frombuffer(data, dtype=np.uint8))
            return SysexVoices(source, params, masked)
        raise SysexError(
            source,
            f"not DX7 sysex: {len(data)} bytes starting with 0x{data[0]:02X} "
            f"(expected a sysex message or a headerless {BANK_PAYLOAD_BYTES}-byte bank)",
        )

    voices: list[np.ndarray] = []
    masked: list[np.ndarray] = []
    warnings: list[str] = []
    skipped: list[str] = []
    pos = 0
    while True:
        pos = data.find(0xF0, pos)
        if pos < 0:
            break
        head = data[pos : pos + 6]
        is_yamaha = len(head) >= 4 and head[1] == YAMAHA_ID and head[2] & 0xF0 == 0
        if is_yamaha and head[3] in (FORMAT_BANK, FORMAT_VOICE):
            is_bank = head[3] == FORMAT_BANK
            size = BANK_MESSAGE_BYTES if is_bank else VOICE_MESSAGE_BYTES
            kind = "32-voice dump" if is_bank else "single-voice dump"
            message = data[pos : pos + size]
            if len(message) < size:
                warnings.append(f"truncated {kind} at byte {pos}: {len(message)} of {size} bytes")
                break
            payload = message[6:-2]
            if message[-1] != 0xF7:
                warnings.append(f"{kind} at byte {pos} does not end with F7")
            if checksum(payload) != message[-2]:
                warnings.append(
                    f"checksum mismatch in {kind} at byte {pos}: "
                    f"stored 0x{message[-2]:02X}, computed 0x{checksum(payload):02X}; loaded anyway"
                )
            if is_bank:
                p, m = unpack_voices(np.frombuffer(payload, dtype=np.uint8))
            else:
                p1, m1 = unpack_single_voice(payload)
                p, m = p1[None], np.array([m1])
            voices.append(p)
            masked.append(m)
            pos += size
        else:
            end = data.find(0xF7, pos)
            manufacturer = f"0x{head[1]:02X}" if len(head) > 1 else "none"
            fmt = f", format 0x{head[3]:02X}" if is_yamaha else ""
            skipped.append(f"manufacturer {manufacturer}{fmt}")
            pos = len(data) if end < 0 else end + 1

    if not voices:
        if warnings:
            raise SysexError(source, warnings[0])
        what = "; ".join(sorted(set(skipped))) or "no complete message"
        raise SysexError(source, f"no DX7 voice dump among {len(skipped)} sysex message(s) ({what})")
    if skipped:
        warnings.append(f"skipped {len(skipped)} non-voice sysex message(s)")
    return SysexVoices(source, np.concatenate(voices), np.concatenate(masked), warnings)


def read_sysex(path: str | Path) -> SysexVoices:
    """Read every DX7 voice of one file; raise :class:`SysexError` (one line) if unreadable."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise SysexError(str(path), f"cannot read: {err.strerror or err}") from err
    return parse_sysex(data, str(path))


def bank_sysex(params: np.ndarray, channel: int = 0) -> bytes:
    """A 4104-byte 32-voice bulk dump of up to 32 voices (n, 155), padded with INIT VOICE."""
    params = DX7_SCHEMA.as_presets(params).reshape(-1, N_PARAMS)
    if len(params) > BANK_SIZE:
        raise ValueError(f"a bank holds {BANK_SIZE} voices, got {len(params)}: use write_banks")
    padded = np.concatenate([params, np.tile(init_voice(), (BANK_SIZE - len(params), 1))])
    payload = pack_voices(padded).tobytes()
    header = bytes([0xF0, YAMAHA_ID, channel & 0x0F, FORMAT_BANK, 0x20, 0x00])
    return header + payload + bytes([checksum(payload), 0xF7])


def write_banks(params: np.ndarray, path: str | Path) -> list[Path]:
    """Write any number of voices (n, 155) as 32-voice bank files.

    Up to 32 voices go to ``path`` itself; more are split over ``<stem>_001.syx``,
    ``<stem>_002.syx``, ... beside it. Returns the files written.
    """
    params = DX7_SCHEMA.as_presets(params).reshape(-1, N_PARAMS)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(params) <= BANK_SIZE:
        path.write_bytes(bank_sysex(params))
        return [path]
    written = []
    for i, start in enumerate(range(0, len(params), BANK_SIZE), start=1):
        out = path.with_name(f"{path.stem}_{i:03d}{path.suffix or '.syx'}")
        out.write_bytes(bank_sysex(params[start : start + BANK_SIZE]))
        written.append(out)
    return written


def single_voice_sysex(params: np.ndarray, channel: int = 0) -> bytes:
    """A 163-byte single-voice dump of one voice (155,)."""
    params = DX7_SCHEMA.as_presets(params).reshape(N_PARAMS)
    payload = params.tobytes()
    header = bytes([0xF0, YAMAHA_ID, channel & 0x0F, FORMAT_VOICE, 0x01, 0x1B])
    return header + payload + bytes([checksum(payload), 0xF7])


def read_preset(reference: str) -> np.ndarray:
    """One voice (155,) from ``"BANK.syx:INDEX"`` (INDEX 0-based among the file's voices)."""
    path, sep, index = reference.rpartition(":")
    if not sep or not index.isdigit():
        raise ValueError(f"{reference}: expected BANK.syx:INDEX, INDEX a 0-based voice number")
    voices = read_sysex(path)
    if int(index) >= len(voices.params):
        raise SysexError(path, f"voice {index} asked for, the file holds {len(voices.params)} (0-based index)")
    return voices.params[int(index)]
