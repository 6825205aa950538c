"""The original Audio Commons timbral models (``timbral_models`` 0.4.0) behind the native API.

This is the optional ``--ac-backend timbral_models``: slow (seconds per clip) but the reference
implementation. The 2019 release no longer runs as is on numpy 2 and librosa >= 0.10: it passes
positional arguments that librosa made keyword-only and calls the removed ``numpy.lib.pad``. The
package's own modules are given small stand-ins for ``librosa`` and ``numpy`` that accept those
old calls; numpy and librosa themselves are left untouched.

Speed-ups that leave every result unchanged (about 3x faster than the package as is): the seven
models each read, loudness-normalise and resample the clip again, four compute the specific
loudness of the same frames, and hardness takes the onset strength of the same signal twice; within
one clip those pure steps are computed once and shared. The third-octave filter designs are cached.
The package takes ``max()``/``min()`` of whole signals with Python's built-ins, element by element;
its modules get versions that hand 1-D, NaN-free arrays to numpy (same value) and anything else to
the built-ins.

Install: ``pip install scikit-learn pyloudnorm six && pip install --no-deps timbral_models==0.4.0``
(its metadata asks for the obsolete ``sklearn`` package, hence ``--no-deps``).
"""

from __future__ import annotations

import functools
import threading
import types
from collections.abc import Callable

import numpy as np

from spinvae.features.audio_commons import AC_FEATURES

INSTALL_HINT = "pip install scikit-learn pyloudnorm six && pip install --no-deps timbral_models==0.4.0"
# The original function behind each feature of AC_FEATURES, in that order.
ORIGINAL_FUNCTIONS = (
    "timbral_hardness",
    "timbral_depth",
    "timbral_brightness",
    "timbral_roughness",
    "timbral_warmth",
    "timbral_sharpness",
    "timbral_booming",
)

_patch_lock = threading.Lock()
_memo = threading.local()  # per-thread cache of the current clip's shared steps


class _NumpyWithLibPad(types.ModuleType):
    """numpy as timbral_models expects it: all of numpy plus the removed ``numpy.lib.pad``."""

    def __init__(self) -> None:
        super().__init__("numpy")
        self.lib = types.SimpleNamespace(pad=np.pad)

    def __getattr__(self, name: str):
        return getattr(np, name)


def _librosa_accepting_positional_args(librosa) -> types.SimpleNamespace:
    """The librosa calls of timbral_models, which pass ``(y, sr)`` and ``(y, orig_sr, target_sr)``
    positionally, mapped onto today's keyword-only signatures."""

    def resample(y, orig_sr, target_sr, **kwargs):
        return librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, **kwargs)

    def onset_detect(y=None, sr=22050, **kwargs):
        return librosa.onset.onset_detect(y=y, sr=sr, **kwargs)

    def onset_strength(y=None, sr=22050, **kwargs):
        return librosa.onset.onset_strength(y=y, sr=sr, **kwargs)

    return types.SimpleNamespace(
        core=types.SimpleNamespace(resample=resample, stft=librosa.stft, istft=librosa.istft),
        onset=types.SimpleNamespace(onset_detect=onset_detect,
                                    onset_strength=_shared_within_clip(onset_strength, np.copy)),
        decompose=librosa.decompose,
    )


def _shared_within_clip(function: Callable, copy_result: Callable) -> Callable:
    """``function`` evaluated once per distinct array argument while a clip is being analysed."""

    @functools.wraps(function)
    def wrapper(array, *args, **kwargs):
        cache = getattr(_memo, "cache", None)
        if cache is None or not isinstance(array, np.ndarray):
            return function(array, *args, **kwargs)
        key = (function.__name__, array.dtype.str, array.shape, array.tobytes(), args, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = function(array, *args, **kwargs)
        return copy_result(cache[key])  # callers modify their arrays in place

    return wrapper


def _builtin_or_numpy(builtin: Callable, reduction: Callable) -> Callable:
    """``builtin`` (max or min), with 1-D NaN-free arrays reduced by numpy: the same value, faster."""

    def reduce(*args, **kwargs):
        if len(args) == 1 and not kwargs:
            (values,) = args
            if isinstance(values, np.ndarray) and values.ndim == 1 and values.size and not np.isnan(values).any():
                return reduction(values)
        return builtin(*args, **kwargs)

    return reduce


def _copy_audio_and_rate(result):
    audio, fs = result
    return audio.copy(), fs


def _copy_loudness(result):
    n_entire, n_single = result
    return n_entire, n_single.copy()


@functools.cache
def _patched_timbral_models() -> types.ModuleType:
    """Import timbral_models and give its modules the compatibility stand-ins (once)."""
    try:
        import librosa
        import timbral_models
        import timbral_models.Timbral_Hardness as hardness_module
        import timbral_models.Timbral_Roughness as roughness_module
        import timbral_models.timbral_util as util_module
        from timbral_models import Timbral_Booming, Timbral_Brightness, Timbral_Depth, Timbral_Sharpness, Timbral_Warmth
    except ImportError as error:
        raise ImportError(f"the timbral_models backend needs the original package ({error}): {INSTALL_HINT}") from None
    with _patch_lock:
        compatible_librosa = _librosa_accepting_positional_args(librosa)
        compatible_numpy = _NumpyWithLibPad()
        util_module.librosa = compatible_librosa
        hardness_module.librosa = compatible_librosa
        hardness_module.np = compatible_numpy
        roughness_module.np = compatible_numpy
        util_module.file_read = _shared_within_clip(util_module.file_read, _copy_audio_and_rate)
        util_module.specific_loudness = _shared_within_clip(util_module.specific_loudness, _copy_loudness)
        util_module.filter_design2 = functools.cache(util_module.filter_design2)
        modules = (util_module, hardness_module, roughness_module, Timbral_Booming, Timbral_Brightness, Timbral_Depth,
                   Timbral_Sharpness, Timbral_Warmth)
        for module in modules:
            module.max = _builtin_or_numpy(max, np.max)
            module.min = _builtin_or_numpy(min, np.min)
    return timbral_models


def audio_commons_features_original(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, list[str]]:
    """The seven Audio Commons features computed by the original ``timbral_models`` package.

    audio: (B, n_samples) float, mono clips at ``sample_rate`` Hz.
    Returns features (B, 7) float64 in ``AC_FEATURES`` order (unclipped model outputs, as the
    native implementation), and one reason string per clip: ``""`` when every feature is finite,
    else ``"ac_x: why; ..."`` for the features that failed (NaN). Raises ImportError (one line,
    with the install command) when timbral_models is not installed.
    """
    timbral_models = _patched_timbral_models()
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    features = np.full((len(audio), len(AC_FEATURES)), np.nan)
    reasons = []
    for i, clip in enumerate(audio):
        failures = []
        _memo.cache = {}
        try:
            for j, (name, function_name) in enumerate(zip(AC_FEATURES, ORIGINAL_FUNCTIONS)):
                try:
                    value = float(getattr(timbral_models, function_name)(clip.copy(), fs=sample_rate))
                except Exception as error:  # the original raises on silence, short and quiet clips
                    failures.append(f"{name}: timbral_models failed ({type(error).__name__}: {_one_line(error)})")
                    continue
                if np.isfinite(value):
                    features[i, j] = value
                else:
                    failures.append(f"{name}: timbral_models returned {value}")
        finally:
            _memo.cache = None
        reasons.append("; ".join(failures))
    return features, reasons


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:120]
