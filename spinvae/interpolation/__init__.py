"""Interpolation between presets: through a model's latent space, or of the parameters themselves."""
