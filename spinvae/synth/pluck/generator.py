"""Procedural pluck presets: a hand-written prior over plausible plucked strings, per family.

Each family is a :class:`FamilyPrior`: a physical range per parameter, within which values are drawn
uniformly on the parameter's own scale (log-uniformly for frequencies, times and Q factors).
Parameters a family does not name are drawn from :data:`COMMON` (a guitar-like middle ground).
``docs/synths.md`` describes the families.

Randomness: preset ``i`` is made from row ``i`` of an ``(n, 29)`` block of uniforms from
``numpy.random.default_rng(seed)``, so row ``i`` does not depend on ``n`` (a larger ``n`` extends a
smaller one), and families cycle through the requested list (preset ``i`` is ``families[i % len]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from spinvae.synth.pluck.schema import MAX_STEP, N_PARAMS, PARAMETER_INDEX, PLUCK_PARAMETERS

Range = tuple[float, float]  # inclusive physical bounds

#: the default range of every parameter a family leaves out
COMMON: Mapping[str, Range] = {
    "level": (0.45, 0.65),
    "velocity_level": (12.0, 30.0),
    "velocity_brightness": (0.5, 2.0),
    "inharmonicity": (0.0, 2e-5),
    "brightness": (1500.0, 5000.0),
    "rolloff": (10.0, 20.0),
    "tilt": (-8.0, -4.0),
    "even_gain": (-3.0, 0.0),
    "pluck_position": (0.1, 0.25),
    "comb_depth": (0.5, 0.9),
    "decay": (1.5, 5.0),
    "decay_keytrack": (0.4, 0.9),
    "decay_tilt": (0.7, 1.3),
    "damping": (0.3, 3.0),
    "beat": (0.0, 1.5),
    "aftersound": (0.05, 0.3),
    "aftersound_decay": (1.5, 3.0),
    "attack": (0.2, 1.0),
    "noise_level": (-36.0, -24.0),
    "noise_length": (4.0, 15.0),
    "noise_freq": (1000.0, 4000.0),
    "noise_q": (0.5, 2.0),
    "body_freq1": (90.0, 130.0),
    "body_q1": (5.0, 12.0),
    "body_gain1": (3.0, 9.0),
    "body_freq2": (200.0, 500.0),
    "body_q2": (2.0, 6.0),
    "body_gain2": (0.0, 6.0),
    "release": (0.1, 0.4),
}


@dataclass(frozen=True)
class FamilyPrior:
    """How one family is drawn: ``ranges`` overrides :data:`COMMON` for the parameters it names;
    ``description`` says what the ranges aim at."""

    name: str
    description: str
    ranges: Mapping[str, Range] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, (low, high) in {**COMMON, **self.ranges}.items():
            p = PLUCK_PARAMETERS[PARAMETER_INDEX[key]]  # KeyError for a misspelt name
            if not p.low <= low <= high <= p.high:
                raise ValueError(f"family {self.name}: {key} range {low}..{high} outside {p.low}..{p.high}")

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit-value bounds (29,), (29,) of the family's ranges."""
        ranges = {**COMMON, **self.ranges}
        low = np.array([p.unit_value(ranges[p.name][0]) for p in PLUCK_PARAMETERS])
        high = np.array([p.unit_value(ranges[p.name][1]) for p in PLUCK_PARAMETERS])
        return low, high


PRIORS: tuple[FamilyPrior, ...] = (
    FamilyPrior("nylon", "classical guitar: warm, soft top end, plucked off the middle, a strong air mode", {
        "brightness": (1200.0, 2800.0), "rolloff": (14.0, 24.0), "tilt": (-9.0, -6.0),
        "inharmonicity": (0.0, 1e-5), "pluck_position": (0.12, 0.25), "decay": (2.5, 5.0), "damping": (0.2, 1.0),
        "noise_level": (-36.0, -26.0), "noise_freq": (800.0, 2000.0),
        "body_freq1": (95.0, 115.0), "body_q1": (8.0, 14.0), "body_gain1": (6.0, 12.0),
        "body_freq2": (190.0, 260.0), "body_q2": (4.0, 8.0), "body_gain2": (3.0, 8.0),
        "beat": (0.0, 0.8), "aftersound": (0.05, 0.2),
    }),
    FamilyPrior("steel", "steel-string guitar: bright, slightly stiff, long sustain with beating", {
        "brightness": (3500.0, 8000.0), "rolloff": (8.0, 14.0), "tilt": (-7.0, -4.0),
        "inharmonicity": (2e-5, 1e-4), "pluck_position": (0.07, 0.15), "decay": (3.0, 7.0), "damping": (1.0, 5.0),
        "velocity_brightness": (1.0, 2.5), "noise_level": (-32.0, -22.0), "noise_freq": (2500.0, 6000.0),
        "body_freq1": (95.0, 115.0), "body_freq2": (200.0, 300.0), "body_gain2": (3.0, 8.0),
        "beat": (0.3, 2.0), "aftersound": (0.15, 0.35),
    }),
    FamilyPrior("harp", "concert harp: plucked near the middle, mellow and long, a soft pluck", {
        "brightness": (800.0, 2000.0), "rolloff": (16.0, 28.0), "tilt": (-10.0, -6.0),
        "inharmonicity": (0.0, 2e-5), "pluck_position": (0.3, 0.5), "comb_depth": (0.3, 0.7),
        "decay": (5.0, 12.0), "decay_keytrack": (0.6, 1.0), "damping": (0.2, 1.0),
        "noise_level": (-48.0, -36.0), "noise_freq": (500.0, 1500.0), "attack": (0.5, 2.0),
        "body_freq1": (150.0, 300.0), "body_q1": (3.0, 6.0), "body_gain1": (2.0, 6.0),
        "body_freq2": (400.0, 900.0), "body_q2": (2.0, 4.0), "body_gain2": (0.0, 4.0), "release": (0.8, 2.0),
    }),
    FamilyPrior("harpsichord", "quill plucked next to the nut: very bright, a click, two choirs, no dynamics", {
        "brightness": (7000.0, 15000.0), "rolloff": (4.0, 10.0), "tilt": (-5.0, -2.0),
        "inharmonicity": (0.0, 1e-5), "pluck_position": (0.03, 0.08), "comb_depth": (0.7, 1.0),
        "decay": (2.0, 6.0), "decay_tilt": (0.3, 0.7), "damping": (2.0, 10.0),
        "beat": (1.0, 4.0), "aftersound": (0.3, 0.5), "aftersound_decay": (1.2, 2.0),
        "velocity_level": (0.0, 3.0), "velocity_brightness": (0.0, 0.3),
        "noise_level": (-30.0, -18.0), "noise_length": (2.0, 6.0), "noise_freq": (3000.0, 9000.0),
        "noise_q": (0.8, 2.0), "attack": (0.1, 0.3),
        "body_freq1": (130.0, 250.0), "body_q1": (4.0, 10.0), "body_gain1": (2.0, 6.0),
        "body_freq2": (800.0, 2500.0), "body_q2": (2.0, 5.0), "body_gain2": (3.0, 8.0), "release": (0.08, 0.2),
    }),
    FamilyPrior("koto", "koto: silk strings plucked with picks near the bridge, twangy and stiff", {
        "brightness": (2000.0, 5000.0), "rolloff": (10.0, 16.0), "tilt": (-7.0, -4.0),
        "inharmonicity": (3e-5, 1.5e-4), "pluck_position": (0.06, 0.12), "comb_depth": (0.6, 0.9),
        "decay": (1.5, 4.0), "decay_tilt": (1.0, 1.6), "damping": (0.5, 2.0),
        "beat": (0.5, 2.5), "aftersound": (0.1, 0.3),
        "noise_level": (-30.0, -20.0), "noise_freq": (1500.0, 4000.0), "noise_length": (5.0, 20.0),
        "attack": (0.3, 1.0), "body_freq1": (180.0, 350.0), "body_q1": (4.0, 8.0), "body_gain1": (4.0, 10.0),
        "body_freq2": (500.0, 1200.0), "body_q2": (3.0, 6.0), "body_gain2": (2.0, 6.0),
    }),
    FamilyPrior("pizzicato", "plucked violin family: short, woody, dominated by the body's resonances", {
        "level": (0.5, 0.7), "brightness": (1000.0, 2500.0), "rolloff": (16.0, 26.0), "tilt": (-9.0, -6.0),
        "pluck_position": (0.15, 0.3), "decay": (0.25, 0.8), "decay_keytrack": (0.3, 0.6),
        "decay_tilt": (1.0, 1.6), "damping": (0.1, 0.5), "beat": (0.0, 0.5), "aftersound": (0.0, 0.1),
        "noise_level": (-34.0, -24.0), "noise_length": (6.0, 20.0), "noise_freq": (600.0, 1600.0),
        "attack": (1.5, 4.0), "body_freq1": (250.0, 320.0), "body_q1": (10.0, 18.0), "body_gain1": (6.0, 12.0),
        "body_freq2": (400.0, 600.0), "body_q2": (6.0, 12.0), "body_gain2": (4.0, 10.0), "release": (0.05, 0.15),
    }),
    FamilyPrior("banjo", "banjo: a drum-head body, bright and stiff, short and punchy", {
        "brightness": (4000.0, 9000.0), "rolloff": (6.0, 12.0), "tilt": (-6.0, -3.0),
        "inharmonicity": (5e-5, 2e-4), "pluck_position": (0.05, 0.12), "decay": (0.8, 2.0),
        "decay_tilt": (1.0, 1.5), "damping": (0.5, 2.0), "beat": (0.5, 3.0), "aftersound": (0.1, 0.25),
        "noise_level": (-24.0, -14.0), "noise_length": (3.0, 10.0), "noise_freq": (3000.0, 8000.0),
        "body_freq1": (300.0, 600.0), "body_q1": (3.0, 8.0), "body_gain1": (8.0, 14.0),
        "body_freq2": (1500.0, 3000.0), "body_q2": (2.0, 5.0), "body_gain2": (4.0, 8.0), "release": (0.1, 0.25),
    }),
)

FAMILY_PRIORS: dict[str, FamilyPrior] = {prior.name: prior for prior in PRIORS}
FAMILIES: tuple[str, ...] = tuple(FAMILY_PRIORS)


def generate_pluck_presets(n: int, seed: int = 0, families: Sequence[str] | None = None
                           ) -> tuple[np.ndarray, list[str]]:
    """``n`` presets (n, 29) uint8 on the schema's grid and their family names; the same for the same
    ``(n, seed, families)``; ValueError naming an unknown family."""
    families = list(FAMILIES if families is None else families)
    if not families:
        raise ValueError("no families to draw from")
    unknown = [f for f in families if f not in FAMILY_PRIORS]
    if unknown:
        raise ValueError(f"unknown pluck famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                         f"known: {', '.join(FAMILIES)}")
    if n < 0:
        raise ValueError("n must be >= 0")
    uniforms = np.random.default_rng(seed).random((n, N_PARAMS))
    names = [families[i % len(families)] for i in range(n)]
    unit = np.empty((n, N_PARAMS))
    for family in set(names):
        rows = np.array([name == family for name in names])
        low, high = FAMILY_PRIORS[family].bounds()
        unit[rows] = low + uniforms[rows] * (high - low)
    return np.clip(np.rint(unit * MAX_STEP), 0, MAX_STEP).astype(np.uint8), names
