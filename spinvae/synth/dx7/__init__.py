"""The Yamaha DX7 through the Dexed engine (dexed-py): 155-byte voices, .syx banks, 144 learnable
parameters (:mod:`.schema`), the procedural generator (:mod:`.generator`), the reference system's
train-time variations (:mod:`.variations`)."""

from __future__ import annotations

from importlib.metadata import version as _package_version
from pathlib import Path

import numpy as np

from spinvae.synth.base import PresetBank, PresetFileError, RenderSettings, Synth
from spinvae.synth.dx7.schema import DX7_SCHEMA, encode_name, voice_name


class DX7Synth(Synth):
    """The DX7 plug-in: Dexed renders, .syx files in and out (32-voice banks), the DX7 generator."""

    name = "dx7"
    schema = DX7_SCHEMA
    preset_suffixes = (".syx",)
    bank_size = 32
    reference_categorical = "normalised"
    midi_presets = True

    @property
    def n_variations(self) -> int:  # type: ignore[override]
        from spinvae.synth.dx7.variations import N_VARIATIONS

        return N_VARIATIONS

    def version(self) -> str:
        # the bare dexed-py version, as in every DX7 dataset's fingerprint so far
        return _package_version("dexed-py")

    def render(self, params: np.ndarray, settings: RenderSettings, workers: int = 1,
               delays: np.ndarray | None = None) -> np.ndarray:
        from spinvae.synth.dx7.render import render_presets

        return render_presets(params, settings, workers=workers, delays=delays)

    def read_bank(self, path: str | Path) -> PresetBank:
        from spinvae.synth.dx7.sysex import SysexError, read_sysex

        try:
            voices = read_sysex(path)
        except SysexError as err:
            raise PresetFileError(str(err)) from err
        warnings = list(voices.warnings)
        if (voices.out_of_range > 0).any():
            warnings.append(f"{int((voices.out_of_range > 0).sum())} voice(s) with out-of-range bytes, masked or saturated")
        return PresetBank(voices.params, tuple(voice_name(p) for p in voices.params), tuple(warnings))

    def write_bank(self, path: str | Path, params: np.ndarray, names: list[str] | None = None) -> list[Path]:
        from spinvae.synth.dx7.schema import NAME_SLICE
        from spinvae.synth.dx7.sysex import write_banks

        params = np.array(params, dtype=np.uint8, copy=True).reshape(-1, DX7_SCHEMA.n_params)
        for row, name in zip(params, names or []):
            row[NAME_SLICE] = encode_name(name)
        return write_banks(params, path)

    def generate(self, n: int, seed: int = 0) -> PresetBank:
        from spinvae.synth.dx7.generator import generate_presets

        params, families = generate_presets(n, seed=seed)
        return PresetBank(params, tuple(families))

    def preset_names(self, params: np.ndarray) -> list[str]:
        return [voice_name(p) for p in np.asarray(params).reshape(-1, DX7_SCHEMA.n_params)]

    def vary(self, values: np.ndarray, variation: int, rng: np.random.Generator) -> np.ndarray:
        from spinvae.synth.dx7.variations import vary_preset

        return vary_preset(values, variation, rng)

    def preset_message(self, params: np.ndarray, channel: int = 0) -> bytes:
        """A DX7 single-voice dump (163 bytes, format 0): Dexed and a hardware DX7 load it into the edit buffer."""
        from spinvae.synth.dx7.sysex import single_voice_sysex

        return single_voice_sysex(np.asarray(params, dtype=np.uint8), channel)

    def read_preset_message(self, message: bytes) -> np.ndarray:
        from spinvae.synth.dx7.sysex import FORMAT_VOICE, SysexError, parse_sysex

        if len(message) < 4 or message[3] != FORMAT_VOICE:
            raise ValueError("not a DX7 single-voice dump")
        try:
            return parse_sysex(bytes(message), "<MIDI message>").params[0]
        except SysexError as err:
            raise ValueError(str(err)) from None
