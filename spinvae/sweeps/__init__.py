"""Hyper-parameter sweeps with Optuna over any LightningCLI key of a training configuration.

- :mod:`spinvae.sweeps.space`: one searched hyper-parameter (its distribution, its suggestion,
  its command-line override);
- :mod:`spinvae.sweeps.config`: the sweep YAML (base config, overrides, search space, objectives);
- :mod:`spinvae.sweeps.trial`: one trial, a training run through :class:`~spinvae.training.cli.SpinVAECLI`;
- :mod:`spinvae.sweeps.interpolation`: the quick interpolation evaluation of a trial's model;
- :mod:`spinvae.sweeps.study`: the study (storage, resumption, workers) and its loop;
- :mod:`spinvae.sweeps.report`: ``spinvae sweep-report``;
- :mod:`spinvae.sweeps.cli`: the two subcommands.

See ``docs/sweeps.md``.
"""
