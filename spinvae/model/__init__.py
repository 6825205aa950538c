"""The bimodal transformer VAE: preset and audio encoders, latent, preset and spectrogram decoders."""
