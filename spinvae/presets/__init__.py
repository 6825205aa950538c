"""Presets in general: parameter schemas (each synth's own presets live in its package)."""
