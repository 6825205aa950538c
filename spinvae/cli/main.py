"""The ``spinvae`` command: one entry point, one subcommand per job.

- ``spinvae data build``: build a dataset (renders, spectrograms, splits) from preset files
  and/or the procedural generator; ``--config datasets/<recipe>.yaml`` reads a recipe.
- ``spinvae data info DIR``: counts per split, exclusions, sources, disk size.
- ``spinvae render --preset FILE:INDEX --out x.wav``: render one preset.
- ``spinvae features FILE.wav ... --out features.csv``: the 53 timbre features of audio files.
- ``spinvae evaluate --data DIR --out OUT --ckpt CKPT``: interpolation smoothness and linearity
  of models against parameter interpolation.
- ``spinvae interpolate --start A --end B --out DIR``: one morph as a bank, WAVs, a picture;
  ``spinvae edit --preset A --attribute NAME --out DIR``: a timbre knob (both with the shipped model of the
  synth, or ``--ckpt CKPT``).
- ``spinvae export --ckpt CKPT --out FOLDER``: a trained model as a model folder (:mod:`spinvae.model.weights`).
- ``spinvae quickstart [--synth NAME] [--files DIR] [--from-scratch]``: the main job (the shipped model on its held-out
  test pairs: dataset, evaluation, report, morph bank; with ``--files``, fine-tuned on them; or trained from scratch).
- ``spinvae fit|validate|test|predict --config experiments/<name>.yaml``: train and use models
  (LightningCLI, :mod:`spinvae.training.cli`).
- ``spinvae sweep --config experiments/sweeps/<name>.yaml``: a hyper-parameter sweep (Optuna; resumable,
  several workers per study); ``spinvae sweep-report --study-name NAME --out DIR``: its trials, plots and
  best config (:mod:`spinvae.sweeps`, ``docs/sweeps.md``).
- ``spinvae match FILE.wav ... --out DIR``: presets of a differentiable synth matching recordings.
- ``spinvae play ...``: a MIDI knob moves a morph while a keyboard plays (:mod:`spinvae.play`, ``docs/play.md``).

A user's mistake (a bad file, an option out of range, a YAML config that does not parse) is one line,
``spinvae: error: ...``, and exit status 2; ``--debug`` (or ``SPINVAE_DEBUG=1``) adds its traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Literal, Optional

from jsonargparse import ArgumentParser

from spinvae.cli.parsers import data_build_parser
from spinvae.errors import user_error_in
from spinvae.sweeps.cli import SWEEP_COMMANDS, add_sweep_subcommands, run_sweep_command
from spinvae.synth.registry import DEFAULT_SYNTH, SYNTHS

# the defaults of latent refinement (spinvae.interpolation.refine.RefineConfig, not imported here: torch is slow
# to import for a command's --help): evaluate's NAME+refined method
REFINE_WEIGHT = 0.1
REFINE_OBJECTIVES = ("likelihood", "margin")  # spinvae.interpolation.refine.OBJECTIVES
REFINE_OBJECTIVE = "likelihood"
# a morph's (interpolate, edit, play, quickstart): refined at a small posterior weight, then anchored on the
# presets (--anchor), the setting measured best on the real test split (docs/evaluation.md, "Exact ends for
# a sound designer"); edit's and play's knobs take it too, one setting for every command a musician uses
MORPH_REFINE_STEPS = 300
MORPH_REFINE_WEIGHT = 0.01
# --ckpt of the commands that need a morph model (spinvae.pretrained.SHIPPED, not imported here: it imports torch)
SHIPPED = "shipped"
CKPT_HELP = ("model checkpoint or model folder; shipped (default): the model spinvae ships for the synth, "
             "docs/models.md; shipped:NAME")


TRAINING_COMMANDS = ("fit", "validate", "test", "predict")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="spinvae", description="Timbre-aware latent spaces of synthesizer presets.",
        epilog="Training: spinvae {fit,validate,test,predict} --config experiments/NAME.yaml (see spinvae fit --help).",
    )
    commands = parser.add_subcommands()

    data = ArgumentParser(description="Datasets: build and inspect.")
    commands.add_subcommand("data", data, help="build and inspect datasets")
    data_commands = data.add_subcommands()
    data_commands.add_subcommand("build", data_build_parser(), help="build a dataset")
    info = ArgumentParser(description="Summarise a built dataset.")
    info.add_argument("dir", type=str, help="dataset folder")
    data_commands.add_subcommand("info", info, help="summarise a built dataset")

    render = ArgumentParser(description="Render one preset to a WAV file.")
    render.add_argument("--preset", type=str, required=True, help="FILE:INDEX (INDEX 0-based) or FILE, a preset file of the synth")
    render.add_argument("--synth", type=str, default=DEFAULT_SYNTH, help=f"the synth: {' or '.join(SYNTHS)}")
    render.add_argument("--out", type=str, required=True, help="output .wav")
    render.add_argument("--note", type=int, default=56, help="MIDI note")
    render.add_argument("--velocity", type=int, default=75, help="MIDI velocity")
    render.add_argument("--sample-rate", type=int, default=16000, help="Hz")
    render.add_argument("--note-duration", type=float, default=3.0, help="seconds the note is held")
    render.add_argument("--duration", type=float, default=4.0, help="seconds rendered")
    commands.add_subcommand("render", render, help="render one preset to WAV")

    features = ArgumentParser(description="The 53 timbre features of WAV files, one CSV row per file.")
    features.add_argument("files", type=str, nargs="+", help="audio files (mono, or mixed down)")
    features.add_argument("--out", type=str, required=True, help="output .csv")
    features.add_argument("--workers", type=int, default=2, help="threads")
    features.add_argument("--ac-backend", type=Literal["native", "timbral_models"], default="native",
                          help="Audio Commons implementation")
    features.add_argument("--progress", type=bool, default=True, help="show a progress bar")
    commands.add_subcommand("features", features, help="timbre features of audio files")

    evaluate = ArgumentParser(description="Evaluate interpolations of a split's consecutive pairs against the reference.")
    evaluate.add_argument("--data", type=str, required=True, help="dataset folder")
    evaluate.add_argument("--split", type=Literal["train", "valid", "test"], default="test", help="which split's pairs")
    evaluate.add_argument("--out", type=str, required=True, help="output folder (resumes what it holds)")
    evaluate.add_argument("--ckpt", type=str, action="append", default=[],
                          help="a model, PATH or NAME=PATH: a checkpoint, a model folder, shipped (the model spinvae "
                               "ships for the dataset's synth) or shipped:NAME; repeat the option to compare models")
    evaluate.add_argument("--method", type=Literal["model", "reference"], default="model",
                          help="reference: parameter interpolation alone, no checkpoint")
    evaluate.add_argument("--steps", type=int, default=9, help="steps per sequence, both ends included")
    evaluate.add_argument("--max-pairs", type=int, default=None, help="evaluate the first N pairs only")
    evaluate.add_argument("--notes", type=str, nargs="+", default=None, help="NOTE:VELOCITY pairs (default: the dataset's)")
    evaluate.add_argument("--latent", type=Literal["linear", "spherical"], default="linear", help="latent interpolation")
    evaluate.add_argument("--categorical", type=Optional[Literal["normalised", "switch"]], default=None,
                          help="the reference's rule for categorical parameters (default: the synth's)")
    evaluate.add_argument("--refine-steps", type=int, default=0,
                          help="N > 0: also evaluate each model with its ends' latent codes refined for up to N "
                               "steps, as NAME+refined beside NAME (the reference protocol); 0: the protocol alone")
    evaluate.add_argument("--refine-weight", type=float, default=REFINE_WEIGHT,
                          help="the refinement's posterior weight: smaller gives more exact ends from codes "
                               "further from the encoder's (docs/evaluation.md)")
    evaluate.add_argument("--refine-objective", type=Literal[REFINE_OBJECTIVES], default=REFINE_OBJECTIVE,
                          help="what refinement optimises: likelihood (the decoder's likelihood of the preset) or "
                               "margin (exactness: every parameter's value the most probable by a margin)")
    evaluate.add_argument("--anchor", type=bool, default=False,
                          help="also evaluate each model's decoded path anchored on the exact end presets: the bend "
                               "over parameter interpolation, NAME+bend (and NAME+refined+bend with --refine-steps); "
                               "not a latent morph, reported on its own rows")
    evaluate.add_argument("--workers", type=int, default=2, help="rendering and featurising processes")
    evaluate.add_argument("--overwrite", type=bool, default=False,
                          help="start again in an --out made with other settings (otherwise refused)")
    evaluate.add_argument("--progress", type=bool, default=True, help="show a progress bar")
    commands.add_subcommand("evaluate", evaluate, help="evaluate interpolations (smoothness, linearity)")

    interpolate = ArgumentParser(description="Morph between two presets: a bank of the synth's presets, one WAV "
                                             "per step, a picture.")
    interpolate.add_argument("--start", type=str, required=True,
                             help="FILE:INDEX (0-based) or FILE, a preset file; a recording of one note (matched "
                                  "with a preset of a differentiable synth); or a dataset uid with --data")
    interpolate.add_argument("--end", type=str, required=True,
                             help="FILE:INDEX or FILE, a recording, or a dataset uid with --data")
    interpolate.add_argument("--synth", type=str, default=None,
                             help=f"the synth ({' or '.join(SYNTHS)}; default: the checkpoint's, else the preset "
                                  f"files', else {DEFAULT_SYNTH})")
    interpolate.add_argument("--out", type=str, required=True, help="output folder")
    interpolate.add_argument("--ckpt", type=str, default=SHIPPED, help=CKPT_HELP)
    interpolate.add_argument("--method", type=Literal["model", "reference"], default="model",
                             help="through the model's latent space, or parameter by parameter")
    interpolate.add_argument("--steps", type=int, default=9,
                             help="steps from start to end, both included (with the extrapolated ones, at most what one bank file of the synth holds)")
    interpolate.add_argument("--note", type=Optional[int], default=None,
                             help="the MIDI note the steps play (default: the model's or the dataset's first)")
    interpolate.add_argument("--velocity", type=Optional[int], default=None, help="the velocity the steps play")
    interpolate.add_argument("--sample-rate", type=Optional[int], default=None, help="the steps' sample rate (Hz)")
    interpolate.add_argument("--extrapolate", type=float, default=0.0,
                             help="go on beyond both ends as far as u = -E and 1 + E, at the same spacing (0: none)")
    interpolate.add_argument("--data", type=str, default=None, help="dataset folder, to name presets by uid")
    interpolate.add_argument("--latent", type=Literal["linear", "spherical"], default="linear", help="latent interpolation")
    interpolate.add_argument("--categorical", type=Optional[Literal["normalised", "switch"]], default=None,
                             help="the reference's rule for categorical parameters (default: the synth's)")
    interpolate.add_argument("--refine-steps", type=int, default=MORPH_REFINE_STEPS,
                             help="refine the ends' latent codes for up to N steps so the morph starts and ends on "
                                  "the two presets (0: the decoded encoder means, as in the reference protocol)")
    interpolate.add_argument("--refine-weight", type=float, default=MORPH_REFINE_WEIGHT,
                             help="the refinement's posterior weight: smaller gives closer ends from codes further "
                                  "from the encoder's (docs/evaluation.md)")
    interpolate.add_argument("--anchor", type=bool, default=True,
                             help="move the decoded path onto the two presets themselves, so both ends are exact: "
                                  "the bend of the latent morph over parameter interpolation (false: the latent "
                                  "morph as decoded)")
    interpolate.add_argument("--workers", type=int, default=2, help="rendering and featurising threads")
    commands.add_subcommand("interpolate", interpolate, help="morph between two presets")

    edit = ArgumentParser(description="Timbre knob: move a preset along the latent chunk of one attribute.")
    edit.add_argument("--ckpt", type=str, default=SHIPPED, help=CKPT_HELP)
    edit.add_argument("--synth", type=Optional[str], default=None,
                      help="the synth of the shipped model (default: the preset file's, else the default synth)")
    edit.add_argument("--preset", type=str, required=True, help="FILE:INDEX or FILE, or a dataset uid with --data")
    edit.add_argument("--attribute", type=str, required=True, help="a regularised attribute, e.g. ac_brightness")
    edit.add_argument("--amount", type=float, default=2.0, help="largest latent offset, both ways")
    edit.add_argument("--steps", type=int, default=9, help="steps from -amount to +amount")
    edit.add_argument("--out", type=str, required=True, help="output folder")
    edit.add_argument("--data", type=str, default=None, help="dataset folder, to name presets by uid")
    edit.add_argument("--refine-steps", type=int, default=MORPH_REFINE_STEPS,
                      help="refine the preset's latent code for up to N steps so the knob's centre is the preset "
                           "itself (0: its encoder mean)")
    edit.add_argument("--refine-weight", type=float, default=MORPH_REFINE_WEIGHT,
                      help="the refinement's posterior weight (as spinvae interpolate's)")
    edit.add_argument("--anchor", type=bool, default=True,
                      help="move every step by the decoded centre's error, so the knob's centre is the preset "
                           "exactly (false: the decoded presets as they are)")
    edit.add_argument("--workers", type=int, default=2, help="rendering and featurising threads")
    commands.add_subcommand("edit", edit, help="move a preset along one attribute's latent chunk")
    match = ArgumentParser(description="Sound matching: a preset of a differentiable synth for each recorded note.")
    match.add_argument("files", type=str, nargs="+", help="recordings of single notes (WAV, FLAC, ...), or folders of them")
    match.add_argument("--out", type=str, required=True, help="output folder: presets, WAVs, pictures, matches.csv")
    match.add_argument("--synth", type=Optional[str], default=None,
                       help="a differentiable synth (default: the first the registry has)")
    match.add_argument("--note", type=Optional[float], default=None,
                       help="the MIDI note of every recording (default: a note name in the file name, else measured)")
    match.add_argument("--steps", type=int, default=150, help="Adam steps of the fit (0: the first guess alone)")
    match.add_argument("--candidates", type=int, default=256, help="procedural presets the first guess is chosen from")
    match.add_argument("--seed", type=int, default=0, help="seeds the candidates")
    match.add_argument("--loudness-weight", type=float, default=0.0,
                       help="weight of a loudness-envelope term in the fit (0: the spectral distance alone)")
    match.add_argument("--progress", type=bool, default=True, help="show a progress bar of the fitting steps")
    match.add_argument("--overwrite", type=bool, default=False,
                       help="replace the matches of an --out made with other settings (otherwise refused)")
    match.add_argument("--ckpt", type=Optional[str], default=None,
                       help="an audio_only model of the synth (docs/matching.md, a model's ear): its encoder's "
                            "prediction is the first guess, instead of the nearest of --candidates; default: the "
                            "synth's shipped sound encoder where this installation has one; none: the candidates")
    commands.add_subcommand("match", match, help="presets whose sound matches recordings")

    export = ArgumentParser(description="Write a trained model as a model folder: safetensors weights, a JSON "
                                        "configuration with their sha256 (what --ckpt FOLDER loads; how a model "
                                        "is published).")
    export.add_argument("--ckpt", type=str, required=True, help="a Lightning checkpoint (or a model folder)")
    export.add_argument("--out", type=str, required=True, help="the model folder to write")
    export.add_argument("--name", type=Optional[str], default=None, help="the model's name (default: the folder's)")
    export.add_argument("--dtype", type=Literal["float16", "float32"], default="float16",
                        help="the weights' precision (float16: half the size)")
    export.add_argument("--data", type=Optional[str], default=None,
                        help="the dataset the model was trained on: its model.json then records the dataset's recipe, "
                             "source, licence and split fingerprints, and the model's figures on the first "
                             "--check-pairs validation pairs (docs/models.md)")
    export.add_argument("--recipe", type=Optional[str], default=None, help="with --data: the dataset's recipe file")
    export.add_argument("--licence", type=Optional[str], default=None, help="with --data: the licence of its presets")
    export.add_argument("--check-pairs", type=int, default=16,
                        help="with --data: validation pairs the card's check figures are measured on (0: none)")
    export.add_argument("--refine-steps", type=int, default=MORPH_REFINE_STEPS, help="the check's refinement steps")
    export.add_argument("--refine-weight", type=float, default=MORPH_REFINE_WEIGHT,
                        help="the check's refinement posterior weight")
    export.add_argument("--workers", type=int, default=2, help="rendering processes of the check")
    commands.add_subcommand("export", export, help="write a trained model as a model folder")

    proxy = ArgumentParser(description="Train an attribute proxy on a built dataset (with features): a network from a "
                                       "preset's parameters to its timbre attributes, which loss.morph_weight judges "
                                       "decoded presets with (docs/model.md, 'Training where morphs live'); prints its "
                                       "accuracy per attribute on the validation split.")
    proxy.add_argument("--data", type=str, required=True, help="the dataset folder (built with features)")
    proxy.add_argument("--out", type=str, required=True, help="the proxy file to write (.safetensors)")
    proxy.add_argument("--epochs", type=int, default=40, help="passes over the train split")
    proxy.add_argument("--hidden", type=int, default=512, help="units of each hidden layer")
    proxy.add_argument("--layers", type=int, default=3, help="hidden layers")
    proxy.add_argument("--soften", type=float, default=0.3,
                       help="how far the train inputs are softened at random toward decoded distributions (0 to 1)")
    proxy.add_argument("--seed", type=int, default=0, help="initialisation, order and softening")
    commands.add_subcommand("proxy", proxy, help="train an attribute proxy (the morph term's judge of timbre)")

    play = ArgumentParser(description="Live morphing: a MIDI knob moves a morph (or a timbre knob) decoded ahead of "
                                      "time while a keyboard plays; to a synth over MIDI, to JACK audio, or a MIDI "
                                      "file offline to a WAV.")
    play.add_argument("--list-ports", action="store_true", help="list the MIDI and audio ports and stop")
    play.add_argument("--ckpt", type=str, default=SHIPPED, help=CKPT_HELP)
    play.add_argument("--method", type=Literal["model", "reference"], default="model",
                      help="through the model's latent space, or parameter by parameter")
    play.add_argument("--synth", type=Optional[str], default=None,
                      help="the synth (default: the checkpoint's, else the preset files', else the default synth)")
    play.add_argument("--start", type=Optional[str], default=None,
                      help="the morph's start: FILE:INDEX, FILE, a recording (a differentiable synth), or a dataset uid with --data")
    play.add_argument("--end", type=Optional[str], default=None, help="the morph's end, as --start")
    play.add_argument("--extrapolate", type=float, default=0.0,
                      help="the knob's range goes beyond both ends, u = -E .. 1 + E (0: start to end)")
    play.add_argument("--preset", type=Optional[str], default=None, help="a timbre knob's preset (with --attribute)")
    play.add_argument("--attribute", type=Optional[str], default=None, help="a timbre knob: a regularised attribute")
    play.add_argument("--amount", type=float, default=2.0, help="the timbre knob's largest latent offset, both ways")
    play.add_argument("--data", type=Optional[str], default=None, help="dataset folder, to name presets by uid")
    play.add_argument("--latent", type=Literal["linear", "spherical"], default="linear", help="latent interpolation")
    play.add_argument("--refine-steps", type=int, default=MORPH_REFINE_STEPS,
                      help="refine the ends' latent codes so the knob's ends are the presets (0: the encoder's means)")
    play.add_argument("--refine-weight", type=float, default=MORPH_REFINE_WEIGHT,
                      help="the refinement's posterior weight (as spinvae interpolate's)")
    play.add_argument("--anchor", type=bool, default=True,
                      help="move the model's path onto the presets (a morph's ends, a timbre knob's centre), as "
                           "spinvae interpolate and edit do (false: as decoded)")
    play.add_argument("--to", type=Literal["audio", "midi"], default="audio",
                      help="audio: the synth's notes on a JACK server; midi: notes and presets to a synth on --midi-out")
    play.add_argument("--midi-in", type=Optional[str], default=None,
                      help="MIDI input port (a unique part of its name); default: a new port spinvae-midi:in")
    play.add_argument("--midi-out", type=Optional[str], default=None,
                      help="--to midi: the synth's MIDI input port; default: a new port spinvae-midi:out")
    play.add_argument("--cc", type=int, default=1, help="the controller that moves the knob (1: the mod wheel)")
    play.add_argument("--channel", type=Optional[int], default=None, help="MIDI channel 0..15 (default: all)")
    play.add_argument("--min-interval", type=float, default=0.05,
                      help="--to midi: seconds between two preset messages at least (the last position always goes)")
    play.add_argument("--sample-rate", type=int, default=48000, help="audio: Hz (the JACK server's)")
    play.add_argument("--key-range", type=str, default="36:96", help="audio: LOW:HIGH MIDI keys rendered ahead")
    play.add_argument("--key-step", type=int, default=6, help="audio: semitones between rendered keys")
    play.add_argument("--velocity", type=int, default=100, help="audio: the velocity notes are rendered at")
    play.add_argument("--note-seconds", type=float, default=2.5, help="audio: the longest a note lasts")
    play.add_argument("--no-connect", action="store_true", help="audio: leave the output ports unconnected")
    play.add_argument("--midi-file", type=Optional[str], default=None, help="render this MIDI file offline ...")
    play.add_argument("--out", type=Optional[str], default=None, help="... into this WAV")
    play.add_argument("--block", type=int, default=256, help="frames per block (offline, as JACK's period)")
    play.add_argument("--workers", type=int, default=2, help="rendering threads")
    commands.add_subcommand("play", play, help="live morphing from a MIDI controller")

    quickstart = ArgumentParser(description="The main job: the shipped model of the synth against parameter "
                                            "interpolation on its held-out test split (report and morph bank); "
                                            "with --files, fine-tuned on your presets too; with --from-scratch, a "
                                            "model trained on procedural presets.")
    quickstart.add_argument("--synth", type=str, default=DEFAULT_SYNTH, help=f"the synth: {' or '.join(SYNTHS)}")
    quickstart.add_argument("--files", "--syx", type=str, nargs="+", default=[],
                            help="your own preset files or folders of the synth: the shipped model is evaluated on "
                                 "them and fine-tuned on them (with --from-scratch: a model trained on them alone)")
    quickstart.add_argument("--from-scratch", action="store_true",
                            help="train a model from scratch (on the synth's procedural presets, or --files) instead "
                                 "of the shipped one; what a synth that ships no model does")
    quickstart.add_argument("--name", type=str, default=None,
                            help="names the report folder, and with --files or --from-scratch the dataset and run "
                                 "folders (default: shipped, or shipped_SYNTH for another synth; files with --files; "
                                 "quickstart, quickstart_SYNTH or files_scratch with --from-scratch)")
    quickstart.add_argument("--presets", type=int, default=None,
                            help="--from-scratch: procedural presets (default: the recipe's)")
    quickstart.add_argument("--epochs", type=int, default=None,
                            help="training or fine-tuning epochs (default: the config's)")
    quickstart.add_argument("--finetune-minutes", type=float, default=5.0,
                            help="--files: the fine-tuning stops after this many minutes whatever its epochs")
    quickstart.add_argument("--max-pairs", type=int, default=None,
                            help="evaluate the first N test pairs (default: 128 with the shipped model, a fixed "
                                 "sample in the split's order; every pair with --from-scratch)")
    quickstart.add_argument("--data-config", type=str, default=None,
                            help="dataset recipe (default: the recipe the shipped model records, built without "
                                 "the features into its folder + _nofeatures: the test split it held out; its "
                                 "settings with --files; datasets/quickstart.yaml, or another synth's "
                                 "quickstart_SYNTH.yaml, with --from-scratch)")
    quickstart.add_argument("--train-config", type=str, default=None,
                            help="training config (default: experiments/finetune_NAME.yaml of the shipped model NAME "
                                 "with --files, "
                                 "experiments/quickstart.yaml or quickstart_SYNTH.yaml with --from-scratch)")
    quickstart.add_argument("--runs", type=str, default="experiments/runs", help="where training runs go")
    quickstart.add_argument("--reports", type=str, default="evaluation/reports", help="where reports go")
    quickstart.add_argument("--refine-steps", type=int, default=None,
                            help="also evaluate the model with refined ends (NAME+refined) and refine the morph's "
                                 f"ends, up to N steps (default: {MORPH_REFINE_STEPS}, as spinvae interpolate; 100 "
                                 "with --from-scratch, which keeps that job short); 0: the reference protocol alone")
    quickstart.add_argument("--refine-weight", type=float, default=MORPH_REFINE_WEIGHT,
                            help="the refinement's posterior weight (as spinvae interpolate's)")
    quickstart.add_argument("--anchor", type=bool, default=True,
                            help="also evaluate the model's paths anchored on the exact presets (the bend over "
                                 "parameter interpolation: NAME+bend, NAME+refined+bend) and anchor the morph bank, as "
                                 "spinvae interpolate does")
    quickstart.add_argument("--workers", type=int, default=2, help="rendering and featurising processes")
    commands.add_subcommand("quickstart", quickstart, help="the main job: the shipped model's interpolation report")
    add_sweep_subcommands(commands)
    return parser


def config_files(argv: list[str]) -> list[str]:
    """The files given to ``--config`` (``--config F`` or ``--config=F``) anywhere on a command line."""
    found = []
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith("--config="):
            found.append(arg.split("=", 1)[1])
    return found


def check_config_file(path: str) -> str | None:
    """One line saying why ``path`` cannot be a YAML config (None when it reads): the parsers' own
    errors span several lines and name "<unicode string>" instead of the file."""
    import yaml

    if path.lstrip().startswith(("{", "[")) or "\n" in path:  # jsonargparse also takes a config inline
        return None
    file = Path(path)
    if not file.is_file():
        return f"{path}: no such config file"
    try:
        yaml.safe_load(file.read_text())
    except UnicodeDecodeError:
        return f"{path}: not a YAML config (not text)"
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        return f"{path}: not valid YAML{where}: {problem}"
    return None


#: command -> (module, function) taking the command's parsed arguments; imported only when run
_COMMANDS = {
    "render": ("spinvae.cli.commands", "render"),
    "features": ("spinvae.cli.commands", "features"),
    "evaluate": ("spinvae.cli.commands", "evaluate"),
    "interpolate": ("spinvae.cli.commands", "interpolate"),
    "edit": ("spinvae.cli.commands", "edit"),
    "match": ("spinvae.cli.commands", "match"),
    "export": ("spinvae.cli.commands", "export"),
    "proxy": ("spinvae.cli.commands", "proxy"),
    "play": ("spinvae.cli.play", "play"),
    "quickstart": ("spinvae.cli.quickstart", "quickstart"),
}


def run_command(argv: list[str]) -> None:
    """Parse ``argv`` and run its command (the training commands through LightningCLI)."""
    if argv and argv[0] in TRAINING_COMMANDS:
        from spinvae.training.cli import run_training_cli

        run_training_cli(argv)
        return
    args = build_parser().parse_args(argv)
    if args.subcommand in SWEEP_COMMANDS:
        run_sweep_command(args)
    elif args.subcommand == "data":
        from spinvae.cli import commands

        sub = args.data
        if sub.subcommand == "build":
            commands.data_build(sub.build)
        else:
            commands.data_info(sub.info.dir)
    else:
        module, function = _COMMANDS[args.subcommand]
        getattr(importlib.import_module(module), function)(getattr(args, args.subcommand))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # tracebacks of user errors too (they are one line otherwise): --debug anywhere, or SPINVAE_DEBUG=1
    debug = "--debug" in argv or os.environ.get("SPINVAE_DEBUG", "") not in ("", "0")
    argv = [arg for arg in argv if arg != "--debug"]
    for path in config_files(argv):
        if (reason := check_config_file(path)) is not None:
            print(f"spinvae: error: {reason}", file=sys.stderr)
            return 2
    try:
        run_command(argv)
    except Exception as err:  # a user's mistake (found inside LightningCLI's and Optuna's wrapping too), or the
        cause = user_error_in(err)  # machine's refusal (a full disk): one line; anything else is a bug
        if cause is None:
            raise
        if debug:
            import traceback

            traceback.print_exc()
        print(f"spinvae: error: {cause}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: what was finished is kept (builds, evaluations and sweeps resume)
        again = ("the same command with --ckpt_path LAST.ckpt" if argv and argv[0] in TRAINING_COMMANDS
                 else "the same command again")
        print(f"spinvae: interrupted; run {again} to go on where it stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
