"""The Timbre Toolbox features: known answers on synthetic sounds, librosa cross-checks, edge
cases, batching, and sanity on real DX7 renders."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import scipy.signal

from spinvae.features.timbre_toolbox import STFT_HOP_S, STFT_WINDOW_S, TT_FEATURES, timbre_toolbox_features
from spinvae.features.tt_spectral import parseval_weights, spectral_descriptors

SR = 16000
DESCRIPTORS = (
    "FrameErg", "RMSEnv", "SpecCent", "SpecSpread", "SpecSkew", "SpecKurt", "SpecSlope", "SpecDecr", "SpecRollOff",
    "SpecVar", "SpecFlat", "SpecCrest", "F0", "HarmErg", "NoiseErg", "HarmDev", "InHarm", "OddEvenRatio",
)  # fmt: skip
SCALARS = ("Att", "Dec", "Rel", "LAT", "AttSlope", "DecSlope", "TempCent", "EffDur", "FreqMod", "AmpMod")
FRAME_S = STFT_HOP_S  # "a frame": the tolerance unit of the envelope descriptors


def features(*clips: np.ndarray) -> tuple[list[dict[str, float]], list[str]]:
    values, reasons = timbre_toolbox_features(np.stack(clips).astype(np.float32), SR)
    return [dict(zip(TT_FEATURES, row)) for row in values], reasons


def times(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def harmonic_tone(amplitudes, f0: float = 220.0, seconds: float = 2.0, stretch: float = 0.0) -> np.ndarray:
    """Sum of partials h * f0 * sqrt(1 + stretch * h^2) (stiff-string stretching) of the given amplitudes."""
    t = times(seconds)
    return sum(a * np.sin(2 * np.pi * h * f0 * np.sqrt(1 + stretch * h * h) * t) for h, a in enumerate(amplitudes, 1))


def assert_nan_explained(values: dict[str, float], reason: str) -> None:
    missing = [name for name, v in values.items() if not np.isfinite(v)]
    if reason.startswith("all tt features: "):
        assert len(missing) == len(TT_FEATURES)
    else:
        for name in missing:
            assert f"{name}: " in reason, f"{name} is NaN without a reason in {reason!r}"
    assert bool(missing) == bool(reason)  # a reason exactly when something is missing
    assert not (np.isfinite(values["tt_F0_med"]) and values["tt_F0_med"] <= 0)


# ---------------------------------------------------------------------------------------- names


def test_names_count_and_order():
    assert len(TT_FEATURES) == 46 == len(set(TT_FEATURES))
    expected = [f"tt_{d}_{s}" for d in DESCRIPTORS for s in ("med", "IQR")] + [f"tt_{s}" for s in SCALARS]
    assert list(TT_FEATURES) == expected
    assert TT_FEATURES[:2] == ("tt_FrameErg_med", "tt_FrameErg_IQR") and TT_FEATURES[-1] == "tt_AmpMod"


def test_output_shape_dtype_and_one_dimensional_input():
    values, reasons = timbre_toolbox_features(0.5 * np.sin(2 * np.pi * 440 * times(0.5)), SR)
    assert values.shape == (1, 46) and values.dtype == np.float64 and reasons == [""]


# ------------------------------------------------------------------------------------ pure tones


@pytest.mark.parametrize("f0", [55.0, 110.0, 440.0, 1234.5, 1990.0])
def test_pure_tone(f0):
    amplitude = 0.5
    (v,), (reason,) = features(amplitude * np.sin(2 * np.pi * f0 * times(2.0)))
    assert reason == ""
    assert v["tt_F0_med"] == pytest.approx(f0, rel=0.005)
    assert v["tt_F0_IQR"] < 0.005 * f0
    assert v["tt_SpecCent_med"] == pytest.approx(f0, rel=0.05)
    assert v["tt_SpecSpread_med"] < 60.0  # about the Hamming main lobe: 23 ms gives +-86 Hz
    assert v["tt_InHarm_med"] < 1e-3
    # a sinusoid of amplitude A has a mean square of A^2 / 2, all of it harmonic
    assert v["tt_FrameErg_med"] == pytest.approx(amplitude**2 / 2, rel=0.01)
    assert v["tt_HarmErg_med"] == pytest.approx(amplitude**2 / 2, rel=0.01)
    assert v["tt_NoiseErg_med"] < 1e-3 * amplitude**2
    assert v["tt_RMSEnv_med"] == pytest.approx(amplitude, rel=0.01)
    # steady; below about 100 Hz the 23-ms window holds a period or two, so its spectrum wobbles
    assert v["tt_SpecVar_med"] < (0.02 if f0 < 100 else 1e-3)
    assert v["tt_OddEvenRatio_med"] > 1000  # no even partial at all: the ratio's cap, 1e4


@pytest.mark.parametrize("sample_rate", [22050, 44100])
def test_other_sample_rates(sample_rate):
    t = np.arange(sample_rate) / sample_rate
    values, reasons = timbre_toolbox_features(0.5 * np.sin(2 * np.pi * 440 * t)[None], sample_rate)
    v = dict(zip(TT_FEATURES, values[0]))
    assert reasons == [""]
    assert v["tt_F0_med"] == pytest.approx(440, rel=0.005) and v["tt_SpecCent_med"] == pytest.approx(440, rel=0.05)
    assert v["tt_EffDur"] == pytest.approx(1.0, abs=2 * FRAME_S)


# --------------------------------------------------------------------------------- harmonic tones


def test_odd_harmonics_only_give_a_large_odd_even_ratio():
    (v,), _ = features(harmonic_tone([0.5 / h if h % 2 else 0.0 for h in range(1, 21)]))
    assert v["tt_OddEvenRatio_med"] > 1000
    assert v["tt_F0_med"] == pytest.approx(220.0, rel=0.005)


def test_equal_harmonics_give_an_odd_even_ratio_of_one_and_no_deviation():
    (v,), _ = features(harmonic_tone([0.05] * 20))
    assert v["tt_OddEvenRatio_med"] == pytest.approx(1.0, rel=0.02)
    assert v["tt_HarmDev_med"] < 1e-3 * 0.05  # a flat envelope: no deviation from it


def test_one_over_k_harmonics_against_the_definitions():
    amps = 0.5 / np.arange(1, 21)
    (v,), (reason,) = features(harmonic_tone(amps))
    assert reason == ""
    # HarmDev: mean |a_h - SE_h|, SE the mean of a_h and its neighbours (a_1 itself; (a_19 + a_20) / 2)
    envelope = np.concatenate([[amps[0]], (amps[:-2] + amps[1:-1] + amps[2:]) / 3, [(amps[-2] + amps[-1]) / 2]])
    assert v["tt_HarmDev_med"] == pytest.approx(np.mean(np.abs(amps - envelope)), rel=0.02)
    odd_even = np.sum(amps[0::2] ** 2) / np.sum(amps[1::2] ** 2)  # 3.1197
    assert v["tt_OddEvenRatio_med"] == pytest.approx(odd_even, rel=0.02)
    assert v["tt_HarmErg_med"] == pytest.approx(np.sum(amps**2) / 2, rel=0.01)
    assert v["tt_F0_med"] == pytest.approx(220.0, rel=0.005)
    assert v["tt_InHarm_med"] < 1e-3


def test_stretched_partials_raise_inharmonicity():
    amps = 0.5 / np.arange(1, 21)
    stretches = [0.0, 1e-5, 2e-5, 4e-5, 8e-5]
    values, _ = features(*[harmonic_tone(amps, stretch=b) for b in stretches])
    inharm = [v["tt_InHarm_med"] for v in values]
    assert inharm[0] < 1e-4
    assert all(b > 1.5 * a for a, b in zip(inharm[1:], inharm[2:]))  # about proportional to the stretch
    assert inharm[1] > 5e-4
    assert all(v["tt_F0_med"] == pytest.approx(220.0, rel=0.005) for v in values)


def test_frequency_modulation():
    t = times(3.0)
    fm_synth = 0.5 * np.sin(2 * np.pi * 220 * t + 2.0 * np.sin(2 * np.pi * 220 * t))  # 1:1 FM: harmonic
    vibrato = 0.5 * np.sin(2 * np.pi * 440 * t + (0.01 * 440 / 5) * np.sin(2 * np.pi * 5 * t))  # +-1% at 5 Hz
    steady = 0.5 * np.sin(2 * np.pi * 440 * t)
    (fm, vib, still), reasons = features(fm_synth, vibrato, steady)
    assert reasons == ["", "", ""]
    assert fm["tt_F0_med"] == pytest.approx(220.0, rel=0.005) and fm["tt_InHarm_med"] < 1e-3
    assert vib["tt_F0_med"] == pytest.approx(440.0, rel=0.005)
    # the F0 swings +-4.4 Hz; a sinusoid's IQR is 1.41 x its amplitude, the 100-ms frames smooth it a little
    assert 3.0 < vib["tt_F0_IQR"] < 6.3 and still["tt_F0_IQR"] < 0.1


# ----------------------------------------------------------------------------------------- noise


def test_white_noise():
    noise = 0.1 * np.random.default_rng(0).standard_normal(2 * SR)
    (v,), (reason,) = features(noise)
    # power of a noise bin is exponential: geometric / arithmetic mean = exp(-Euler's gamma) = 0.5615
    assert v["tt_SpecFlat_med"] == pytest.approx(np.exp(-np.euler_gamma), abs=0.03)
    assert v["tt_SpecCent_med"] == pytest.approx(SR / 4, rel=0.05)
    assert v["tt_SpecRollOff_med"] == pytest.approx(0.95 * SR / 2, rel=0.03)
    assert v["tt_FrameErg_med"] == pytest.approx(0.01, rel=0.1)
    # not tonal: no F0 (NaN with a reason, never a spurious 0), the energy is noise
    for name in ("F0", "InHarm", "OddEvenRatio", "HarmDev"):
        assert np.isnan(v[f"tt_{name}_med"]) and f"tt_{name}_med: not tonal" in reason
    assert v["tt_NoiseErg_med"] > 2 * v["tt_HarmErg_med"]
    assert_nan_explained(v, reason)


# -------------------------------------------------------------------------------------- envelope


def test_ramp_attack_and_exponential_decay():
    onset, attack, tau = 0.1, 0.2, 0.5
    t = times(3.0)
    ramp = 0.8 * np.clip((t - onset) / attack, 0, 1)
    amplitude = np.where(t < onset + attack, ramp, 0.8 * np.exp(-(t - onset - attack) / tau))
    (v,), (reason,) = features(amplitude * np.sin(2 * np.pi * 440 * t))
    assert reason == ""
    tolerance = 2 * FRAME_S
    # effort method on a linear ramp: equal efforts, the attack runs from the 10% threshold moved
    # a quarter effort back (to the local minimum) to the peak
    start = onset + 0.1 * attack - 0.25 * 0.1 * attack
    assert v["tt_Att"] == pytest.approx(start, abs=tolerance)
    duration = onset + attack - start
    assert v["tt_LAT"] == pytest.approx(np.log10(duration), abs=np.log10(1 + tolerance / duration))
    assert v["tt_AttSlope"] == pytest.approx(1 / attack, rel=0.05)  # normalised amplitude per second
    assert v["tt_Dec"] == pytest.approx(onset + attack, abs=tolerance)
    release = onset + attack + tau * np.log(1 / 0.4)  # last time above 40%
    assert v["tt_Rel"] == pytest.approx(release, abs=tolerance)
    assert v["tt_DecSlope"] == pytest.approx(-1 / tau, rel=0.03)
    assert v["tt_EffDur"] == pytest.approx(release - (onset + 0.4 * attack), abs=tolerance)
    # temporal centroid of the envelope above 15% of its maximum, integrated by hand
    fine = np.linspace(0, 3, 300_001)
    envelope = np.interp(fine, t, amplitude)
    above = envelope > 0.15 * 0.8
    centroid = np.sum(fine[above] * envelope[above]) / np.sum(envelope[above])
    assert v["tt_TempCent"] == pytest.approx(centroid, abs=tolerance)


@pytest.mark.parametrize("rate, depth", [(5.0, 0.3), (2.5, 0.1)])
def test_amplitude_modulation(rate, depth):
    t = times(3.0)
    fades = np.clip(np.minimum(t, 3.0 - t) / 0.02, 0, 1)
    (v,), (reason,) = features(fades * 0.5 * (1 + depth * np.sin(2 * np.pi * rate * t)) * np.sin(2 * np.pi * 440 * t))
    assert reason == ""
    assert v["tt_FreqMod"] == pytest.approx(rate, abs=0.1)
    assert v["tt_AmpMod"] == pytest.approx(depth, rel=0.1)  # modulation amplitude / mean envelope = depth


def test_steady_tone_has_no_modulation_and_a_short_decay_no_frequency():
    t = times(2.0)
    steady = 0.5 * np.sin(2 * np.pi * 440 * t)
    percussive = np.exp(-t / 0.05) * np.sin(2 * np.pi * 440 * t)  # falls below 40% within 50 ms
    (still, hit), (still_reason, hit_reason) = features(steady, percussive)
    assert still["tt_AmpMod"] < 1e-3 and still_reason == ""
    assert still["tt_EffDur"] == pytest.approx(2.0, abs=2 * FRAME_S)
    assert hit["tt_AmpMod"] == 0.0 and np.isnan(hit["tt_FreqMod"]) and "tt_FreqMod: sustain" in hit_reason
    assert hit["tt_DecSlope"] < 0


# --------------------------------------------------------------------------- librosa cross-checks


def _librosa_spectra(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Power spectrogram (B, K, T) by librosa with the module's window, hop and FFT size, the
    frequencies, the window and the FFT size."""
    librosa = pytest.importorskip("librosa")
    window = scipy.signal.windows.hamming(int(round(STFT_WINDOW_S * SR)), sym=True)
    hop, n_fft = int(round(STFT_HOP_S * SR)), int(scipy.fft.next_fast_len(len(window), real=True))
    spectrum = librosa.stft(
        audio, n_fft=n_fft, hop_length=hop, win_length=len(window), window=window, center=True, pad_mode="constant"
    )
    return np.abs(spectrum) ** 2, librosa.fft_frequencies(sr=SR, n_fft=n_fft), window, n_fft


def test_per_frame_formulas_match_librosa_on_the_same_spectra():
    librosa = pytest.importorskip("librosa")
    t = times(1.0)
    tone = harmonic_tone(0.5 / np.arange(1, 21), seconds=1.0)
    noise = 0.1 * np.random.default_rng(1).standard_normal(SR)
    audio = np.stack([tone, noise, np.exp(-t / 0.2) * np.sin(2 * np.pi * 330 * t)]).astype(np.float32)
    power, freqs, window, n_fft = _librosa_spectra(audio)
    mine = spectral_descriptors(np.ascontiguousarray(np.swapaxes(power, 1, 2)), freqs, parseval_weights(window, n_fft))
    amin = 1e-10 * power.max(axis=(1, 2), keepdims=True)
    theirs = {
        "SpecCent": librosa.feature.spectral_centroid(S=power, freq=freqs)[:, 0],
        "SpecSpread": librosa.feature.spectral_bandwidth(S=power, freq=freqs, p=2)[:, 0],
        "SpecRollOff": librosa.feature.spectral_rolloff(S=power, freq=freqs, roll_percent=0.95)[:, 0],
        "SpecFlat": np.stack(
            [librosa.feature.spectral_flatness(S=p, power=1.0, amin=a)[0] for p, a in zip(power, amin.ravel())]
        ),
    }
    for name, expected in theirs.items():
        np.testing.assert_allclose(mine[name], expected, rtol=2e-4, atol=1e-9, err_msg=name)


def _librosa_medians(audio: np.ndarray) -> dict[str, np.ndarray]:
    """Medians over the frames the module keeps (60 dB below the loudest, mean square >= 1e-10)
    of librosa's descriptors."""
    librosa = pytest.importorskip("librosa")
    power, freqs, window, n_fft = _librosa_spectra(audio)
    scaled = power * (2 / window.sum()) ** 2  # the module's scaling, as its floors are absolute
    mean_square = np.einsum("bkt,k->bt", scaled, parseval_weights(window, n_fft))
    kept = (mean_square >= 1e-6 * mean_square.max(axis=1, keepdims=True)) & (mean_square >= 1e-10)
    per_frame = {
        "SpecCent": librosa.feature.spectral_centroid(S=power, freq=freqs)[:, 0],
        "SpecSpread": librosa.feature.spectral_bandwidth(S=power, freq=freqs, p=2)[:, 0],
        "SpecRollOff": librosa.feature.spectral_rolloff(S=power, freq=freqs, roll_percent=0.95)[:, 0],
        "SpecFlat": np.stack(
            [librosa.feature.spectral_flatness(S=p, power=1.0, amin=1e-10 * p.max())[0] for p in power]
        ),
    }
    return {name: np.array([np.median(v[k]) for v, k in zip(values, kept)]) for name, values in per_frame.items()}


# ---------------------------------------------------------------------------------- edge cases


EDGE_CASES = {
    "silence": np.zeros(SR),
    "near_silence": 1e-7 * np.random.default_rng(2).standard_normal(SR),
    "quiet_80dB_below": 1e-4 * np.sin(2 * np.pi * 440 * times(1.0)),
    "clipped": np.clip(3 * np.sin(2 * np.pi * 220 * times(1.0)), -1, 1),
    "dc": np.full(SR, 0.3),
    "dc_plus_tone": 0.5 + 0.1 * np.sin(2 * np.pi * 440 * times(1.0)),
    "white_noise": np.random.default_rng(3).uniform(-1, 1, SR),
    "impulse": np.eye(1, SR, 100)[0],
    "subsonic_5hz": 0.5 * np.sin(2 * np.pi * 5 * times(1.0)),
    "nan_samples": np.where(times(1.0) < 0.5, 0.1, np.nan),
    "huge": 1e6 * np.sin(2 * np.pi * 440 * times(1.0)),
}
SHORT_CASES = {
    "10ms": 0.5 * np.sin(2 * np.pi * 440 * times(0.01)),
    "1_sample": np.array([0.7]),
    "2_samples": np.array([0.7, -0.2]),
}


@pytest.mark.parametrize("name", list(EDGE_CASES) + list(SHORT_CASES))
def test_edge_cases_answer_finite_or_nan_with_reason(name):
    clip = {**EDGE_CASES, **SHORT_CASES}[name]
    with np.errstate(divide="raise", invalid="raise", over="raise"):  # no hidden floating-point accident
        (v,), (reason,) = features(clip)
    assert_nan_explained(v, reason)
    if name in ("silence", "near_silence"):
        assert reason.startswith("all tt features: silent")
    if name == "nan_samples":
        assert reason.startswith("all tt features: non-finite")
    if name in ("quiet_80dB_below", "huge"):  # level does not matter above -100 dBFS
        assert reason == "" and v["tt_F0_med"] == pytest.approx(440, rel=0.005)
    if name in ("dc", "subsonic_5hz", "white_noise", "impulse", "10ms"):
        assert np.isnan(v["tt_F0_med"])
    if name == "dc_plus_tone":
        assert v["tt_F0_med"] == pytest.approx(440, rel=0.005)


def test_empty_inputs():
    values, reasons = timbre_toolbox_features(np.zeros((2, 0), np.float32), SR)
    assert values.shape == (2, 46) and np.isnan(values).all()
    assert all(r.startswith("all tt features: empty") for r in reasons)
    values, reasons = timbre_toolbox_features(np.zeros((0, 100), np.float32), SR)
    assert values.shape == (0, 46) and reasons == []


# -------------------------------------------------------------------------- batching, determinism


def test_batch_equals_one_by_one_and_is_deterministic():
    rng = np.random.default_rng(4)
    t = times(1.0)
    clips = [0.5 * np.sin(2 * np.pi * 440 * t), 0.1 * rng.standard_normal(SR), np.zeros(SR),
             np.exp(-t / 0.1) * harmonic_tone(0.5 / np.arange(1, 21), f0=130.0, seconds=1.0),
             np.clip(3 * np.sin(2 * np.pi * 220 * t), -1, 1)]  # fmt: skip
    clips = [clips[i % len(clips)] * (1 + 0.01 * i) for i in range(37)]  # more than one chunk of 32
    batch = np.stack(clips).astype(np.float32)
    values, reasons = timbre_toolbox_features(batch, SR)
    again, again_reasons = timbre_toolbox_features(batch, SR)
    np.testing.assert_array_equal(values, again)
    assert reasons == again_reasons
    for i in (0, 1, 2, 3, 4, 33, 36):
        single, single_reason = timbre_toolbox_features(batch[i : i + 1], SR)
        np.testing.assert_allclose(single[0], values[i], rtol=1e-6, atol=1e-12, equal_nan=True)
        assert single_reason[0] == reasons[i]


# ------------------------------------------------------------------------------- real DX7 renders


@pytest.fixture(scope="module")
def dx7_renders(real_bank_files) -> np.ndarray:
    """(48, 64000) renders: 16 voices of each of 3 banks spread over the collection (skipped,
    saying why, without ../shared)."""
    from spinvae.synth.dx7.sysex import read_sysex
    from spinvae.synth.dx7.render import render_presets

    banks = [real_bank_files[i] for i in np.linspace(0, len(real_bank_files) - 1, 3).astype(int)]
    voices = np.concatenate([read_sysex(bank).params[:16] for bank in banks])
    return render_presets(voices, workers=2)[:, 0]


def test_dx7_renders_are_finite_or_explained_and_have_no_zero_f0(dx7_renders):
    values, reasons = timbre_toolbox_features(dx7_renders, SR)
    f0 = values[:, TT_FEATURES.index("tt_F0_med")]
    silent = np.array([r.startswith("all tt features: silent") for r in reasons])
    for row, reason in zip(values, reasons):
        assert_nan_explained(dict(zip(TT_FEATURES, row)), reason)
    assert np.all(f0[np.isfinite(f0)] >= 45.0)  # never a zero (or absurd) F0
    assert np.isfinite(f0[~silent]).mean() > 0.7  # most DX7 presets are tonal
    spectral = [name for name in TT_FEATURES if name.startswith(("tt_Spec", "tt_FrameErg", "tt_RMSEnv"))]
    assert np.isfinite(values[~silent][:, [TT_FEATURES.index(n) for n in spectral]]).all()
    energies = values[~silent][:, [TT_FEATURES.index(f"tt_{n}_med") for n in ("FrameErg", "HarmErg", "NoiseErg")]]
    assert np.all(energies >= 0) and np.all(energies[:, 0] > 0)


def test_dx7_renders_match_librosa_medians(dx7_renders):
    values, reasons = timbre_toolbox_features(dx7_renders, SR)
    audible = np.array([not r.startswith("all tt features") for r in reasons])
    theirs = _librosa_medians(dx7_renders[audible])
    for name, expected in theirs.items():
        mine = values[audible, TT_FEATURES.index(f"tt_{name}_med")]
        np.testing.assert_allclose(mine, expected, rtol=1e-3, err_msg=name)
