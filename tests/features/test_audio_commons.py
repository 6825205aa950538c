"""The native Audio Commons features: API, robustness, invariances, and agreement with the original.

The agreement test renders real DX7 voices from ../shared/data/dx7 and compares with the original
timbral_models package (run through spinvae.features.timbral_models_backend, checked equal to the
shared oracle ../shared/tools/timbral_models_reference.py); its values are cached under the pytest
cache, so only the first run pays for the original (about 2 s per clip on each of 2 processes).
"""

from __future__ import annotations

import hashlib
import importlib.util
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from spinvae.features.audio_commons import AC_FEATURES, audio_commons_features

SR = 16000
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
ORACLE_TOOL = SHARED / "tools" / "timbral_models_reference.py"
HAVE_TIMBRAL_MODELS = importlib.util.find_spec("timbral_models") is not None
needs_original = pytest.mark.skipif(
    not HAVE_TIMBRAL_MODELS,
    reason="timbral_models not installed: pip install scikit-learn pyloudnorm six && "
    "pip install --no-deps timbral_models==0.4.0",
)
N_VOICES = 240  # real voices rendered for the agreement test
N_CLIPS = 200  # of which the first non-silent ones are compared
MIN_SPEARMAN = 0.95


def _tone(seconds: float = 2.0, f0: float = 207.65, n_partials: int = 12, decay: float = 1.5) -> np.ndarray:
    """A decaying harmonic tone with a 5-ms attack, like a simple DX7 note."""
    t = np.arange(int(seconds * SR)) / SR
    partials = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, n_partials + 1) if f0 * k < SR / 2)
    return 0.3 * partials * np.minimum(1.0, t / 0.005) * np.exp(-t / decay)


def _noise(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    return 0.2 * np.random.default_rng(seed).standard_normal(int(seconds * SR))


def _assert_answered(features: np.ndarray, reasons: list[str]) -> None:
    """Every value is finite, or NaN with the feature named in the clip's reason."""
    assert features.dtype == np.float64 and features.shape == (len(reasons), len(AC_FEATURES))
    for row, reason in zip(features, reasons):
        for name, value in zip(AC_FEATURES, row):
            assert np.isfinite(value) or f"{name}:" in reason, (name, value, reason)


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    tone = _tone()
    tremolo = tone * np.sin(2 * np.pi * 6 * np.arange(tone.size) / SR)
    return np.stack([tone, _noise(), _tone(f0=110.0, n_partials=40, decay=0.3), tremolo])


def test_shape_names_and_reasons(clips):
    features, reasons = audio_commons_features(clips, SR)
    assert AC_FEATURES == ("ac_hardness", "ac_depth", "ac_brightness", "ac_roughness", "ac_warmth", "ac_sharpness",
                           "ac_boominess")
    assert features.shape == (len(clips), 7) and features.dtype == np.float64
    assert np.isfinite(features).all() and reasons == [""] * len(clips)
    single, single_reasons = audio_commons_features(clips[0], SR)  # one clip given as (n_samples,)
    assert single.shape == (1, 7) and single_reasons == [""]


def test_deterministic(clips):
    first, _ = audio_commons_features(clips, SR)
    second, _ = audio_commons_features(clips, SR)
    np.testing.assert_array_equal(first, second)


def test_batch_equals_one_by_one(clips):
    batch, _ = audio_commons_features(clips, SR)
    one_by_one = np.concatenate([audio_commons_features(clip[None], SR)[0] for clip in clips])
    np.testing.assert_allclose(batch, one_by_one, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("gain", [1e-4, 3.0])
def test_louder_or_quieter_copies_give_the_same_features(clips, gain):
    """The original normalises loudness first. Quiet clips (every block below its -70 LUFS gate,
    where it fails) get the loudness they would have if amplified. In between, the absolute gate
    drops a quiet tail in one copy and not the other, in the original too."""
    reference, _ = audio_commons_features(clips, SR)
    scaled, reasons = audio_commons_features(clips * gain, SR)
    assert reasons == [""] * len(clips)
    np.testing.assert_allclose(scaled, reference, rtol=1e-3, atol=1e-3)


def test_edge_cases_get_an_answer():
    n = 4 * SR
    t = np.arange(n) / SR
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    cases = {
        "silence": np.zeros(n),
        "near silence (-90 dBFS)": sine * 10 ** (-90 / 20) / 0.5,
        "clipping": np.clip(20 * sine, -1, 1),
        "dc": np.full(n, 0.3),
        "dc and sine": 0.3 + 0.1 * sine,
        "white noise": _noise(4.0, seed=1),
        "click": np.eye(1, n, 1000)[0],
        "nan": np.where(t < 1, sine, np.nan),
    }
    features, reasons = audio_commons_features(np.stack(list(cases.values())), SR)
    _assert_answered(features, reasons)
    by_name = dict(zip(cases, zip(features, reasons)))
    assert np.isnan(by_name["silence"][0]).all() and "silent clip" in by_name["silence"][1]
    assert np.isnan(by_name["nan"][0]).all() and "non-finite" in by_name["nan"][1]
    for name in ("near silence (-90 dBFS)", "clipping", "white noise", "click"):
        assert np.isfinite(by_name[name][0]).all(), (name, by_name[name])
    np.testing.assert_allclose(by_name["near silence (-90 dBFS)"][0], audio_commons_features(sine[None], SR)[0][0],
                               rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("n_samples", [1, 2, 160, 1600, 6400])
def test_short_clips_get_an_answer(n_samples):
    clip = _tone(0.5)[:n_samples] + 0.01
    features, reasons = audio_commons_features(clip[None], SR)
    _assert_answered(features, reasons)


@pytest.mark.parametrize("sample_rate", [8000, 22050, 44100, 48000])
def test_other_sample_rates(sample_rate):
    t = np.arange(int(2 * sample_rate)) / sample_rate
    clip = 0.3 * sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 8)) * np.exp(-t)
    features, reasons = audio_commons_features(clip[None], sample_rate)
    _assert_answered(features, reasons)
    assert np.isfinite(features).all()


def test_a_sine_is_darker_and_smoother_than_noise():
    features, _ = audio_commons_features(np.stack([0.5 * np.sin(2 * np.pi * 440 * np.arange(2 * SR) / SR),
                                                   _noise(2.0)]), SR)
    sine, noise = features
    column = {name: i for i, name in enumerate(AC_FEATURES)}
    for name in ("ac_brightness", "ac_sharpness", "ac_roughness", "ac_hardness"):
        assert sine[column[name]] < noise[column[name]], name
    assert sine[column["ac_roughness"]] == 0.0  # a single spectral peak has no partner to beat with


def test_brightness_grows_with_upper_partials():
    darker, brighter = audio_commons_features(np.stack([_tone(n_partials=3), _tone(n_partials=30)]), SR)[0]
    column = AC_FEATURES.index("ac_brightness")
    assert darker[column] < brighter[column]


# ----------------------------------------------------------------------------------------------
# The optional backend running the original package.


def test_backend_explains_how_to_install_when_missing(monkeypatch):
    from spinvae.features import timbral_models_backend as backend

    backend._patched_timbral_models.cache_clear()
    monkeypatch.setitem(sys.modules, "timbral_models", None)  # import fails
    with pytest.raises(ImportError, match="pip install --no-deps timbral_models==0.4.0"):
        backend.audio_commons_features_original(np.zeros((1, SR)), SR)
    backend._patched_timbral_models.cache_clear()


@needs_original
def test_backend_returns_the_same_columns(clips):
    from spinvae.features.timbral_models_backend import audio_commons_features_original

    short = clips[:2, : int(1.5 * SR)]
    native, _ = audio_commons_features(short, SR)
    original, reasons = audio_commons_features_original(short, SR)
    assert original.shape == native.shape and reasons == ["", ""]
    # the same feature in the same column: close values (a swapped column would be tens of units off)
    np.testing.assert_allclose(native, original, atol=8.0)


@needs_original
def test_backend_names_the_failures():
    from spinvae.features.timbral_models_backend import audio_commons_features_original

    features, reasons = audio_commons_features_original(np.zeros((1, SR)), SR)
    assert np.isnan(features).all()
    assert all(f"{name}: timbral_models failed" in reasons[0] for name in AC_FEATURES)


# ----------------------------------------------------------------------------------------------
# Building blocks that re-implement the original's sequential algorithms exactly.


@pytest.fixture(scope="module")
def original_util():
    if not HAVE_TIMBRAL_MODELS:
        pytest.skip("timbral_models not installed")
    from spinvae.features.timbral_models_backend import _patched_timbral_models

    return _patched_timbral_models().timbral_util


def test_zwicker_loudness_equals_the_original_for_the_same_band_levels(original_util, monkeypatch):
    from spinvae.features.audio_commons import _zwicker_loudness

    rng = np.random.default_rng(0)
    levels = rng.uniform(-20, 95, size=(40, 28))
    levels[::7, rng.integers(0, 28, 6)] = -np.inf  # silent bands
    levels[5] = -np.inf
    specific, total = _zwicker_loudness(levels)
    for frame, expected_specific, expected_total in zip(levels, specific, total):
        monkeypatch.setattr(original_util, "filter_third_octaves_downsample", lambda *args, p=frame: (0.0, p, None))
        original_total, original_specific = original_util.specific_loudness(np.zeros(4096), 100.0, 44100, 0)
        np.testing.assert_allclose(expected_specific, original_specific, atol=1e-9)
        assert expected_total == pytest.approx(original_total, abs=1e-9)


def test_contrast_peaks_equal_the_original_detect_peaks(original_util):
    from spinvae.features.audio_commons import _contrast_peaks

    rng = np.random.default_rng(1)
    freqs = np.linspace(0, 8000, 300)
    rows = np.abs(np.convolve(rng.standard_normal(300 * 30), np.hanning(7), "same")).reshape(30, 300)
    rows /= rows.max(axis=1, keepdims=True)
    for contrast in (0.01, 0.2):
        row, index, _, level, freq = _contrast_peaks(rows, contrast, rows * 3.0, freqs)
        for r in range(len(rows)):
            original_index, original_level, original_freq = original_util.detect_peaks(
                rows[r], cthr=contrast, unprocessed_array=rows[r] * 3.0, freq=freqs)
            order = np.argsort(np.asarray(original_index))
            mine = row == r
            np.testing.assert_array_equal(index[mine], np.asarray(original_index)[order])
            np.testing.assert_allclose(level[mine], np.asarray(original_level)[order], rtol=1e-12)
            np.testing.assert_allclose(freq[mine], np.asarray(original_freq)[order], rtol=1e-12)


def test_onset_walk_back_equals_the_original_return_loop(original_util):
    from spinvae.features.audio_commons import _setup, _walk_back

    rng = np.random.default_rng(2)
    n = 4 * SR
    bumps = np.abs(np.convolve(rng.standard_normal(n), np.hanning(801), "same"))
    envelope = np.stack([bumps, np.maximum.accumulate(bumps[::-1])[::-1] * np.linspace(0, 1, n)])
    envelope = np.round(envelope, 2)  # plateaus, as a held envelope has
    clip = np.repeat([0, 1], 30)
    start = rng.integers(300, n - 1, clip.size)
    threshold = 0.1 * (envelope.max(axis=1) - envelope.min(axis=1))[clip]
    setup = _setup(SR, n)
    for min_index in (186, 1486):
        walked = _walk_back(envelope, clip, start, threshold, setup, min_index)
        original = [original_util.return_loop(int(s), envelope[c], int(0.02 * SR), t, int(0.3 * SR), nperseg=min_index)
                    for c, s, t in zip(clip, start, threshold)]
        np.testing.assert_array_equal(walked, original)


# ----------------------------------------------------------------------------------------------
# Agreement with the original on real DX7 renders.


def _original_features(clip: np.ndarray) -> np.ndarray:
    from spinvae.features.timbral_models_backend import audio_commons_features_original

    return audio_commons_features_original(clip[None], SR)[0][0]


def _real_renders() -> np.ndarray:
    """(N_CLIPS, 64000) renders of real voices, one per bank file picked with a fixed seed: the
    first N_CLIPS above -60 dBFS RMS."""
    from spinvae.synth.dx7.sysex import SysexError, read_sysex
    from spinvae.synth.dx7.render import render_presets

    files = sorted((SHARED / "data" / "dx7").rglob("*.syx"))
    rng = np.random.default_rng(2024)
    voices = []
    for index in rng.permutation(len(files)):
        try:
            params = read_sysex(files[index]).params
        except SysexError:
            continue
        voices.append(params[rng.integers(len(params))])
        if len(voices) == N_VOICES:
            break
    audio = render_presets(np.stack(voices), workers=2)[:, 0].astype(np.float64)
    rms_db = 10 * np.log10(np.mean(audio**2, axis=1) + 1e-30)
    return audio[rms_db > -60][:N_CLIPS]


def _oracle_values(audio: np.ndarray, cache_dir: Path) -> np.ndarray:
    """The original's features of each clip, from the cache when these exact clips were seen before."""
    key = hashlib.sha256(audio.tobytes() + ORACLE_TOOL.read_bytes()).hexdigest()[:24]
    path = cache_dir / f"oracle-{key}.npy"
    if path.exists():
        return np.load(path)
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        values = np.stack(list(pool.map(_original_features, audio, chunksize=4)))
    np.save(path, values)
    return values


@pytest.mark.skipif(not SHARED.is_dir() or not ORACLE_TOOL.exists(),
                    reason=f"shared data and oracle not found at {SHARED}: put the project's shared/ folder beside "
                           "the checkout")
@needs_original
def test_agreement_with_the_original_on_real_dx7_renders(pytestconfig):
    from spinvae.features.timbral_models_backend import audio_commons_features_original

    sys.path.insert(0, str(ORACLE_TOOL.parent))
    try:
        from timbral_models_reference import FEATURES, reference_features
    finally:
        sys.path.remove(str(ORACLE_TOOL.parent))
    audio = _real_renders()
    assert len(audio) == N_CLIPS

    # The backend (used for speed: it shares the original's repeated steps) equals the shared oracle.
    start = time.perf_counter()
    reference = reference_features(audio[0], SR)
    oracle_seconds = time.perf_counter() - start
    start = time.perf_counter()
    backend = audio_commons_features_original(audio[:1], SR)[0][0]
    backend_seconds = time.perf_counter() - start
    np.testing.assert_array_equal(backend, [reference[name] for name in FEATURES])

    original = _oracle_values(audio, pytestconfig.cache.mkdir("audio_commons_oracle"))
    audio_commons_features(audio[:32], SR)  # set-up for this rate and length, once
    start = time.perf_counter()
    native = np.concatenate([audio_commons_features(audio[i : i + 32], SR)[0] for i in range(0, len(audio), 32)])
    native_ms = (time.perf_counter() - start) / len(audio) * 1e3

    lines = [f"Audio Commons native vs original on {len(audio)} real DX7 renders (16 kHz, 4 s):",
             f"{'feature':14s} {'n':>4s} {'spearman':>9s} {'median |diff|':>14s}"]
    correlations = {}
    for j, name in enumerate(AC_FEATURES):
        finite = np.isfinite(original[:, j])
        assert np.isfinite(native[finite, j]).all(), name
        correlations[name] = spearmanr(native[finite, j], original[finite, j])[0]
        lines.append(f"{name:14s} {finite.sum():4d} {correlations[name]:9.4f} "
                     f"{np.median(np.abs(native[finite, j] - original[finite, j])):14.3f}")
    lines.append(f"speed: native {native_ms:.1f} ms/clip (batches of 32, this process); original "
                 f"{oracle_seconds:.2f} s/clip as published, {backend_seconds:.2f} s/clip with shared steps; "
                 f"ratio {oracle_seconds * 1e3 / native_ms:.0f}x")
    print("\n" + "\n".join(lines))
    assert all(value >= MIN_SPEARMAN for value in correlations.values()), correlations
