"""Argument parsers shared by several commands (light imports only: ``--help`` stays fast)."""

from __future__ import annotations

from typing import Literal

from jsonargparse import ActionConfigFile, ArgumentParser

from spinvae.synth.registry import DEFAULT_SYNTH, SYNTHS


def data_build_parser() -> ArgumentParser:
    p = ArgumentParser(description="Build a dataset of presets, renders and mel-spectrograms.")
    p.add_argument("--config", action=ActionConfigFile, help="a dataset recipe (YAML), e.g. datasets/default.yaml")
    p.add_argument("--out", type=str, required=True, help="output folder")
    p.add_argument("--synth", type=str, default=DEFAULT_SYNTH, help=f"the synth: {' or '.join(SYNTHS)}")
    p.add_argument("--presets", "--syx", type=str, nargs="+", default=[],
                   help="the synth's preset files or folders, searched recursively for its file suffixes")
    p.add_argument("--wav", type=str, nargs="+", default=[],
                   help="recordings of single notes (files or folders): each gets a matched preset of the "
                        "(differentiable) synth (spinvae match)")
    p.add_argument("--match-steps", type=int, default=150,
                   help="Adam steps of each recording's fit (spinvae match --steps)")
    p.add_argument("--procedural", type=int, default=0, help="number of presets from the procedural generator")
    p.add_argument("--seed", type=int, default=0, help="seed of the generator and of the split")
    p.add_argument("--notes", type=str, nargs="+", default=["56:75"], help="NOTE:VELOCITY pairs rendered per preset")
    p.add_argument("--sample-rate", type=int, default=16000, help="Hz")
    p.add_argument("--note-duration", type=float, default=3.0, help="seconds the note is held")
    p.add_argument("--duration", type=float, default=4.0, help="seconds rendered")
    p.add_argument("--n-mels", type=int, default=257, help="mel bands")
    p.add_argument("--n-fft", type=int, default=1024, help="STFT size (samples)")
    p.add_argument("--hop-length", type=int, default=256, help="STFT hop (samples)")
    p.add_argument("--silence-db", type=float, default=-60.0, help="exclude renders below this RMS level (dBFS)")
    p.add_argument("--chunk-size", type=int, default=256, help="presets per stored chunk (unit of resumption)")
    p.add_argument("--workers", type=int, default=2, help="rendering threads")
    p.add_argument("--features", type=bool, default=True, help="compute the 53 timbre features and the attributes")
    p.add_argument("--ac-backend", type=Literal["native", "timbral_models"], default="native",
                   help="Audio Commons implementation: spinvae's own, or the original package (slow)")
    p.add_argument("--attributes", type=str, nargs="+", default=None,
                   help="force this list of attributes instead of the |Spearman| > 0.9 filter")
    p.add_argument("--progress", type=bool, default=True, help="show a progress bar")
    return p
