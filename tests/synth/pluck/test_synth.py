"""PluckSynth behind the Synth interface: levels, determinism, note-off, delays, sample rates, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch

from spinvae.synth.base import RenderSettings, Synth
from spinvae.synth.pluck import PluckSynth
from spinvae.synth.pluck.schema import DEFAULT_STEPS, PARAMETER_INDEX, PLUCK_SCHEMA

SHORT = RenderSettings(sample_rate=16000, notes=((57, 100),), note_duration=0.75, duration=1.0)


@pytest.fixture(scope="module")
def synth() -> PluckSynth:
    return PluckSynth()


def preset(**steps: int) -> np.ndarray:
    """The default preset (1, 29) with some parameters at grid ``steps``."""
    out = DEFAULT_STEPS.copy()
    for name, step in steps.items():
        out[PARAMETER_INDEX[name]] = step
    return out[None]


def test_is_a_complete_synth_plugin(synth):
    assert isinstance(synth, Synth)
    assert (synth.name, synth.schema, synth.bank_size, synth.n_variations, synth.differentiable) == (
        "pluck", PLUCK_SCHEMA, None, 3, True)
    assert synth.preset_suffixes[0] == ".json"
    assert synth.version().startswith("pluck-1") and torch.__version__.split("+")[0] in synth.version()
    from spinvae.synth.registry import get_synth

    assert isinstance(get_synth("pluck"), PluckSynth)


def test_zero_level_is_silence(synth):
    audio = synth.render(preset(level=0, noise_level=127, body_gain1=127), SHORT)
    assert np.abs(audio).max() < 1e-7


def test_renders_are_identical_across_runs_and_instances(synth):
    params = synth.generate(4, seed=3).params
    settings = RenderSettings(sample_rate=16000, notes=((48, 60), (72, 127)), note_duration=0.5, duration=0.7)
    first = synth.render(params, settings, workers=2)
    assert np.array_equal(first, synth.render(params, settings, workers=2))
    assert np.array_equal(first, PluckSynth().render(params, settings, workers=2))
    # other thread counts and batches change the order of float32 sums only
    np.testing.assert_allclose(synth.render(params, settings, workers=1), first, rtol=0, atol=1e-6)
    np.testing.assert_allclose(synth.render(params[2:3], settings), first[2:3], rtol=0, atol=1e-6)


def test_level_and_velocity_scale_the_output_exactly(synth):
    base = synth.render(preset(velocity_brightness=0, velocity_level=127, level=127), SHORT)[0, 0]
    half_level = synth.render(preset(velocity_brightness=0, velocity_level=127, level=64), SHORT)[0, 0]
    np.testing.assert_allclose(half_level, base * 64 / 127, rtol=1e-4, atol=1e-6)
    soft = RenderSettings(sample_rate=16000, notes=((57, 50),), note_duration=0.75, duration=1.0)
    loud = RenderSettings(sample_rate=16000, notes=((57, 127),), note_duration=0.75, duration=1.0)
    params = preset(velocity_brightness=0, velocity_level=127)  # 40 dB from velocity 127 to 0
    ratio = np.abs(synth.render(params, soft)).max() / np.abs(synth.render(params, loud)).max()
    assert 20 * math.log10(ratio) == pytest.approx(-40 * (1 - 50 / 127), abs=0.01)


def _centroid(x: np.ndarray, sample_rate: float) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    return float((spectrum * np.fft.rfftfreq(len(x), 1 / sample_rate)).sum() / spectrum.sum())


def test_velocity_brightness_makes_soft_notes_duller(synth):
    params = preset(velocity_brightness=127, brightness=110)
    soft = RenderSettings(sample_rate=16000, notes=((57, 30),), note_duration=0.75, duration=1.0)
    loud_centroid = _centroid(synth.render(params, SHORT)[0, 0], 16000)
    assert _centroid(synth.render(params, soft)[0, 0], 16000) < 0.7 * loud_centroid


def test_note_off_fades_the_tail_by_the_release(synth):
    release_step = 40
    params = preset(release=release_step, decay=127)
    held = synth.render(params, RenderSettings(sample_rate=16000, notes=((57, 100),), note_duration=2.0,
                                               duration=2.0))
    released = synth.render(params, RenderSettings(sample_rate=16000, notes=((57, 100),), note_duration=1.0,
                                                   duration=2.0))
    held, released = held[0, 0], released[0, 0]
    off = 16000
    np.testing.assert_array_equal(released[:off], held[:off])
    release = 0.01 * 300 ** (release_step / 127)  # its log scale, 0.01..3 s
    for u in (0.05, 0.1, 0.3):
        i = off + int(u * 16000)
        i += int(np.argmax(np.abs(held[i:i + 40])))  # a sample where the held note is loud enough to divide by
        u = (i - off) / 16000
        expected = math.exp(-math.log(1000) * u / release) * 0.5 * (1 + math.cos(math.pi * u))
        assert released[i] / held[i] == pytest.approx(expected, rel=1e-3)
    assert np.abs(held[-400:]).max() > 0.01  # the string still rings without a note-off...
    assert np.abs(released[-400:]).max() < 1e-6 * np.abs(released).max()  # ...and is silent with one


def test_delays_shift_the_note_on_keeping_the_length(synth):
    params = synth.generate(3, seed=0).params
    plain = synth.render(params, SHORT)
    delayed = synth.render(params, SHORT, delays=np.array([0, 100, 5000]))
    assert delayed.shape == plain.shape
    for row, delay in enumerate((0, 100, 5000)):
        assert not delayed[row, 0, :delay].any()
        np.testing.assert_array_equal(delayed[row, 0, delay:], plain[row, 0, : SHORT.n_samples - delay])


def test_renders_any_note_velocity_and_sample_rate_within_unit_range(synth):
    params = synth.generate(21, seed=5).params  # 3 of each family
    for sample_rate in (16000, 22050, 44100, 48000):
        settings = RenderSettings(sample_rate=sample_rate, notes=((0, 1), (36, 127), (60, 127), (96, 127), (127, 64)),
                                  note_duration=0.2, duration=0.3)
        audio = synth.render(params, settings, workers=2)
        assert audio.shape == (21, 5, settings.n_samples) and audio.dtype == np.float32
        assert np.isfinite(audio).all()
        assert np.abs(audio).max() < 1.0
        assert (np.abs(audio[:, 1:4]).max(axis=-1) > 1e-3).all()  # every playable note sounds


def test_16_and_48_khz_renders_agree_below_6_khz(synth):
    params = np.concatenate([DEFAULT_STEPS[None], synth.generate(7, seed=0).params[[0, 1, 5]]])  # nylon, steel, pizz.
    renders = {sr: synth.render(params, RenderSettings(sample_rate=sr, notes=((48, 100),), note_duration=1.5,
                                                       duration=2.0))[:, 0] for sr in (16000, 48000)}
    below = int(6000 * 2.0)  # bins of 0.5 Hz
    low = np.fft.rfft(renders[16000])[:, :below]
    high = np.fft.rfft(renders[48000])[:, :below] / 3
    errors = np.linalg.norm(low - high, axis=1) / np.linalg.norm(low, axis=1)
    assert (errors < 1e-3).all(), errors
    resampled = scipy.signal.resample_poly(renders[48000][0], 1, 3)
    assert np.linalg.norm(resampled - renders[16000][0]) < 3e-3 * np.linalg.norm(renders[16000][0])


def test_render_controls_matches_render_on_the_grid(synth):
    params = synth.generate(3, seed=1).params
    settings = RenderSettings(sample_rate=16000, notes=((52, 90),), note_duration=0.3, duration=0.4)
    controls = torch.from_numpy(PLUCK_SCHEMA.to_tokens(PLUCK_SCHEMA.learnable(params))[1])
    audio = synth.render_controls(controls, [52] * 3, torch.tensor([90.0] * 3), settings)
    assert audio.dtype == torch.float32 and audio.shape == (3, settings.n_samples)
    np.testing.assert_allclose(audio.numpy(), synth.render(params, settings)[:, 0], rtol=0, atol=1e-6)


def test_gradcheck_and_every_control_moves_the_sound(synth):
    settings = RenderSettings(sample_rate=4000, notes=((64, 100),), note_duration=0.02, duration=0.03)
    generator = torch.Generator().manual_seed(0)
    controls = (0.2 + 0.6 * torch.rand(2, PLUCK_SCHEMA.n_learnable, generator=generator, dtype=torch.float64))
    controls.requires_grad_()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: a second thread only adds its wake-up time
    try:
        assert torch.autograd.gradcheck(lambda c: synth.render_controls(c, [64.0, 59.5], [100.0, 40.0], settings),
                                        (controls,))
        audio = synth.render_controls(controls, [64.0, 59.5], [100.0, 40.0], settings)
        audio.pow(2).sum().backward()
    finally:
        torch.set_num_threads(threads)
    assert audio.dtype == torch.float64
    moved = (controls.grad.abs() > 1e-9).all(dim=0)
    assert moved.all(), [name for name, m in zip(PLUCK_SCHEMA.learnable_names, moved) if not m]


def test_variations(synth):
    values = PLUCK_SCHEMA.learnable(synth.generate(50, seed=2).params)
    values[0] = 0
    values[1] = 127
    assert np.array_equal(synth.vary(values, 0, np.random.default_rng(0)), values)
    varied = synth.vary(values, 1, np.random.default_rng(0))
    assert np.array_equal(varied, synth.vary(values, 1, np.random.default_rng(0)))
    assert varied.dtype == np.uint8 and varied.max() <= 127
    change = varied.astype(int) - values.astype(int)
    inside = (values > 10) & (values < 117)
    assert 1.5 < change[inside].std() < 2.5 and np.abs(change).max() <= 12
    with pytest.raises(ValueError):
        synth.vary(values, 3, np.random.default_rng(0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_renders_on_the_device_of_its_controls(synth):
    settings = RenderSettings(sample_rate=48000, notes=((40, 100),), note_duration=0.5, duration=0.6)
    controls = torch.from_numpy(PLUCK_SCHEMA.to_tokens(PLUCK_SCHEMA.learnable(synth.generate(7, seed=0).params))[1])
    on_cpu = synth.render_controls(controls, [40] * 7, [100] * 7, settings)
    on_device = synth.render_controls(controls.cuda().requires_grad_(), [40] * 7, [100] * 7, settings)
    assert on_device.device.type == "cuda"
    torch.testing.assert_close(on_device.detach().cpu(), on_cpu, rtol=0, atol=1e-5)
    on_device.pow(2).sum().backward()
