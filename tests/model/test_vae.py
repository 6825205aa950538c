"""Shapes through every module, fusion modes, and decoded presets that are valid DX7 voices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spinvae.model.audio_cnn import AudioEncoder, SpectrogramDecoder, feature_map_sizes
from spinvae.model.preset_transformer import PresetDecoder, PresetEncoder
from spinvae.model.tokens import PresetEmbedding, TokenLayout
from spinvae.model.vae import SpinVAE, VAEConfig
from spinvae.synth.dx7.schema import DX7_SCHEMA
from spinvae.synth.dx7.generator import generate_presets
from spinvae.synth.dx7.sysex import parse_sysex, single_voice_sysex

LAYOUT = TokenLayout.from_schema(DX7_SCHEMA)
B = 3
SMALL = dict(d_model=32, n_heads=2, d_ff=64, encoder_layers=1, decoder_layers=1, cnn_channels=[4, 8, 8, 8, 8, 8])
SHAPE = (1, 64, 63)


def tokens(n: int = B, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    presets, _ = generate_presets(n, seed=seed)
    values = DX7_SCHEMA.learnable(presets)
    classes, numbers = DX7_SCHEMA.to_tokens(values)
    return torch.from_numpy(classes), torch.from_numpy(numbers), values


def test_layout_of_the_dx7():
    assert LAYOUT.n_tokens == 144
    assert len(LAYOUT.numerical) == 122 and len(LAYOUT.categorical) == 22
    assert LAYOUT.max_classes == 32  # algorithm


def test_embedding_shape_and_token_dependence():
    classes, numbers, _ = tokens()
    emb = PresetEmbedding(LAYOUT, 16)
    out = emb(classes, numbers)
    assert out.shape == (B, 144, 16)
    changed = numbers.clone()
    k = int(LAYOUT.numerical[0])
    changed[0, k] = 1 - changed[0, k]
    diff = (emb(classes, changed) - out).abs().sum(-1)
    assert diff[0, k] > 0 and diff.sum() == diff[0, k]  # one token changes, only it


def test_preset_encoder_and_decoder_shapes():
    classes, numbers, _ = tokens()
    for dim_z in (64, 100):  # 100: not a multiple of d_model
        mu, pre_var = PresetEncoder(LAYOUT, dim_z, 32, 2, 64, 1)(classes, numbers)
        assert mu.shape == pre_var.shape == (B, dim_z)
        out = PresetDecoder(LAYOUT, dim_z, 32, 2, 64, 1)(mu)
        assert out.shape == (B, 144, 32)


def test_cnn_sizes_of_the_reference_spectrogram():
    sizes = feature_map_sizes(257, 251, 8)
    assert sizes[0] == (257, 251) and sizes[-1] == (2, 2)
    encoder = AudioEncoder(1, 257, 251, [2, 2, 2, 2, 2, 2, 2, 4], 16)
    mu, var = encoder(torch.randn(2, 1, 257, 251))
    assert mu.shape == var.shape == (2, 16)
    assert SpectrogramDecoder(1, 257, 251, [2, 2, 2, 2, 2, 2, 2, 4], 16)(mu).shape == (2, 1, 257, 251)


def test_a_latent_size_that_does_not_tile_the_cnns_map_goes_through_a_linear_layer():
    encoder, decoder = AudioEncoder(1, 64, 63, [4] * 6, 30), SpectrogramDecoder(1, 64, 63, [4] * 6, 30)
    assert encoder.flat and decoder.flat and isinstance(encoder.to_latent, torch.nn.Linear)
    mu, var = encoder(torch.randn(3, 1, 64, 63))
    assert mu.shape == var.shape == (3, 30)
    assert decoder(mu).shape == (3, 1, 64, 63)
    tiled = AudioEncoder(1, 64, 63, [4] * 6, 32)  # 32 tiles the 2 x 2 map: the reference's 1x1 convolution
    assert not tiled.flat and isinstance(tiled.to_latent, torch.nn.Conv2d)


@pytest.mark.parametrize("fusion,modules", [
    ("preset_only", {"preset_encoder"}), ("combined", {"preset_encoder", "audio_encoder"}),
    ("audio_only", {"audio_encoder"}),
])
def test_fusion_modes_build_and_use_their_encoders(fusion, modules):
    vae = SpinVAE(VAEConfig(dim_z=64, fusion=fusion, **SMALL), LAYOUT, SHAPE)
    built = {m for m in ("preset_encoder", "audio_encoder") if getattr(vae, m) is not None}
    assert built == modules
    classes, numbers, _ = tokens()
    spectrogram = torch.randn(B, *SHAPE)
    out = vae(classes, numbers, spectrogram)
    assert out.mu.shape == out.z.shape == out.variance.shape == (B, 64)
    assert out.preset.shape == (B, 144, 32) and out.spectrogram.shape == (B, *SHAPE)
    needs = "preset tokens" if "preset_encoder" in modules else "spectrogram"
    with pytest.raises(ValueError, match=needs):
        vae(None, None, None)


def test_combined_fusion_sums_the_two_encoders():
    vae = SpinVAE(VAEConfig(dim_z=64, fusion="combined", **SMALL), LAYOUT, SHAPE).eval()
    classes, numbers, _ = tokens()
    spectrogram = torch.randn(B, *SHAPE)
    mu, _ = vae.encode(classes, numbers, spectrogram)
    expected = vae.preset_encoder(classes, numbers)[0] + vae.audio_encoder(spectrogram)[0]
    torch.testing.assert_close(mu, expected)


def test_decoders_can_be_left_out():
    vae = SpinVAE(VAEConfig(dim_z=64, decoders=["preset"], **SMALL), LAYOUT, SHAPE)
    assert vae.spectrogram_decoder is None
    classes, numbers, _ = tokens()
    out = vae(classes, numbers)
    terms = vae.loss_terms(out, classes, numbers, torch.zeros(B, *SHAPE), 0.1)
    assert set(terms) == {"kl", "categorical", "numerical"}


def test_decoded_presets_are_valid_dx7_voices_and_export_to_sysex():
    vae = SpinVAE(VAEConfig(dim_z=64, **SMALL), LAYOUT, SHAPE)
    values = vae.decode_presets(torch.randn(16, 64) * 3).numpy()
    assert values.shape == (16, 144)
    assert (values >= 0).all() and (values < DX7_SCHEMA.cardinalities).all()
    presets = DX7_SCHEMA.from_learnable(values.astype(np.uint8))
    for preset in presets[:2]:
        assert np.array_equal(parse_sysex(single_voice_sysex(preset)).params[0], preset)


def test_preset_losses_are_per_token_averages():
    vae = SpinVAE(VAEConfig(dim_z=64, **SMALL), LAYOUT, SHAPE)
    classes, numbers, values = tokens()
    out = vae(classes, numbers, sample=False)
    ce, nll = vae.preset_losses(out.preset, classes, numbers)
    # by hand: per-token losses from the decoded distributions, summed and divided by 144 tokens
    logits = vae._class_logits(out.preset)
    ce_tokens = -torch.log_softmax(logits, -1).gather(-1, classes[:, LAYOUT.categorical][..., None])
    torch.testing.assert_close(ce, ce_tokens.sum() / (144 * B))
    assert nll > 0 and torch.isfinite(nll)


def test_a_schema_without_categorical_parameters_trains_and_decodes():
    """A synth whose parameters are all continuous (the pluck synth's kind): no categorical head."""
    from spinvae.presets.schema import Parameter, ParameterSchema

    schema = ParameterSchema("continuous", tuple(Parameter(i, f"p{i}", 127, "continuous", 64, None, f"p{i}")
                                                 for i in range(5)))
    layout = TokenLayout.from_schema(schema)
    assert layout.max_classes == 0 and len(layout.categorical) == 0
    vae = SpinVAE(VAEConfig(dim_z=64, **SMALL), layout, SHAPE)
    values = np.random.default_rng(0).integers(0, 128, (B, 5)).astype(np.uint8)
    classes, numbers = (torch.from_numpy(x) for x in schema.to_tokens(values))
    out = vae(classes, numbers, torch.zeros(B, *SHAPE), generator=torch.Generator().manual_seed(0))
    terms = vae.loss_terms(out, classes, numbers, torch.zeros(B, *SHAPE), free_bits=0.0)
    assert terms["categorical"].item() == 0.0 and terms["numerical"].item() > 0
    sum(terms.values()).backward()
    decoded = vae.decode_presets(out.mu).numpy()
    assert decoded.shape == (B, 5) and decoded.min() >= 0 and decoded.max() <= 127


def test_value_margins_are_positive_everywhere_exactly_where_the_decoding_is_the_preset():
    vae = SpinVAE(VAEConfig(dim_z=64, **SMALL), LAYOUT, SHAPE)
    out = vae.preset_decoder(torch.randn(8, 64) * 3)
    decoded = vae.preset_values(out)
    assert torch.all(vae.value_margins(out, decoded) > 0)  # (random outputs: no two values tie)
    other = decoded.clone()
    other[:, 0] = (other[:, 0] + 1) % int(vae.cardinalities[0])  # one parameter off its most probable value
    margins = vae.value_margins(out, other)
    assert torch.all(margins[:, 0] < 0) and torch.all(margins[:, 1:] > 0)
    # a known answer: the margin of a categorical is the gap of its logits, of a numerical the gap of its log-masses
    c, n = int(LAYOUT.categorical[0]), int(LAYOUT.numerical[0])
    logits = vae._class_logits(out)[0, 0]
    top2 = logits.topk(2).values
    torch.testing.assert_close(vae.value_margins(out, decoded)[0, c], top2[0] - top2[1])
    from spinvae.model import dlm

    k = int(vae.cardinalities[n])
    log_p = dlm.log_pmf(out[0, n, : 3 * vae.config.n_components].float(), vae.cardinalities[n], k)
    top2 = log_p.topk(2).values
    torch.testing.assert_close(vae.value_margins(out, decoded)[0, n], top2[0] - top2[1])


def test_value_margins_carry_a_gradient_to_the_code():
    vae = SpinVAE(VAEConfig(dim_z=64, **SMALL), LAYOUT, SHAPE)
    z = torch.randn(2, 64, requires_grad=True)
    _, _, values = tokens(2)
    margins = vae.value_margins(vae.preset_decoder(z), torch.from_numpy(values.astype(np.int64)))
    assert torch.isfinite(margins).all()
    torch.relu(1.0 - margins).sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
