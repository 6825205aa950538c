"""The procedural pluck generator: seeding, ranges, and families that sound like their priors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spinvae.synth.base import RenderSettings
from spinvae.synth.pluck import PluckSynth
from spinvae.synth.pluck.generator import COMMON, FAMILIES, FAMILY_PRIORS, generate_pluck_presets
from spinvae.synth.pluck.schema import PLUCK_PARAMETERS, PLUCK_SCHEMA, steps_to_unit, to_physical


def test_seeded_and_a_larger_n_extends_a_smaller_one():
    params, names = generate_pluck_presets(40, seed=7)
    again, again_names = generate_pluck_presets(40, seed=7)
    assert np.array_equal(params, again) and names == again_names
    assert not np.array_equal(params, generate_pluck_presets(40, seed=8)[0])
    assert np.array_equal(generate_pluck_presets(15, seed=7)[0], params[:15])
    assert params.shape == (40, 29) and params.dtype == np.uint8


def test_families_cycle_and_unknown_ones_are_named():
    _, names = generate_pluck_presets(14, seed=0)
    assert names == list(FAMILIES) * 2
    assert FAMILIES == ("nylon", "steel", "harp", "harpsichord", "koto", "pizzicato", "banjo")
    _, names = generate_pluck_presets(3, seed=0, families=["harp"])
    assert names == ["harp"] * 3
    with pytest.raises(ValueError, match="ukulele"):
        generate_pluck_presets(3, families=["harp", "ukulele"])


def test_values_lie_within_each_familys_ranges():
    params, names = generate_pluck_presets(700, seed=1)
    PLUCK_SCHEMA.check_in_range(params)
    physical = to_physical(torch.from_numpy(steps_to_unit(params))).numpy()
    for family in FAMILIES:
        rows = physical[[name == family for name in names]]
        ranges = {**COMMON, **FAMILY_PRIORS[family].ranges}
        for i, p in enumerate(PLUCK_PARAMETERS):
            low, high = ranges[p.name]
            # snapping to the grid may cross a bound by half a step
            half_step = (p.high / p.low) ** (0.5 / 127) if p.scale == "log" else (p.high - p.low) / 254
            if p.scale == "log":
                assert low / half_step <= rows[:, i].min() and rows[:, i].max() <= high * half_step, (family, p.name)
            else:
                assert low - half_step <= rows[:, i].min() and rows[:, i].max() <= high + half_step, (family, p.name)
            if high > low:  # drawn, not fixed
                assert rows[:, i].std() > 0, (family, p.name)


def _centroids(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    spectrum = np.abs(np.fft.rfft(audio, axis=-1))
    freqs = np.fft.rfftfreq(audio.shape[-1], 1 / sample_rate)
    return (spectrum * freqs).sum(-1) / spectrum.sum(-1)


def test_families_sound_different():
    synth = PluckSynth()
    settings = RenderSettings(sample_rate=16000, notes=((52, 100),), note_duration=0.8, duration=1.0)
    audio = {f: synth.render(generate_pluck_presets(6, seed=2, families=[f])[0], settings)[:, 0]
             for f in ("nylon", "harpsichord", "harp", "pizzicato")}
    # a quill next to the nut against a thumb on nylon
    assert _centroids(audio["harpsichord"], 16000).min() > 1.5 * _centroids(audio["nylon"], 16000).max()
    # a pizzicato dies within a fraction of a second, a harp string rings on
    def late_to_early(x: np.ndarray) -> np.ndarray:
        return np.sqrt((x[:, 6400:12800] ** 2).mean(-1) / (x[:, :1600] ** 2).mean(-1))
    assert late_to_early(audio["pizzicato"]).max() < 0.1 < late_to_early(audio["harp"]).min()


def test_synth_generate_names_the_families():
    bank = PluckSynth().generate(9, seed=3)
    assert bank.names == tuple(FAMILIES) + tuple(FAMILIES[:2])
    assert np.array_equal(bank.params, generate_pluck_presets(9, seed=3)[0])
