"""The Yamaha DX7 voice: 155 parameters in the unpacked single-voice sysex (VCED) order.

Six operator blocks of 21 parameters (OP6 first, OP1 last), the pitch envelope, the global
parameters, transpose and the 10 name characters. 144 are learnable (all but the name and
transpose, held at C3 like the reference system): 122 numerical (100 steps for levels, rates,
breakpoints and depths; 32 for coarse frequency; 15 for detune; 8 for rate scaling, velocity
sensitivity, feedback and pitch-mod sensitivity; 4 for amp-mod sensitivity) and 22 categorical
(algorithm, oscillator key sync, LFO key sync, LFO waveform; per operator frequency mode and
left/right keyboard-scaling curves).
"""

from __future__ import annotations

import numpy as np

from spinvae.presets.schema import Kind, Parameter, ParameterSchema

N_OPERATORS = 6
TRANSPOSE_CENTRE = 24  # C3
LFO_WAVEFORMS = ("triangle", "saw_down", "saw_up", "square", "sine", "sample_hold")
KEYBOARD_CURVES = ("-lin", "-exp", "+exp", "+lin")

_OPERATOR_BLOCK: list[tuple[str, int, Kind]] = [
    ("eg_rate1", 99, "numerical"),
    ("eg_rate2", 99, "numerical"),
    ("eg_rate3", 99, "numerical"),
    ("eg_rate4", 99, "numerical"),
    ("eg_level1", 99, "numerical"),
    ("eg_level2", 99, "numerical"),
    ("eg_level3", 99, "numerical"),
    ("eg_level4", 99, "numerical"),
    ("breakpoint", 99, "numerical"),
    ("left_depth", 99, "numerical"),
    ("right_depth", 99, "numerical"),
    ("left_curve", 3, "categorical"),
    ("right_curve", 3, "categorical"),
    ("rate_scaling", 7, "numerical"),
    ("amp_mod_sensitivity", 3, "numerical"),
    ("velocity_sensitivity", 7, "numerical"),
    ("output_level", 99, "numerical"),
    ("frequency_mode", 1, "categorical"),
    ("frequency_coarse", 31, "numerical"),
    ("frequency_fine", 99, "numerical"),
    ("detune", 14, "numerical"),
]

_GLOBAL_BLOCK: list[tuple[str, int, Kind]] = [
    ("pitch_eg_rate1", 99, "numerical"),
    ("pitch_eg_rate2", 99, "numerical"),
    ("pitch_eg_rate3", 99, "numerical"),
    ("pitch_eg_rate4", 99, "numerical"),
    ("pitch_eg_level1", 99, "numerical"),
    ("pitch_eg_level2", 99, "numerical"),
    ("pitch_eg_level3", 99, "numerical"),
    ("pitch_eg_level4", 99, "numerical"),
    ("algorithm", 31, "categorical"),
    ("feedback", 7, "numerical"),
    ("osc_key_sync", 1, "categorical"),
    ("lfo_speed", 99, "numerical"),
    ("lfo_delay", 99, "numerical"),
    ("lfo_pitch_mod_depth", 99, "numerical"),
    ("lfo_amp_mod_depth", 99, "numerical"),
    ("lfo_key_sync", 1, "categorical"),
    ("lfo_waveform", 5, "categorical"),
    ("pitch_mod_sensitivity", 7, "numerical"),
    ("transpose", 48, "fixed"),
] + [(f"name{i}", 127, "name") for i in range(10)]


def _parameters() -> tuple[Parameter, ...]:
    params: list[Parameter] = []
    for block in range(N_OPERATORS):
        group = f"op{N_OPERATORS - block}"  # the sysex stores OP6 first
        for name, vmax, kind in _OPERATOR_BLOCK:
            params.append(Parameter(len(params), f"{group}_{name}", vmax, kind, group=group, type_name=name))
    for name, vmax, kind in _GLOBAL_BLOCK:
        default = TRANSPOSE_CENTRE if name == "transpose" else ord(" ") if kind == "name" else 0
        params.append(Parameter(len(params), name, vmax, kind, default=default, type_name=name))
    return tuple(params)


DX7_SCHEMA = ParameterSchema("dx7", _parameters())
N_PARAMS = DX7_SCHEMA.n_params  # 155
NAME_SLICE = slice(145, 155)
TRANSPOSE_INDEX = DX7_SCHEMA.by_name["transpose"].index


def operator_offset(operator: int) -> int:
    """Index of the first parameter of operator 1..6 in the voice vector."""
    return (N_OPERATORS - operator) * len(_OPERATOR_BLOCK)


def voice_name(params: np.ndarray) -> str:
    """The 10-character name of one voice (155,), non-printable characters shown as '?'."""
    codes = np.asarray(params)[NAME_SLICE]
    return "".join(chr(c) if 32 <= c < 127 else "?" for c in codes)


def encode_name(name: str) -> np.ndarray:
    """10 ASCII codes of a voice name, padded with blanks, non-ASCII replaced by '?'."""
    text = name[:10].ljust(10)
    return np.array([ord(c) if ord(c) < 127 else ord("?") for c in text], dtype=np.uint8)


def init_voice() -> np.ndarray:
    """The DX7's INIT VOICE (155,): OP1 alone at level 99 (a sine), algorithm 1."""
    p = np.array([prm.default for prm in DX7_SCHEMA.parameters], dtype=np.uint8)
    for operator in range(1, N_OPERATORS + 1):
        o = operator_offset(operator)
        p[o : o + 4] = 99  # rates
        p[o + 4 : o + 7] = 99  # levels 1-3; level 4 stays 0
        p[o + 8] = 39  # breakpoint C3
        p[o + 18] = 1  # coarse ratio 1
        p[o + 20] = 7  # detune centre
    p[operator_offset(1) + 16] = 99
    by = DX7_SCHEMA.by_name
    p[[by[f"pitch_eg_rate{i}"].index for i in range(1, 5)]] = 99
    p[[by[f"pitch_eg_level{i}"].index for i in range(1, 5)]] = 50
    p[by["osc_key_sync"].index] = 1
    p[by["lfo_speed"].index] = 35
    p[by["lfo_key_sync"].index] = 1
    p[by["pitch_mod_sensitivity"].index] = 3
    p[NAME_SLICE] = encode_name("INIT VOICE")
    return p
