"""The attribute proxy's inputs: real presets and decoded distributions share one layout."""

from __future__ import annotations

import numpy as np
import torch

from spinvae.model.proxy import AttributeProxy, ProxyConfig, n_token_features, token_features
from spinvae.model.tokens import TokenLayout
from spinvae.model.vae import SpinVAE, VAEConfig
from spinvae.synth.dx7.generator import generate_presets
from spinvae.synth.dx7.schema import DX7_SCHEMA

LAYOUT = TokenLayout.from_schema(DX7_SCHEMA)
SMALL = dict(d_model=32, n_heads=2, d_ff=64, encoder_layers=1, decoder_layers=1, cnn_channels=[4, 8, 8, 8, 8, 8])


def test_real_presets_and_decoded_distributions_have_the_same_layout():
    presets, _ = generate_presets(4, seed=0)
    values = DX7_SCHEMA.learnable(presets)
    classes, numbers = (torch.from_numpy(x) for x in DX7_SCHEMA.to_tokens(values))
    real = token_features(LAYOUT, classes, numbers)
    vae = SpinVAE(VAEConfig(dim_z=32, **SMALL), LAYOUT, (1, 64, 63))
    decoded = vae.token_distributions(vae.preset_decoder(torch.randn(4, 32)))
    assert real.shape == decoded.shape == (4, n_token_features(LAYOUT))
    n_num, n_cat = len(LAYOUT.numerical), len(LAYOUT.categorical)
    # numbers in [0, 1]; each categorical a distribution over its own classes only (zero past them)
    for x in (real, decoded):
        assert torch.all((x[:, :n_num] >= 0) & (x[:, :n_num] <= 1))
        probabilities = x[:, n_num:].reshape(4, n_cat, LAYOUT.max_classes)
        torch.testing.assert_close(probabilities.sum(-1), torch.ones(4, n_cat))
        past = torch.arange(LAYOUT.max_classes) >= torch.tensor(LAYOUT.cardinalities)[LAYOUT.categorical][:, None]
        assert torch.all(probabilities[:, past] == 0)
    # a real preset's block is its exact numbers and one-hot classes
    np.testing.assert_allclose(real[:, :n_num].numpy(), numbers[:, LAYOUT.numerical].numpy(), atol=1e-6)
    assert torch.all(real[:, n_num:].reshape(4, n_cat, -1).argmax(-1) == classes[:, LAYOUT.categorical])


def test_the_proxy_maps_features_to_attributes_and_passes_gradients_to_its_input():
    proxy = AttributeProxy(n_token_features(LAYOUT), 7, ProxyConfig(hidden=16, layers=2)).eval().requires_grad_(False)
    x = torch.rand(3, n_token_features(LAYOUT), requires_grad=True)
    y = proxy(x)
    assert y.shape == (3, 7)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
