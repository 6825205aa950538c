"""Procedural DX7 presets: a hand-written prior over musically plausible voices, per family.

Each family (pluck, keys, bass, pad, bell, brass, organ, percussion) is a :class:`FamilyPrior`:
weighted DX7 algorithms whose carrier count suits the sound, carrier and modulator frequency
ratios, output levels (carriers loud, modulators set by the family's brightness), envelope
ranges for carriers and modulators, detune, feedback and an optional subtle vibrato.
Everything not drawn is the DX7 INIT VOICE: ratio frequency mode, neutral pitch envelope, no
amplitude modulation, transpose at C3 (24). ``docs/generator.md`` tabulates the prior.

Randomness: preset ``i`` is made from row ``i`` of a ``(n, N_DRAWS)`` block of uniforms drawn
from ``numpy.random.default_rng(seed)``. Rows fill the stream in order, so row ``i`` (and the
preset) does not depend on ``n``: a larger ``n`` extends a smaller one. Families cycle through
the requested list (preset ``i`` is ``families[i % len(families)]``), so every family gets an
equal share. All presets of one family are built together with array operations (10,000
presets take about 0.2 s, most of it writing names).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from dexed import algorithms

from spinvae.synth.dx7.schema import DX7_SCHEMA, LFO_WAVEFORMS, N_OPERATORS, NAME_SLICE, encode_name, init_voice

Range = tuple[int, int]  # inclusive bounds of a uniformly drawn integer


@dataclass(frozen=True)
class Envelope:
    """Ranges of a DX7 envelope: rates R1-R4 (higher is faster) and levels L1-L4.

    The EG rises from L4 to L1 at R1 on note-on, moves to L2 at R2 and to the sustain level L3
    at R3, then falls to L4 at R4 on note-off.
    """

    rates: tuple[Range, Range, Range, Range]
    levels: tuple[Range, Range, Range, Range]


@dataclass(frozen=True)
class FamilyPrior:
    """How one family of presets is drawn.

    ``label`` starts the preset names (5 characters at most, to leave room for a number).
    ``algorithms`` weights DX7 algorithm numbers 1-32; ``carrier_ratios`` and
    ``modulator_ratios`` weight coarse frequency values (0 is ratio 0.5, k >= 1 is ratio k),
    to which a fine value from ``modulator_fine`` (ratio times 1 + fine/100) is added on
    modulators. Levels and envelopes are drawn per operator from the carrier or modulator
    ranges according to the algorithm (modulators of modulators lose ``DEPTH_LEVEL_STEP``
    levels per step away from a carrier). ``vibrato`` is the probability of a delayed,
    shallow LFO pitch modulation.
    """

    label: str
    algorithms: Mapping[int, float]
    carrier_ratios: Mapping[int, float]
    modulator_ratios: Mapping[int, float]
    modulator_fine: Range
    carrier_level: Range
    modulator_level: Range
    carrier_envelope: Envelope
    modulator_envelope: Envelope
    feedback: Range
    detune: Range
    vibrato: float


FULL = (99, 99)
SILENT = (0, 0)

PRIORS: dict[str, FamilyPrior] = {
    "pluck": FamilyPrior(
        label="PLUCK",
        algorithms={1: 1, 2: 1, 3: 1, 5: 1, 7: 1, 8: 1, 15: 1, 16: 1, 17: 1, 18: 1},
        carrier_ratios={1: 0.7, 0: 0.1, 2: 0.2},
        modulator_ratios={1: 0.35, 2: 0.25, 3: 0.2, 4: 0.1, 5: 0.1},
        modulator_fine=(0, 0),
        carrier_level=(88, 99),
        modulator_level=(55, 85),
        carrier_envelope=Envelope(
            rates=(FULL, (45, 65), (30, 50), (45, 70)),
            levels=(FULL, (75, 90), (0, 30), SILENT),
        ),
        modulator_envelope=Envelope(
            rates=(FULL, (50, 75), (35, 55), (45, 70)),
            levels=(FULL, (55, 80), (0, 30), SILENT),
        ),
        feedback=(0, 5),
        detune=(6, 8),
        vibrato=0.0,
    ),
    "keys": FamilyPrior(
        label="KEYS",
        # algorithm 5 is the classic electric piano: three carrier/modulator pairs
        algorithms={5: 3, 6: 1, 1: 1, 2: 1, 3: 1, 7: 1, 16: 1, 19: 1},
        carrier_ratios={1: 0.8, 2: 0.1, 0: 0.1},
        modulator_ratios={1: 0.4, 2: 0.15, 3: 0.15, 4: 0.1, 14: 0.1, 7: 0.1},
        modulator_fine=(0, 0),
        carrier_level=(88, 99),
        modulator_level=(45, 78),
        carrier_envelope=Envelope(
            rates=((90, 99), (30, 50), (20, 40), (40, 65)),
            levels=(FULL, (80, 95), (0, 50), SILENT),
        ),
        modulator_envelope=Envelope(
            rates=(FULL, (45, 70), (30, 50), (40, 65)),
            levels=(FULL, (60, 85), (0, 40), SILENT),
        ),
        feedback=(0, 4),
        detune=(5, 9),
        vibrato=0.0,
    ),
    "bass": FamilyPrior(
        label="BASS",
        algorithms={1: 1, 2: 1, 3: 1, 4: 1, 7: 1, 8: 1, 15: 1, 16: 2, 17: 2, 18: 1},
        # ratio 0.5 carriers put the fundamental an octave below the played note
        carrier_ratios={0: 0.6, 1: 0.4},
        modulator_ratios={0: 0.25, 1: 0.45, 2: 0.2, 3: 0.1},
        modulator_fine=(0, 0),
        carrier_level=(88, 99),
        modulator_level=(50, 80),
        carrier_envelope=Envelope(
            rates=((90, 99), (35, 60), (25, 45), (55, 75)),
            levels=(FULL, (85, 95), (55, 85), SILENT),
        ),
        modulator_envelope=Envelope(
            rates=(FULL, (50, 75), (30, 50), (55, 75)),
            levels=(FULL, (60, 80), (30, 60), SILENT),
        ),
        feedback=(2, 6),
        detune=(6, 8),
        vibrato=0.0,
    ),
    "pad": FamilyPrior(
        label="PAD",
        algorithms={1: 1, 2: 1, 5: 1, 14: 1, 15: 1, 19: 1, 21: 1, 22: 1, 23: 1},
        carrier_ratios={1: 0.7, 0: 0.15, 2: 0.15},
        modulator_ratios={1: 0.5, 2: 0.3, 3: 0.1, 0: 0.1},
        modulator_fine=(0, 0),
        carrier_level=(85, 97),
        modulator_level=(40, 72),
        # slow attack (about 0.2-1.5 s), full sustain, long release
        carrier_envelope=Envelope(
            rates=((28, 45), (20, 40), (20, 40), (25, 45)),
            levels=((92, 99), (88, 99), (85, 97), SILENT),
        ),
        modulator_envelope=Envelope(
            rates=((25, 45), (20, 40), (20, 40), (25, 45)),
            levels=((85, 99), (80, 95), (70, 90), SILENT),
        ),
        feedback=(0, 4),
        # a wider detune spread makes the carriers beat, a chorus-like movement
        detune=(4, 10),
        vibrato=0.6,
    ),
    "bell": FamilyPrior(
        label="BELL",
        algorithms={5: 2, 6: 1, 1: 1, 3: 1, 7: 1, 9: 1, 28: 1, 29: 1},
        carrier_ratios={1: 0.4, 2: 0.3, 3: 0.2, 4: 0.1},
        # inharmonic: any coarse ratio detuned by a random fine value
        modulator_ratios={1: 0.15, 2: 0.2, 3: 0.25, 4: 0.2, 5: 0.1, 7: 0.1},
        modulator_fine=(0, 99),
        carrier_level=(88, 99),
        modulator_level=(72, 94),
        # instant strike, then a long decay to silence
        carrier_envelope=Envelope(
            rates=(FULL, (25, 45), (20, 35), (25, 45)),
            levels=(FULL, (70, 85), (0, 20), SILENT),
        ),
        modulator_envelope=Envelope(
            rates=(FULL, (35, 60), (25, 45), (25, 45)),
            levels=(FULL, (55, 80), (0, 30), SILENT),
        ),
        feedback=(0, 5),
        detune=(5, 9),
        vibrato=0.0,
    ),
    "brass": FamilyPrior(
        label="BRASS",
        # algorithm 22 is the factory brass
        algorithms={22: 2, 18: 1, 16: 1, 15: 1, 2: 1, 1: 1, 14: 1},
        carrier_ratios={1: 0.85, 0: 0.05, 2: 0.1},
        modulator_ratios={1: 0.7, 2: 0.2, 3: 0.1},
        modulator_fine=(0, 0),
        carrier_level=(88, 99),
        modulator_level=(65, 88),
        # a slightly slow attack; the modulators open slower still, which makes the swell
        carrier_envelope=Envelope(
            rates=((55, 75), (40, 60), (30, 50), (50, 70)),
            levels=(FULL, (90, 99), (85, 95), SILENT),
        ),
        modulator_envelope=Envelope(
            rates=((40, 60), (35, 55), (30, 50), (50, 70)),
            levels=((90, 99), (75, 90), (70, 88), SILENT),
        ),
        feedback=(3, 6),
        detune=(5, 9),
        vibrato=0.5,
    ),
    "organ": FamilyPrior(
        label="ORGAN",
        # many carriers, each a drawbar
        algorithms={32: 4, 31: 1, 25: 1, 24: 1, 23: 1, 22: 1, 21: 1, 20: 1, 19: 1},
        carrier_ratios={1: 0.4, 0: 0.15, 2: 0.2, 3: 0.1, 4: 0.08, 6: 0.05, 8: 0.02},
        modulator_ratios={1: 0.4, 2: 0.3, 3: 0.2, 4: 0.1},
        modulator_fine=(0, 0),
        # quieter than other carriers: up to six of them add up
        carrier_level=(78, 92),
        modulator_level=(35, 65),
        # instant attack, full sustain, quick release
        carrier_envelope=Envelope(
            rates=(FULL, FULL, FULL, (60, 85)),
            levels=(FULL, FULL, FULL, SILENT),
        ),
        modulator_envelope=Envelope(
            rates=(FULL, (50, 80), (40, 70), (60, 85)),
            levels=(FULL, (70, 95), (60, 90), SILENT),
        ),
        feedback=(0, 3),
        detune=(6, 8),
        vibrato=0.3,
    ),
    "percussion": FamilyPrior(
        label="PERC",
        algorithms={1: 1, 3: 1, 5: 1, 7: 1, 8: 1, 15: 1, 16: 1, 17: 1, 18: 1},
        carrier_ratios={1: 0.6, 0: 0.2, 2: 0.2},
        modulator_ratios={1: 0.2, 2: 0.15, 3: 0.15, 5: 0.15, 7: 0.15, 11: 0.1, 13: 0.1},
        modulator_fine=(0, 60),
        carrier_level=(90, 99),
        modulator_level=(60, 92),
        # a hit: instant attack and a short decay to silence; the modulators fade faster (a click)
        carrier_envelope=Envelope(
            rates=(FULL, (50, 75), (40, 65), (50, 80)),
            levels=(FULL, (50, 75), SILENT, SILENT),
        ),
        modulator_envelope=Envelope(
            rates=(FULL, (65, 90), (50, 75), (50, 80)),
            levels=(FULL, (20, 50), SILENT, SILENT),
        ),
        # feedback up to the maximum: a noisy edge suits hits
        feedback=(3, 7),
        detune=(6, 8),
        vibrato=0.0,
    ),
}
FAMILIES: tuple[str, ...] = tuple(PRIORS)

# Uniforms every preset takes from its row, whatever its family: the algorithm; per operator 7
# draws and an 8-stage envelope; feedback and 4 for the LFO. A fixed row width keeps row i at
# the same place in the random stream for any n.
N_DRAWS = 1 + N_OPERATORS * (7 + 8) + 5

# Modulators deeper in a stack (modulating a modulator) lose this many level steps per extra
# level of depth, so long stacks brighten a sound rather than turn it into noise.
DEPTH_LEVEL_STEP = 6


def _algorithm_tables() -> tuple[np.ndarray, np.ndarray]:
    """(32, 6) bool: operator is a carrier; (32, 6) int: steps from the operator to the output."""
    is_carrier = np.array([[op in algorithms[a].carriers for op in range(N_OPERATORS)] for a in range(32)])
    depth = np.where(is_carrier, 0, N_OPERATORS)
    for a in range(32):
        targets = [np.flatnonzero(algorithms[a].mod_matrix[:, op]) for op in range(N_OPERATORS)]
        for _ in range(N_OPERATORS):  # relax until the longest chain has settled
            for op, to in enumerate(targets):
                if len(to):
                    depth[a, op] = min(depth[a, op], 1 + depth[a, to].min())
    return is_carrier, depth


IS_CARRIER, MODULATION_DEPTH = _algorithm_tables()


def _operator_indices(field: str) -> np.ndarray:
    """(6,) voice indices of an operator parameter, OP1 first."""
    return np.array([DX7_SCHEMA.by_name[f"op{op}_{field}"].index for op in range(1, N_OPERATORS + 1)])


_INDEX = {p.name: p.index for p in DX7_SCHEMA.parameters}
_ENVELOPE_INDICES = np.stack(
    [_operator_indices(f"eg_rate{k}") for k in range(1, 5)] + [_operator_indices(f"eg_level{k}") for k in range(1, 5)],
    axis=-1,
)  # (6, 8): R1-R4, L1-L4 per operator


class _Uniforms:
    """Hands out consecutive columns of a block of uniforms (rows, N_DRAWS) in [0, 1)."""

    def __init__(self, block: np.ndarray):
        self._block = block
        self.used = 0

    def take(self, width: int | None = None) -> np.ndarray:
        """(rows,) for one column, else (rows, width)."""
        stop = self.used + (width or 1)
        if stop > self._block.shape[1]:
            raise RuntimeError("N_DRAWS is smaller than the draws a preset takes")
        cols = self._block[:, self.used : stop]
        self.used = stop
        return cols[:, 0] if width is None else cols


def _integers(u: np.ndarray, lo: int | np.ndarray, hi: int | np.ndarray) -> np.ndarray:
    """Integers uniform in ``lo..hi`` (inclusive, broadcast against ``u``), from uniforms ``u``."""
    return (lo + np.floor(u * (np.asarray(hi) - lo + 1))).astype(np.int64)


def _weighted(u: np.ndarray, weights: Mapping[int, float]) -> np.ndarray:
    """Keys of ``weights`` drawn with the given relative weights, from uniforms ``u``."""
    values = np.array(list(weights))
    cumulative = np.cumsum(list(weights.values()))
    return values[np.searchsorted(cumulative / cumulative[-1], u, side="right")]


def _envelope_bounds(envelope: Envelope) -> tuple[np.ndarray, np.ndarray]:
    """(8,) lows and (8,) highs of R1-R4, L1-L4."""
    bounds = np.array(envelope.rates + envelope.levels)
    return bounds[:, 0], bounds[:, 1]


def _draw_family(prior: FamilyPrior, u: _Uniforms, voices: np.ndarray) -> None:
    """Fill ``voices`` (rows, 155), INIT VOICE copies, with presets of one family."""
    row = np.arange(len(voices))[:, None]
    algorithm = _weighted(u.take(), prior.algorithms) - 1
    carrier = IS_CARRIER[algorithm]  # (rows, 6)
    voices[:, _INDEX["algorithm"]] = algorithm

    # one uniform per operator serves whichever role the algorithm gives it
    draw = u.take(N_OPERATORS)
    ratio = np.where(carrier, _weighted(draw, prior.carrier_ratios), _weighted(draw, prior.modulator_ratios))
    voices[row, _operator_indices("frequency_coarse")] = ratio
    fine = _integers(u.take(N_OPERATORS), *prior.modulator_fine)
    voices[row, _operator_indices("frequency_fine")] = np.where(carrier, 0, fine)

    draw = u.take(N_OPERATORS)
    extra_depth = np.maximum(MODULATION_DEPTH[algorithm] - 1, 0)
    modulator_level = _integers(draw, *prior.modulator_level) - DEPTH_LEVEL_STEP * extra_depth
    level = np.where(carrier, _integers(draw, *prior.carrier_level), np.maximum(modulator_level, 0))
    voices[row, _operator_indices("output_level")] = level

    carrier_lo, carrier_hi = _envelope_bounds(prior.carrier_envelope)
    modulator_lo, modulator_hi = _envelope_bounds(prior.modulator_envelope)
    lo = np.where(carrier[..., None], carrier_lo, modulator_lo)  # (rows, 6, 8)
    hi = np.where(carrier[..., None], carrier_hi, modulator_hi)
    voices[row[..., None], _ENVELOPE_INDICES] = _integers(u.take(N_OPERATORS * 8).reshape(-1, N_OPERATORS, 8), lo, hi)

    voices[row, _operator_indices("detune")] = _integers(u.take(N_OPERATORS), *prior.detune)
    # velocity only shades the sound: carriers barely, modulators a little more (brightness)
    voices[row, _operator_indices("velocity_sensitivity")] = _integers(u.take(N_OPERATORS), 0, np.where(carrier, 1, 3))
    # keyboard scaling stays near neutral: slightly faster envelopes and a slightly darker
    # timbre up the keyboard (modulators fade above the C3 breakpoint on the -lin curve)
    voices[row, _operator_indices("rate_scaling")] = _integers(u.take(N_OPERATORS), 0, 3)
    voices[row, _operator_indices("right_depth")] = np.where(carrier, 0, _integers(u.take(N_OPERATORS), 0, 15))

    voices[:, _INDEX["feedback"]] = _integers(u.take(), *prior.feedback)
    # vibrato: a ~5 Hz sine, delayed and shallow (pitch-mod sensitivity stays at INIT's 3)
    vibrato = u.take() < prior.vibrato
    voices[:, _INDEX["lfo_speed"]] = np.where(vibrato, _integers(u.take(), 28, 40), voices[:, _INDEX["lfo_speed"]])
    voices[:, _INDEX["lfo_delay"]] = np.where(vibrato, _integers(u.take(), 30, 70), 0)
    voices[:, _INDEX["lfo_pitch_mod_depth"]] = np.where(vibrato, _integers(u.take(), 3, 10), 0)
    voices[:, _INDEX["lfo_waveform"]] = np.where(vibrato, LFO_WAVEFORMS.index("sine"), 0)


def generate_presets(n: int, seed: int = 0, families: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """``n`` procedural DX7 voices: (n, 155) uint8 in native ranges, and each one's family.

    Preset ``i`` belongs to ``families[i % len(families)]`` (default: all of :data:`FAMILIES`;
    one family may be given as a plain string; an unknown one raises ValueError) and is named like ``"PAD 0042"`` (label and ``i`` mod 10000). The same (``n``, ``seed``,
    ``families``) gives identical presets, and the first ``m`` of ``n`` presets are those
    generated for ``m``.
    """
    families = FAMILIES if families is None else (families,) if isinstance(families, str) else tuple(families)
    unknown = [f for f in families if f not in PRIORS]
    if unknown or not families:
        raise ValueError(f"unknown families {unknown}; choose among {FAMILIES}" if unknown else "no families given")
    uniforms = np.random.default_rng(seed).random((n, N_DRAWS))
    voices = np.tile(init_voice(), (n, 1))
    preset_families = [families[i % len(families)] for i in range(n)]
    for k, family in enumerate(families):
        rows = np.arange(k, n, len(families))
        family_voices = voices[rows]
        draws = _Uniforms(uniforms[rows])
        _draw_family(PRIORS[family], draws, family_voices)
        if draws.used != N_DRAWS:
            raise RuntimeError(f"a preset took {draws.used} uniforms, N_DRAWS is {N_DRAWS}")
        voices[rows] = family_voices
    for i, family in enumerate(preset_families):
        voices[i, NAME_SLICE] = encode_name(f"{PRIORS[family].label} {i % 10000:04d}")
    DX7_SCHEMA.check_in_range(voices)
    return voices, preset_families
