"""Train-time preset augmentation for the DX7, as in the SPINVAE-2 reference system.

Each training preset comes in :data:`N_VARIATIONS` = 4 variations, all made from its learnable
values ``(144,)`` uint8 (``DX7_SCHEMA.learnable_names`` order), or a batch ``(n, 144)``:

- variation 0: the original preset, unchanged;
- variation 1: the algorithm replaced by a random *similar* one (:func:`similar_algorithms`),
  everything else unchanged; presets whose algorithm has no similar one are left unchanged;
- variations 2 and 3: parameter noise (:func:`add_parameter_noise`), the algorithm unchanged.

Only the train split is augmented; validation and test always use the original presets. The
audio-side augmentation (a note-on delay of 1 to 32 samples) is done by the renderer, through the
``delays`` argument of :func:`spinvae.synth.dx7.render.render_presets`. See ``docs/augmentation.md``.

Every function works on ``(n, 144)`` arrays with masks built once at import from the schema,
returns a new uint8 array of the input's shape, never modifies its input, and raises
ValueError for values of the wrong shape, not integers, or outside their parameter's range.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from dexed import algorithms as _dexed_algorithms

from spinvae.synth.dx7.schema import DX7_SCHEMA, KEYBOARD_CURVES

__all__ = [
    "N_VARIATIONS",
    "N_ALGORITHMS",
    "MAX_CONNECTION_CHANGES",
    "STEP_PROBABILITY",
    "GAUSSIAN_STD",
    "CURVE_FLIP_PROBABILITY",
    "similar_algorithms",
    "swap_similar_algorithm",
    "add_parameter_noise",
    "vary_preset",
]

N_VARIATIONS = 4
N_ALGORITHMS = 32

#: Two algorithms are similar when they have the same carriers and their modulation matrices
#: differ by at most this many connections (feedback edges are not compared).
MAX_CONNECTION_CHANGES = 1
#: Probability that a low-cardinality numerical parameter moves one step down (and, separately,
#: one step up): 10% of them move in all.
STEP_PROBABILITY = 0.05
#: Standard deviation, in steps, of the Gaussian noise on 100-step parameters (before rounding).
GAUSSIAN_STD = 0.5
#: Probability that each keyboard-scaling curve is flipped between lin and exp (same sign).
CURVE_FLIP_PROBABILITY = 0.5

_N_LEARNABLE = DX7_SCHEMA.n_learnable
_CARDINALITIES = DX7_SCHEMA.cardinalities  # (144,) int64
_ALGORITHM = DX7_SCHEMA.learnable_names.index("algorithm")

# --- Masks over the 144 learnable values, one noise treatment per parameter ------------------
_TYPES = np.array([p.type_name for p in DX7_SCHEMA.learnable_parameters])
_FIXED_TYPES = ("algorithm", "frequency_mode", "osc_key_sync")
_RANDOMISED_TYPES = ("lfo_waveform", "lfo_key_sync")
_CURVE_TYPES = ("left_curve", "right_curve")

_FIXED = np.isin(_TYPES, _FIXED_TYPES)  # never changed by the noise
_RANDOMISED = np.isin(_TYPES, _RANDOMISED_TYPES)  # uniform over their classes
_CURVES = np.isin(_TYPES, _CURVE_TYPES)  # lin <-> exp flips, same sign
_STEPPED = ~DX7_SCHEMA.is_categorical & (_CARDINALITIES < 100)  # -1 / +1 step
_GAUSSIAN = ~DX7_SCHEMA.is_categorical & (_CARDINALITIES == 100)  # rounded Gaussian noise

_treatments = np.stack([_FIXED, _RANDOMISED, _CURVES, _STEPPED, _GAUSSIAN]).sum(axis=0)
if not (_treatments == 1).all():  # a schema change must not leave a parameter untreated
    _bad = [DX7_SCHEMA.learnable_names[i] for i in np.flatnonzero(_treatments != 1)]
    raise RuntimeError(f"parameters with no single noise treatment: {_bad}")
if not (_CARDINALITIES[_CURVES] == len(KEYBOARD_CURVES)).all():
    raise RuntimeError("keyboard-curve parameters do not have one class per KEYBOARD_CURVES entry")

_STEPPED_IDX = np.flatnonzero(_STEPPED)
_GAUSSIAN_IDX = np.flatnonzero(_GAUSSIAN)
_RANDOMISED_IDX = np.flatnonzero(_RANDOMISED)
_RANDOMISED_CARD = _CARDINALITIES[_RANDOMISED_IDX]
_CURVE_IDX = np.flatnonzero(_CURVES)


def _curve_flip_table() -> np.ndarray:
    """(4,) int64: the class of each keyboard curve's same-sign partner (-lin <-> -exp, ...)."""
    table = np.empty(len(KEYBOARD_CURVES), dtype=np.int64)
    for i, name in enumerate(KEYBOARD_CURVES):
        sign, shape = name[0], name[1:]
        table[i] = KEYBOARD_CURVES.index(sign + ("exp" if shape == "lin" else "lin"))
    return table


_CURVE_FLIP = _curve_flip_table()


# --- Similar algorithms --------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _similar_algorithms() -> tuple[tuple[int, ...], ...]:
    carriers = [frozenset(_dexed_algorithms[a].carriers) for a in range(N_ALGORITHMS)]
    matrices = [np.asarray(_dexed_algorithms[a].mod_matrix, dtype=np.int64) for a in range(N_ALGORITHMS)]
    out = []
    for a in range(N_ALGORITHMS):
        out.append(
            tuple(
                b
                for b in range(N_ALGORITHMS)
                if b != a
                and carriers[b] == carriers[a]
                and int(np.abs(matrices[a] - matrices[b]).sum()) <= MAX_CONNECTION_CHANGES
            )
        )
    return tuple(out)


def similar_algorithms() -> dict[int, tuple[int, ...]]:
    """For each algorithm 0..31 (0-based, DX7 algorithm 1 is 0), the others that sound alike.

    Derived from dexed's algorithm metadata: ``b`` is similar to ``a`` when both have the same
    set of carriers and their modulation matrices differ by at most
    :data:`MAX_CONNECTION_CHANGES` (1) connection, i.e. one modulation connection added or
    removed. Feedback edges are not compared (DX7 algorithms 1 and 2, for instance, differ
    only by which operator has feedback). The relation is symmetric and never maps an
    algorithm to itself; 25 of the 32 algorithms have at least one partner (DX7 18, 19, 22,
    28, 29, 30 and 32 have none). Returns a fresh dict of sorted tuples (possibly empty).
    """
    return {a: partners for a, partners in enumerate(_similar_algorithms())}


def _swap_table() -> tuple[np.ndarray, np.ndarray]:
    """(32, max_partners) padded partner table (padding = the algorithm itself) and (32,) counts."""
    partners = _similar_algorithms()
    width = max(1, max(len(p) for p in partners))
    table = np.repeat(np.arange(N_ALGORITHMS, dtype=np.int64)[:, None], width, axis=1)
    for a, p in enumerate(partners):
        table[a, : len(p)] = p
    return table, np.array([len(p) for p in partners], dtype=np.int64)


_SWAP_TABLE, _SWAP_COUNTS = _swap_table()


# --- Helpers ---------------------------------------------------------------------------------------
def _as_batch(values: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """A validated int64 copy (n, 144) of ``values`` (144,) or (n, 144), and the input shape."""
    arr = np.asarray(values)
    if arr.ndim not in (1, 2) or arr.shape[-1] != _N_LEARNABLE:
        raise ValueError(
            f"expected learnable values of shape ({_N_LEARNABLE},) or (n, {_N_LEARNABLE}), got {arr.shape}"
        )
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise ValueError(f"expected integer learnable values, got dtype {arr.dtype}")
    batch = np.array(arr, dtype=np.int64, ndmin=2, copy=True)
    bad = (batch < 0) | (batch >= _CARDINALITIES)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{DX7_SCHEMA.learnable_names[col]}={batch[row, col]} outside 0..{_CARDINALITIES[col] - 1}"
        )
    return batch, arr.shape


def _finish(batch: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return batch.astype(np.uint8).reshape(shape)


# --- Variations ------------------------------------------------------------------------------------
def swap_similar_algorithm(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Learnable values (144,) or (n, 144) with the algorithm replaced by a random similar one.

    Each preset draws uniformly among its algorithm's partners in :func:`similar_algorithms`
    (so the set of carriers is kept); a preset whose algorithm has none is returned unchanged.
    All other parameters are kept. Returns a new uint8 array of the input's shape.
    """
    batch, shape = _as_batch(values)
    algo = batch[:, _ALGORITHM]
    counts = _SWAP_COUNTS[algo]
    pick = np.minimum((rng.random(len(batch)) * counts).astype(np.int64), np.maximum(counts - 1, 0))
    batch[:, _ALGORITHM] = _SWAP_TABLE[algo, pick]  # padding keeps partner-less algorithms
    return _finish(batch, shape)


def add_parameter_noise(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The noise variation: learnable values (144,) or (n, 144) -> same shape uint8, in range.

    - numerical parameters with fewer than 100 steps (coarse frequency, detune, rate scaling,
      amp-mod and velocity sensitivity, feedback, pitch-mod sensitivity): -1 step with
      probability :data:`STEP_PROBABILITY` (5%), +1 step with 5%, else unchanged; clipped;
    - 100-step parameters: + Gaussian noise of standard deviation :data:`GAUSSIAN_STD`
      (half a step), rounded to the nearest step and clipped;
    - LFO waveform and LFO key sync: redrawn uniformly over their classes;
    - keyboard-scaling curves (left and right, each operator): each flipped between lin and exp
      of the same sign (-lin <-> -exp, +lin <-> +exp) with probability
      :data:`CURVE_FLIP_PROBABILITY` (50%), independently;
    - algorithm, operator frequency modes and oscillator key sync: unchanged.
    """
    batch, shape = _as_batch(values)
    n = len(batch)

    u = rng.random((n, len(_STEPPED_IDX)))
    step = (u >= 1.0 - STEP_PROBABILITY).astype(np.int64) - (u < STEP_PROBABILITY).astype(np.int64)
    batch[:, _STEPPED_IDX] = np.clip(batch[:, _STEPPED_IDX] + step, 0, _CARDINALITIES[_STEPPED_IDX] - 1)

    noise = np.rint(rng.normal(0.0, GAUSSIAN_STD, (n, len(_GAUSSIAN_IDX)))).astype(np.int64)
    batch[:, _GAUSSIAN_IDX] = np.clip(batch[:, _GAUSSIAN_IDX] + noise, 0, _CARDINALITIES[_GAUSSIAN_IDX] - 1)

    batch[:, _RANDOMISED_IDX] = rng.integers(0, _RANDOMISED_CARD, size=(n, len(_RANDOMISED_IDX)))

    flip = rng.random((n, len(_CURVE_IDX))) < CURVE_FLIP_PROBABILITY
    curves = batch[:, _CURVE_IDX]
    batch[:, _CURVE_IDX] = np.where(flip, _CURVE_FLIP[curves], curves)
    return _finish(batch, shape)


def vary_preset(values: np.ndarray, variation: int, rng: np.random.Generator) -> np.ndarray:
    """Variation ``0..N_VARIATIONS-1`` of learnable values (144,) or (n, 144), same shape uint8.

    0: an unchanged copy; 1: :func:`swap_similar_algorithm`; 2 or 3: :func:`add_parameter_noise`
    (two independent noise draws). Raises ValueError for any other ``variation``.
    """
    if isinstance(variation, (bool, np.bool_)) or not isinstance(variation, (int, np.integer)):
        raise ValueError(f"variation must be an int in 0..{N_VARIATIONS - 1}, got {variation!r}")
    if variation == 0:
        batch, shape = _as_batch(values)
        return _finish(batch, shape)
    if variation == 1:
        return swap_similar_algorithm(values, rng)
    if variation in (2, 3):
        return add_parameter_noise(values, rng)
    raise ValueError(f"variation must be in 0..{N_VARIATIONS - 1}, got {variation}")
