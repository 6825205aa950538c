"""Synths by name: the one place that knows which plug-ins exist (docs/synths.md)."""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module

from spinvae.synth.base import Synth

#: name -> "module:class"; a plug-in is imported only when asked for (the DX7 loads dexed-py)
SYNTHS = {
    "dx7": "spinvae.synth.dx7:DX7Synth",
    "pluck": "spinvae.synth.pluck:PluckSynth",
}
DEFAULT_SYNTH = "dx7"


def differentiable_synths() -> list[str]:
    """The names of the synths that render differentiably (the ones sound matching can fit)."""
    return [name for name in SYNTHS if get_synth(name).differentiable]


def get_synth(name: str | None = None) -> Synth:
    """The synth plug-in called ``name`` (None: :data:`DEFAULT_SYNTH`), one instance per name;
    ValueError naming the known ones otherwise."""
    return _synth(name or DEFAULT_SYNTH)


@lru_cache(maxsize=None)
def _synth(name: str) -> Synth:
    if name not in SYNTHS:
        raise ValueError(f"unknown synth {name!r}; known: {', '.join(SYNTHS)}")
    module, _, cls = SYNTHS[name].partition(":")
    return getattr(import_module(module), cls)()
