"""Presets: parameter schemas, DX7 sysex, the procedural generator."""

from __future__ import annotations

from spinvae.presets.schema import ParameterSchema


def schema_by_name(name: str) -> ParameterSchema:
    """The parameter schema of a synth by name (``"dx7"``): how a model checkpoint finds its synth."""
    from spinvae.presets.dx7 import DX7_SCHEMA

    schemas = {"dx7": DX7_SCHEMA}
    if name not in schemas:
        raise ValueError(f"unknown synth {name!r}; known: {', '.join(schemas)}")
    return schemas[name]
