"""Sound matching by analysis-by-synthesis: presets of a differentiable synth whose renders match recordings.

For each recording (a single note, its MIDI pitch known or measured):

1. a first guess: the nearest of ``candidates`` presets of the synth's procedural generator (by
   :func:`spinvae.matching.distance.spectral_distance` on the first ``guess_seconds``), or a guess
   given by the caller (a model's encoder);
2. Adam on the preset's continuous controls through the differentiable render
   (:meth:`spinvae.synth.base.Synth.render_controls`), minimising the spectral distance on the first
   ``fit_seconds``; the controls are ``sigmoid(theta)``, so they stay inside the synth's ranges
   whatever the step. Coarse to fine: the first ``coarse_share`` of the steps compare the sounds at
   ``coarse_rate`` (the recording resampled once, the synth rendering at that rate: the distance's
   STFTs, which cost most, are 3x cheaper at 16 kHz than at 48 kHz), the rest at the recording's rate;
3. the result snapped to the schema's grid (what a preset file stores) and measured again on the whole
   recording.

Recordings of the same length and rate are fitted together (independent losses summed: Adam's
per-parameter steps keep them independent). Deterministic for a given seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from spinvae.matching.distance import loudness_distance, spectral_distance
from spinvae.synth.base import RenderSettings, Synth


@dataclass(frozen=True)
class MatchConfig:
    """How to fit.

    Args:
        steps: Adam steps (0: the first guess alone).
        lr: Adam's learning rate on the controls' logits.
        candidates: procedural presets the first guess is chosen from.
        guess_seconds: length of the renders compared to choose the first guess.
        fit_seconds: length of the recording fitted (the attack and body of a note hold most of what
            tells presets apart; the whole recording is measured at the end).
        velocity: the MIDI velocity every match plays at (a recording's own is unknown: the level and
            brightness parameters take up what it would change).
        seed: seeds the candidates.
        coarse_rate: the sample rate of the first steps and of the first guess's search (Hz; at most
            the recording's).
        coarse_share: the share of the steps at ``coarse_rate``.
        loudness_weight: weight of the loudness-envelope term
            (:func:`spinvae.matching.distance.loudness_distance`) added to the spectral distance the
            fit minimises (0: none). The distances reported stay the spectral ones.
    """

    steps: int = 150
    lr: float = 0.05
    candidates: int = 256
    guess_seconds: float = 1.0
    fit_seconds: float = 2.0
    velocity: int = 100
    seed: int = 0
    coarse_rate: int = 16000
    coarse_share: float = 2 / 3
    loudness_weight: float = 0.0


@dataclass
class MatchResult:
    """The matches of n recordings.

    ``unit`` (n, n_learnable) float64: the fitted controls in [0, 1]; ``params`` (n, n_params) uint8:
    them on the schema's grid, as presets; ``guess_distance``, ``fit_distance``, ``distance`` (n,): the
    spectral distance of the first guess, of the fitted controls (both on the first ``fit_seconds``) and
    of the preset on the grid over the whole recording; ``seconds``: the time spent.
    """

    unit: np.ndarray
    params: np.ndarray
    guess_distance: np.ndarray
    fit_distance: np.ndarray
    distance: np.ndarray
    seconds: float


def _settings(sample_rate: int, n_samples: int) -> RenderSettings:
    """A render as long as ``n_samples``, the note held throughout (a recording's note-off is unknown)."""
    seconds = n_samples / sample_rate
    return RenderSettings(sample_rate=sample_rate, note_duration=seconds, duration=seconds)


def render(synth: Synth, unit: torch.Tensor, notes: torch.Tensor, velocity: int, sample_rate: int,
           n_samples: int) -> torch.Tensor:
    """Audio (n, n_samples) of controls ``unit`` (n, L) playing MIDI ``notes`` (n,) (fractional too)."""
    audio = synth.render_controls(unit, notes, torch.full_like(notes, float(velocity)), _settings(sample_rate, n_samples))
    return audio[:, :n_samples]


def nearest_candidates(synth: Synth, targets: torch.Tensor, notes: torch.Tensor, sample_rate: int,
                       config: MatchConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The first guess: for each target (n, N), the unit controls (n, L) of the nearest of
    ``config.candidates`` generated presets played at its note, and that distance (n,)."""
    schema = synth.schema
    candidates = schema.learnable(synth.generate(config.candidates, seed=config.seed).params)
    unit = torch.from_numpy(candidates / (schema.cardinalities - 1)).to(targets.dtype)
    n = min(targets.shape[1], int(round(config.guess_seconds * sample_rate)))
    best = torch.empty(len(targets), dtype=torch.long)
    distance = torch.empty(len(targets), dtype=targets.dtype)
    with torch.no_grad():
        for i, (target, note) in enumerate(zip(targets, notes)):
            d = torch.cat([spectral_distance(render(synth, chunk, note.expand(len(chunk)), config.velocity,
                                                    sample_rate, n), target[:n].expand(len(chunk), -1), sample_rate)
                           for chunk in unit.split(64)])
            best[i], distance[i] = int(d.argmin()), d.min()
    return unit[best], distance


def resample(audio: torch.Tensor, sample_rate: int, target_rate: int) -> torch.Tensor:
    """Clips (n, N) at ``sample_rate`` resampled to ``target_rate`` (soxr through librosa; a copy when equal)."""
    if target_rate == sample_rate:
        return audio.clone()
    import librosa

    return torch.from_numpy(librosa.resample(audio.numpy(), orig_sr=sample_rate, target_sr=target_rate, axis=-1))


def fit_controls(synth: Synth, targets: torch.Tensor, notes: torch.Tensor, sample_rate: int, guess: torch.Tensor,
                 config: MatchConfig, step_done=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam from ``guess`` (n, L) on the first ``fit_seconds`` of ``targets`` (n, N) at ``sample_rate``;
    returns the fitted unit controls (n, L) and their distances (n,) at ``sample_rate``. The best controls
    of the fine steps are kept (those of the coarse steps are measured at another rate); ``step_done()`` is
    called after each step (a progress bar)."""
    coarse_rate = min(config.coarse_rate, sample_rate)
    coarse_steps = int(round(config.steps * config.coarse_share)) if coarse_rate < sample_rate else 0
    stages = [(coarse_rate, coarse_steps), (sample_rate, config.steps - coarse_steps)]
    theta = torch.logit(guess.clamp(0.005, 0.995)).detach().requires_grad_()
    optimiser = torch.optim.Adam([theta], lr=config.lr)
    n = min(targets.shape[1], int(round(config.fit_seconds * sample_rate)))
    target = targets[:, :n]
    with torch.no_grad():
        best = guess.clone()
        best_distance = spectral_distance(render(synth, guess, notes, config.velocity, sample_rate, n), target, sample_rate)
    if config.steps == 0:  # the first guess itself (theta's clamp below would pull its extremes in)
        return guess.clone(), best_distance
    for rate, steps in stages:
        stage_target = resample(target, sample_rate, rate)
        for _ in range(steps):
            unit = torch.sigmoid(theta)
            clip = render(synth, unit, notes, config.velocity, rate, stage_target.shape[1])
            distance = spectral_distance(clip, stage_target, rate)
            if rate == sample_rate:  # the distance of the controls before this step
                better = distance.detach() < best_distance
                best = torch.where(better[:, None], unit.detach(), best)
                best_distance = torch.where(better, distance.detach(), best_distance)
            objective = distance
            if config.loudness_weight:
                objective = distance + config.loudness_weight * loudness_distance(clip, stage_target, rate)
            optimiser.zero_grad()
            objective.sum().backward()
            optimiser.step()
            if step_done is not None:
                step_done()
    with torch.no_grad():  # the controls after the last step
        unit = torch.sigmoid(theta)
        distance = spectral_distance(render(synth, unit, notes, config.velocity, sample_rate, n), target, sample_rate)
        better = distance < best_distance
        return torch.where(better[:, None], unit, best), torch.where(better, distance, best_distance)


def match_audio(synth: Synth, audio: list[np.ndarray], sample_rates: list[int], notes: list[float],
                config: MatchConfig = MatchConfig(), guess: np.ndarray | None = None,
                progress: bool = False) -> MatchResult:
    """Match recordings ``audio`` (each (N_i,) float, at ``sample_rates[i]``, playing MIDI ``notes[i]``).

    ``guess`` (n, L) in [0, 1] replaces the nearest-candidate first guess (a model's prediction);
    ``progress`` shows a bar of the fitting steps.
    """
    if not synth.differentiable:
        raise ValueError(f"the {synth.name} synth is not differentiable: sound matching needs one that is")
    started = time.perf_counter()
    n, schema = len(audio), synth.schema
    unit = np.zeros((n, schema.n_learnable))
    guess_distance, fit_distance, distance = (np.zeros(n) for _ in range(3))
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (clip, rate) in enumerate(zip(audio, sample_rates)):
        groups.setdefault((int(rate), len(clip)), []).append(i)
    generator_state = torch.random.get_rng_state()
    from tqdm import tqdm

    bar = tqdm(total=config.steps * len(groups), desc=f"matching {n} recording(s)", unit="step", disable=not progress)
    try:
        for (rate, length), members in groups.items():
            targets = torch.from_numpy(np.stack([np.asarray(audio[i], dtype=np.float32) for i in members]))
            pitches = torch.tensor([float(notes[i]) for i in members])
            if guess is None:  # searched at the coarse rate; measured at the recording's
                coarse = min(config.coarse_rate, rate)
                first, _ = nearest_candidates(synth, resample(targets, rate, coarse), pitches, coarse, config)
            else:
                first = torch.from_numpy(np.asarray(guess, dtype=np.float32)[members])
            with torch.no_grad():
                n = min(length, int(round(config.fit_seconds * rate)))
                first_distance = spectral_distance(render(synth, first, pitches, config.velocity, rate, n),
                                                   targets[:, :n], rate)
            fitted, fitted_distance = fit_controls(synth, targets, pitches, rate, first, config, bar.update)
            on_grid = torch.from_numpy(np.rint(fitted.double().numpy() * (schema.cardinalities - 1))
                                       / (schema.cardinalities - 1)).float()
            with torch.no_grad():
                whole = spectral_distance(render(synth, on_grid, pitches, config.velocity, rate, length), targets, rate)
            unit[members] = fitted.double().numpy()
            guess_distance[members], fit_distance[members] = first_distance.numpy(), fitted_distance.numpy()
            distance[members] = whole.numpy()
    finally:
        bar.close()
        torch.random.set_rng_state(generator_state)
    values = np.rint(unit * (schema.cardinalities - 1)).astype(np.uint8)
    return MatchResult(unit, schema.from_learnable(values), guess_distance, fit_distance, distance,
                       time.perf_counter() - started)
