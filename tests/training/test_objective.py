"""Loss weighting, schedules and parameter groups."""

from __future__ import annotations

import pytest
import torch

from spinvae.model.tokens import TokenLayout
from spinvae.model.vae import SpinVAE, VAEConfig
from spinvae.synth.dx7.schema import DX7_SCHEMA
from spinvae.training.objective import LossConfig, OptimizerConfig, beta_at, lr_factor, parameter_group, total_loss


def test_beta_ramps_linearly_then_holds():
    config = LossConfig(beta=0.01, beta_warmup=0.25)
    assert beta_at(config, 0.0) == 0.0
    assert beta_at(config, 0.125) == pytest.approx(0.005)
    assert beta_at(config, 0.25) == beta_at(config, 0.9) == pytest.approx(0.01)
    assert beta_at(LossConfig(beta=0.01, beta_warmup=0.0), 0.0) == 0.01


def test_learning_rate_warms_up_then_decays_per_epoch():
    config = OptimizerConfig(warmup_epochs=1.0, decay_per_epoch=0.5)
    steps_per_epoch = 10
    assert lr_factor(config, 0, steps_per_epoch) == pytest.approx(0.1)
    assert lr_factor(config, 9, steps_per_epoch) == pytest.approx(1.0)
    assert lr_factor(config, 10, steps_per_epoch) == pytest.approx(1.0)
    assert lr_factor(config, 30, steps_per_epoch) == pytest.approx(0.25)


def test_total_loss_weights_each_term():
    config = LossConfig(spectrogram_weight=2.0, categorical_weight=0.5, numerical_weight=0.25, gamma=0.1,
                        synth_weight=3.0)
    terms = {name: torch.tensor(1.0) for name in ("spectrogram", "kl", "attribute", "categorical", "numerical")}
    assert total_loss(config, terms, beta=0.01).item() == pytest.approx(2.0 + 0.01 + 0.1 + 0.5 + 0.25)
    assert total_loss(config, terms | {"synth": torch.tensor(1.0)}, beta=0.01).item() == pytest.approx(5.86)


def test_the_mixture_mean_is_the_weighted_mean_of_the_components():
    from spinvae.model.dlm import mixture_mean

    logits, means, log_scales = torch.tensor([0.0, 0.0]), torch.tensor([-0.5, 0.25]), torch.zeros(2)
    assert mixture_mean(torch.cat([logits, means, log_scales])).item() == pytest.approx(-0.125)
    one = torch.tensor([5.0, -50.0, 0.4, 0.9, 0.0, 0.0])  # the first component alone
    assert mixture_mean(one).item() == pytest.approx(0.4, abs=1e-6)


def test_every_parameter_has_one_group_and_latent_layers_are_the_bridges():
    vae = SpinVAE(VAEConfig(dim_z=64, fusion="combined", d_model=32, n_heads=2, d_ff=64, encoder_layers=1,
                            decoder_layers=1, cnn_channels=[4, 4, 4, 4, 4, 4]),
                  TokenLayout.from_schema(DX7_SCHEMA), (1, 64, 63))
    groups = {name: parameter_group(name) for name, _ in vae.named_parameters()}
    assert groups["audio_encoder.stem.weight"] == "audio"
    assert groups["spectrogram_decoder.out.up.weight"] == "audio"
    assert groups["preset_encoder.transformer.layers.0.linear1.weight"] == "preset"
    assert groups["preset_decoder.to_distributions.weight"] == "preset"
    latent = {n for n, g in groups.items() if g == "latent"}
    assert latent == {
        "audio_encoder.to_latent.weight", "audio_encoder.to_latent.bias",
        "spectrogram_decoder.from_latent.weight", "spectrogram_decoder.from_latent.bias",
        "preset_encoder.extra_tokens", "preset_encoder.to_mu.weight", "preset_encoder.to_mu.bias",
        "preset_encoder.to_variance.weight", "preset_encoder.to_variance.bias",
        "preset_decoder.z_to_tokens.weight", "preset_decoder.z_to_tokens.bias",
        "preset_decoder.z_to_mlp_token.0.weight", "preset_decoder.z_to_mlp_token.0.bias",
        "preset_decoder.z_to_mlp_token.2.weight", "preset_decoder.z_to_mlp_token.2.bias",
    }


def test_the_morph_term_is_zero_on_the_straight_line_and_positive_off_it():
    from spinvae.training.objective import morph_term

    start, end = torch.randn(6, 5), torch.randn(6, 5)
    u = torch.linspace(0, 1, 6)
    line = (1 - u)[:, None] * start + u[:, None] * end
    assert morph_term(line, start, end, u).item() == pytest.approx(0.0, abs=1e-12)
    bent = line + 0.5 * (u * (1 - u))[:, None]  # a bow off the line, none at the ends
    assert morph_term(bent, start, end, u).item() == pytest.approx((0.25 * (u * (1 - u)) ** 2).mean().item())


def test_the_morph_term_reaches_the_decoder_through_a_frozen_proxy_and_is_zero_for_a_linear_decoder():
    """A constructed case: a decoder whose proxied attributes are affine in z has a zero morph term (against
    the proxy's attributes of the decoded ends); the real decoder's term is positive and its gradient reaches
    the decoder's weights, never the frozen proxy's."""
    from spinvae.model.proxy import AttributeProxy, ProxyConfig, n_token_features
    from spinvae.training.objective import morph_term

    layout = TokenLayout.from_schema(DX7_SCHEMA)
    vae = SpinVAE(VAEConfig(dim_z=16, d_model=32, n_heads=2, d_ff=64, encoder_layers=1, decoder_layers=1,
                            cnn_channels=[4, 8, 8, 8, 8, 8]), layout, (1, 64, 63))
    proxy = AttributeProxy(n_token_features(layout), 4, ProxyConfig(hidden=32, layers=1)).eval().requires_grad_(False)
    z = torch.randn(8, 16)
    partner = torch.roll(torch.arange(8), 1)
    u = torch.rand(8, generator=torch.Generator().manual_seed(0))
    z_u = (1 - u)[:, None] * z + u[:, None] * z[partner]
    linear = torch.nn.Linear(16, 4)  # attributes affine in the code
    assert morph_term(linear(z_u), linear(z), linear(z)[partner], u).item() == pytest.approx(0.0, abs=1e-10)
    judged = lambda codes: proxy(vae.token_distributions(vae.preset_decoder(codes)))  # noqa: E731
    term = morph_term(judged(z_u), judged(z).detach(), judged(z).detach()[partner], u)
    assert term.item() > 0
    term.backward()
    assert all(p.grad is not None for p in vae.preset_decoder.parameters() if p.requires_grad)
    assert sum(p.grad.abs().sum() for p in vae.preset_decoder.parameters() if p.grad is not None) > 0
    assert all(p.grad is None for p in proxy.parameters())
