"""A differentiable plucked string in torch (docs/synths.md, "The pluck synth").

A modal model: stiff-string partials with a smooth spectral envelope and frequency-dependent decays,
two polarisations, a filtered noise burst at the pluck, two body resonances and a note-off fade.
:mod:`.schema` holds the 29 continuous parameters, :mod:`.dsp` the numerics as free functions,
:mod:`.synth` the controls, the signal and :class:`PluckSynth`, :mod:`.generator` seven families of
presets and :mod:`.files` the JSON / YAML preset format.
"""

from spinvae.synth.pluck.synth import PluckSynth

__all__ = ["PluckSynth"]
