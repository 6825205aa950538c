"""Latent refinement: test-time optimisation of a preset's latent code so the decoder gives it back.

A VAE's encoder mean mu(x) is a good code but rarely an exact one: the decoded preset differs from
x in a few parameters, so a morph through the latent space neither starts nor ends on the presets
it was asked for. Refinement (the reference system's experimental "z refinement", made batched,
deterministic and bounded) searches, from mu, the code z that maximises

    log p(x | z) + w * log q(z | x)

the decoder's likelihood of the preset (summed over its tokens, nats) plus ``w`` times the
encoder's posterior density, which keeps z where the encoder puts codes of x (a code far off the
posterior decodes x but sits where the morph paths of the latent space do not go). z is
optimised as ``mu + sigma * e`` with Adam on ``e`` (posterior standard deviations, so one learning
rate suits every coordinate), and the posterior term is ``-w |e|^2 / 2``.

Each preset stops as soon as a code it visits decodes to it exactly (every parameter's most
probable value is the preset's, told from the margins of :meth:`SpinVAE.value_margins`). The code
returned is the visited one with the fewest wrong parameters, the lowest objective among those, so
an exact code once visited is the one returned and no preset comes back with more wrong parameters
than its encoder mean had (the likelihood's optimum often has more: it spreads probability over
neighbouring steps rather than making the preset's the most probable). The ``margin`` objective aims
at exactness rather than likelihood (see :class:`RefineConfig`). The presets of a batch do not
interact (the objective is a sum over presets and Adam works coordinate by coordinate), and nothing
is random, so a refinement is deterministic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from spinvae.model.vae import SpinVAE


OBJECTIVES = ("likelihood", "margin")


@dataclass(frozen=True)
class RefineConfig:
    """How hard to refine.

    Args:
        steps: Adam steps at most per preset (0: no refinement, the encoder mean).
        lr: Adam learning rate, in posterior standard deviations.
        posterior_weight: weight w of the posterior term. At 1 (the posterior as it is) the refined codes
            of the cpu models barely moved from the encoder means (docs/evaluation.md, "Exact ends").
        batch: presets optimised together (memory: the decoder's activations of ``batch`` presets).
        objective: what the code is pushed to: ``likelihood``, the decoder's log-likelihood of the preset
            (every parameter, right or wrong, pulled toward more probability), or ``margin``, exactness
            itself: the sum over parameters of ``max(0, margin - m)``, where m is how much more probable
            the preset's value is than the best other value (:meth:`SpinVAE.value_margins`), zero once
            every parameter is right by ``margin`` nats, so the wrong parameters carry all the gradient.
        margin: the margin (nats) of the ``margin`` objective.
    """

    steps: int = 200
    lr: float = 0.3
    posterior_weight: float = 0.1
    batch: int = 512
    objective: str = "likelihood"
    margin: float = 1.0

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"refinement steps must be >= 0, got {self.steps}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"refinement objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")


@dataclass
class Refinement:
    """Refined codes of n presets and how exact their decodings are before and after.

    ``z`` (n, dim_z): refined codes; ``*_before`` / ``*_after`` (n,): the encoder mean's and the
    refined code's decodings: ``exact`` (every parameter right), ``wrong`` (parameters wrong),
    ``objective`` (the minimised negative log-density, nats); ``steps`` (n,): Adam steps taken;
    ``seconds``: wall time of the whole refinement.
    """

    z: torch.Tensor
    exact_before: np.ndarray
    exact_after: np.ndarray
    wrong_before: np.ndarray
    wrong_after: np.ndarray
    objective_before: np.ndarray
    objective_after: np.ndarray
    steps: np.ndarray
    seconds: float

    @staticmethod
    def concatenate(parts: list[Refinement]) -> Refinement:
        arrays = {name: np.concatenate([getattr(p, name) for p in parts])
                  for name in ("exact_before", "exact_after", "wrong_before", "wrong_after", "objective_before",
                               "objective_after", "steps")}
        return Refinement(torch.cat([p.z for p in parts]), seconds=sum(p.seconds for p in parts), **arrays)


def refine_latents(vae: SpinVAE, values: torch.Tensor, classes: torch.Tensor, numbers: torch.Tensor,
                   mu: torch.Tensor, variance: torch.Tensor, config: RefineConfig) -> Refinement:
    """Refine the codes of presets: ``values`` (n, T) int64 learnable values, their tokens ``classes`` and
    ``numbers`` (n, T), the encoder's posterior ``mu`` and ``variance`` (n, dim_z). See the module docstring."""
    if vae.preset_decoder is None:
        raise ValueError("refinement needs a model with a preset decoder")
    parts = [_refine_batch(vae, *(t[i : i + config.batch] for t in (values, classes, numbers, mu, variance)), config)
             for i in range(0, len(values), config.batch)]
    return Refinement.concatenate(parts)


def _refine_batch(vae: SpinVAE, values: torch.Tensor, classes: torch.Tensor, numbers: torch.Tensor,
                  mu: torch.Tensor, variance: torch.Tensor, config: RefineConfig) -> Refinement:
    t0 = time.perf_counter()
    was_training = vae.training
    vae.eval()
    mu, sigma = mu.detach().float(), variance.detach().float().sqrt()
    n = len(mu)
    e = torch.zeros_like(mu, requires_grad=True)
    optimizer = torch.optim.Adam([e], lr=config.lr)
    best_e = torch.zeros_like(mu)
    best_objective = torch.full((n,), float("inf"), device=mu.device)
    best_wrong = torch.full((n,), values.shape[1] + 1, dtype=torch.long, device=mu.device)
    done = torch.zeros(n, dtype=torch.bool, device=mu.device)
    steps = torch.zeros(n, dtype=torch.long, device=mu.device)
    active = torch.arange(n, device=mu.device)
    for step in range(config.steps + 1):
        e_active = e[active]
        out = vae.preset_decoder(mu[active] + sigma[active] * e_active)
        if config.objective == "margin":
            margins = vae.value_margins(out, values[active])
            fit = torch.relu(config.margin - margins).sum(1)
        else:
            with torch.no_grad():  # only told apart, never differentiated: no graph to build
                margins = vae.value_margins(out, values[active])
            ce, nll = vae.token_nll(out, classes[active], numbers[active])
            fit = ce.sum(1) + nll.sum(1)
        objective = fit + 0.5 * config.posterior_weight * e_active.square().sum(1)
        with torch.no_grad():
            wrong = (margins <= 0).sum(1)
            exact = wrong == 0
            if step == 0:
                wrong_before, objective_before = _wrong(vae, out, values), objective.clone()
            # fewer wrong parameters first, then the lower objective: an exact code is kept whatever its
            # objective (and the preset is done)
            fewer, same = wrong < best_wrong[active], wrong == best_wrong[active]
            better = fewer | (same & (objective < best_objective[active]))
            best_wrong[active[better]] = wrong[better]
            best_objective[active[better]] = objective[better]
            best_e[active[better]] = e_active.detach()[better]
            steps[active] = step
            done[active[exact]] = True
            active = active[~exact]
        if step == config.steps or len(active) == 0:
            break
        # the gradient of the codes alone (autograd.grad skips the decoder weights' gradients, half of
        # the backward pass); codes that are done get none: Adam's momentum still moves them, but
        # their best code is kept and they are never evaluated again
        (e.grad,) = torch.autograd.grad(objective[~exact].sum(), e)
        optimizer.step()
    with torch.no_grad():
        z = mu + sigma * best_e
        wrong_after = _wrong(vae, vae.preset_decoder(z), values)
    vae.train(was_training)
    return Refinement(
        z=z, exact_before=(wrong_before == 0).cpu().numpy(), exact_after=(wrong_after == 0).cpu().numpy(),
        wrong_before=wrong_before.cpu().numpy(), wrong_after=wrong_after.cpu().numpy(),
        objective_before=objective_before.cpu().numpy(), objective_after=best_objective.cpu().numpy(),
        steps=steps.cpu().numpy(), seconds=time.perf_counter() - t0,
    )


def _wrong(vae: SpinVAE, preset_out: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Parameters (n,) whose most probable value is not the preset's."""
    return (vae.preset_values(preset_out) != values).sum(1)
