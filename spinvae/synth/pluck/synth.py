"""The pluck synth: controls from unit values (:func:`get_controls`), audio from controls
(:func:`get_signal`), and :class:`PluckSynth`, the plug-in behind :class:`spinvae.synth.base.Synth`."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from spinvae.synth.base import PresetBank, RenderSettings, Synth
from spinvae.synth.pluck import dsp
from spinvae.synth.pluck.schema import MAX_STEP, PARAMETER_NAMES, PLUCK_SCHEMA, steps_to_unit, to_physical

ENGINE_VERSION = "pluck-1"
#: partials per polarisation; fewer sound where the Nyquist taper reaches them first (at 48 kHz, any
#: note above MIDI 34 when the string is harmonic)
MAX_PARTIALS = 96
#: the top partials fade out over this many (a quarter of the count at most)
TOP_TAPER = 8
#: presets rendered together by :meth:`PluckSynth.render` (bounds memory: about 13 MB per preset at
#: 48 kHz and 4 s)
RENDER_CHUNK = 16
#: standard deviation, in grid steps, of the train-time variations 1 and 2 of a preset
VARIATION_STEPS = 2.0


@dataclass
class PluckControls:
    """Physical controls, each a tensor (n,) in the unit of :data:`spinvae.synth.pluck.schema.PLUCK_PARAMETERS`
    (gain, dB, Hz, s, ms, ...); the field order is the schema's."""

    level: Tensor
    velocity_level: Tensor
    velocity_brightness: Tensor
    inharmonicity: Tensor
    brightness: Tensor
    rolloff: Tensor
    tilt: Tensor
    even_gain: Tensor
    pluck_position: Tensor
    comb_depth: Tensor
    decay: Tensor
    decay_keytrack: Tensor
    decay_tilt: Tensor
    damping: Tensor
    beat: Tensor
    aftersound: Tensor
    aftersound_decay: Tensor
    attack: Tensor
    noise_level: Tensor
    noise_length: Tensor
    noise_freq: Tensor
    noise_q: Tensor
    body_freq1: Tensor
    body_q1: Tensor
    body_gain1: Tensor
    body_freq2: Tensor
    body_q2: Tensor
    body_gain2: Tensor
    release: Tensor

    @classmethod
    def from_physical(cls, physical: Tensor) -> PluckControls:
        """Controls from physical values (n, P) in schema order."""
        return cls(*physical.unbind(-1))

    def stack(self) -> Tensor:
        """Physical values (n, P) in schema order."""
        return torch.stack([getattr(self, name) for name in PARAMETER_NAMES], dim=-1)


if tuple(f.name for f in fields(PluckControls)) != PARAMETER_NAMES:
    raise ImportError("PluckControls' fields must follow PLUCK_PARAMETERS")


def get_controls(unit: Tensor) -> PluckControls:
    """Physical controls of unit values ``unit`` (n, P) (``step / 127``, between steps too), clamped to
    [0, 1] so an optimiser's overshoot stays in the synth's ranges."""
    return PluckControls.from_physical(to_physical(unit.clamp(0.0, 1.0)))


def get_signal(controls: PluckControls, notes: Tensor, velocities: Tensor, settings: RenderSettings,
               n_partials: int = MAX_PARTIALS) -> Tensor:
    """Audio (n, N) of one note per row: MIDI ``notes`` (n,) (fractional ones too) at ``velocities``
    (n,) 1..127, held for ``settings.note_duration`` within ``settings.duration`` s at
    ``settings.sample_rate`` Hz (``settings.notes`` is not used). Dtype and device of the controls.

    The string is ``n_partials`` exponentially decaying partials per polarisation whose amplitudes sum
    to ``level`` times the velocity gain; the pluck's noise is added, the onset shaped, the body
    resonances applied and the note-off faded.
    """
    ref = controls.level
    dtype, device = ref.dtype, ref.device
    notes = torch.as_tensor(notes, device=device).to(dtype).reshape(-1)
    velocities = torch.as_tensor(velocities, device=device).to(dtype).reshape(-1)
    sample_rate, n_samples = settings.sample_rate, settings.n_samples

    f0 = dsp.midi_to_hz(notes)
    freqs = dsp.partial_frequencies(f0, controls.inharmonicity, n_partials)
    shift = controls.velocity_brightness * (velocities / 127.0 - 1.0)  # octaves, <= 0
    amplitudes = dsp.spectral_envelope(freqs, controls.brightness * torch.exp2(shift), controls.rolloff,
                                       controls.tilt, controls.even_gain, controls.pluck_position,
                                       controls.comb_depth)
    amplitudes = amplitudes * dsp.partial_taper(n_partials, min(TOP_TAPER, n_partials // 4), dtype, device)
    # normalised before the Nyquist taper, so that a render's level does not depend on the sample rate
    gain = controls.level * dsp.velocity_gain(velocities, controls.velocity_level)
    amplitudes = amplitudes * (gain / amplitudes.sum(-1))[:, None]
    t60 = dsp.partial_t60(freqs, f0, dsp.fundamental_t60(controls.decay, controls.decay_keytrack, f0),
                          controls.decay_tilt, controls.damping)

    # the second polarisation: slightly sharp, ringing longer (beats and a two-stage decay)
    freqs2 = freqs * torch.exp2(controls.beat / 1200.0)[:, None]
    t60_2 = t60 * controls.aftersound_decay[:, None]
    share = controls.aftersound[:, None]
    count = dsp.partial_count(float(f0.min()), sample_rate, n_partials)
    string = dsp.decaying_sinusoids(
        torch.cat([freqs[:, :count], freqs2[:, :count]], dim=1),
        torch.cat([t60[:, :count], t60_2[:, :count]], dim=1),
        torch.cat([(amplitudes * (1.0 - share) * dsp.nyquist_mask(freqs, sample_rate))[:, :count],
                   (amplitudes * share * dsp.nyquist_mask(freqs2, sample_rate))[:, :count]], dim=1),
        sample_rate, n_samples)

    noise_gain = gain * torch.pow(10.0, controls.noise_level / 20.0)
    noise_centre = controls.noise_freq * torch.exp2(shift / 2.0)  # a softer pluck is a little duller
    noise = dsp.noise_burst(noise_centre, controls.noise_q, controls.noise_length / 1000.0, sample_rate, n_samples)
    signal = (string + noise_gain[:, None] * noise) * dsp.attack_envelope(controls.attack / 1000.0, sample_rate,
                                                                        n_samples)
    signal = dsp.apply_body(signal, sample_rate, [(controls.body_freq1, controls.body_q1, controls.body_gain1),
                                                  (controls.body_freq2, controls.body_q2, controls.body_gain2)])
    return dsp.apply_release(signal, controls.release, sample_rate, settings.note_duration, settings.duration)


class PluckSynth(Synth):
    """A differentiable plucked string (docs/synths.md, "The pluck synth"): 29 continuous parameters on
    128-step grids, JSON or YAML preset files, a generator of seven families."""

    name = "pluck"
    schema = PLUCK_SCHEMA
    preset_suffixes = (".json", ".yaml", ".yml")
    bank_size = None
    n_variations = 3
    reference_categorical = "normalised"
    differentiable = True

    def version(self) -> str:
        return f"{ENGINE_VERSION} (torch {torch.__version__.split('+')[0]})"

    def render(self, params: np.ndarray, settings: RenderSettings, workers: int = 1,
               delays: np.ndarray | None = None) -> np.ndarray:
        """Audio (n, n_notes, N) float32 on the CPU, ``RENDER_CHUNK`` presets at a time, on ``workers``
        torch threads (the previous count restored after)."""
        params = PLUCK_SCHEMA.as_presets(np.asarray(params).reshape(-1, PLUCK_SCHEMA.n_params))
        n, n_samples = len(params), settings.n_samples
        out = np.zeros((n, len(settings.notes), n_samples), dtype=np.float32)
        if delays is not None:
            delays = np.asarray(delays, dtype=np.int64).reshape(n)
            if ((delays < 0) | (delays > n_samples)).any():
                raise ValueError(f"delays must be within 0..{n_samples}")
        unit = torch.from_numpy(steps_to_unit(params).astype(np.float32))
        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, int(workers)))
        try:
            with torch.no_grad():
                for start in range(0, n, RENDER_CHUNK):
                    stop = min(n, start + RENDER_CHUNK)
                    controls = get_controls(unit[start:stop])
                    for j, (note, velocity) in enumerate(settings.notes):
                        rows = stop - start
                        audio = get_signal(controls, torch.full((rows,), float(note)),
                                           torch.full((rows,), float(velocity)), settings).numpy()
                        if delays is None:
                            out[start:stop, j] = audio
                        else:
                            for i, d in enumerate(delays[start:stop]):
                                out[start + i, j, d:] = audio[i, : n_samples - d]
        finally:
            torch.set_num_threads(threads)
        return out

    def render_controls(self, controls: Tensor, notes, velocities, settings: RenderSettings) -> Tensor:
        """Audio (n, N) from unit controls (n, 29) in [0, 1], one (note, velocity) per row (sequences
        or tensors of n, or one number for all rows), differentiable w.r.t. ``controls``, on their
        device and in their dtype."""
        controls = torch.as_tensor(controls)
        n = controls.shape[0]
        notes = torch.as_tensor(notes, dtype=controls.dtype, device=controls.device).expand(n)
        velocities = torch.as_tensor(velocities, dtype=controls.dtype, device=controls.device).expand(n)
        return get_signal(get_controls(controls), notes, velocities, settings)

    def read_bank(self, path: str | Path) -> PresetBank:
        from spinvae.synth.pluck.files import read_pluck_bank

        return read_pluck_bank(path)

    def write_bank(self, path: str | Path, params: np.ndarray, names: list[str] | None = None) -> list[Path]:
        from spinvae.synth.pluck.files import write_pluck_bank

        return write_pluck_bank(path, params, names)

    def generate(self, n: int, seed: int = 0) -> PresetBank:
        from spinvae.synth.pluck.generator import generate_pluck_presets

        params, families = generate_pluck_presets(n, seed=seed)
        return PresetBank(params, tuple(families))

    def preset_names(self, params: np.ndarray) -> list[str]:
        """Empty names: a pluck preset's vector holds only its 29 parameters (names live in its file)."""
        return [""] * len(np.asarray(params).reshape(-1, PLUCK_SCHEMA.n_params))

    def vary(self, values: np.ndarray, variation: int, rng: np.random.Generator) -> np.ndarray:
        """Variation 0: the values unchanged; 1 and 2: each value moved by Gaussian noise of
        ``VARIATION_STEPS`` grid steps, rounded and clipped to 0..127."""
        values = super().vary(values, variation, rng)
        if variation == 0:
            return values
        noisy = values.astype(np.float64) + rng.normal(0.0, VARIATION_STEPS, size=values.shape)
        return np.clip(np.rint(noisy), 0, MAX_STEP).astype(np.uint8)

