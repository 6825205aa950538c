"""Sound matching: recordings of single notes to presets of a differentiable synth (docs/matching.md).

:mod:`spinvae.matching.recording` reads a recording, refuses what cannot be matched (empty, short,
silent, unpitched or polyphonic, out of the synth's range) and measures its pitch; the other modules
fit a synth's presets to it.
"""
