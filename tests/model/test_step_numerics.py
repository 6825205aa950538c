"""The optimised training step computes what the plain modules compute: same loss and gradients on a fixed batch.

The speed-ups of the cpu step (docs/model.md, "Speed") change how values are computed, never which:
the preset decoder's first self-attention runs once for the whole batch (its input, the learned
queries, is the same for every preset) and the audio CNN stores its weights and activations
channels-last. Here the plain computation is written out from the same modules and compared.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spinvae.model.tokens import TokenLayout
from spinvae.model.vae import SpinVAE, VAEConfig
from spinvae.synth.dx7.schema import DX7_SCHEMA
from spinvae.training.objective import LossConfig, attribute_term, total_loss

LAYOUT = TokenLayout.from_schema(DX7_SCHEMA)
SHAPE = (1, 64, 63)
CPU_LIKE = dict(dim_z=64, d_model=32, n_heads=4, d_ff=64, encoder_layers=2, decoder_layers=2,
                cnn_channels=[4, 8, 16, 16, 16, 16])


def _batch(n: int = 6):
    g = torch.Generator().manual_seed(0)
    classes = torch.where(torch.from_numpy(DX7_SCHEMA.is_categorical), torch.randint(0, 2, (n, 144), generator=g), -1)
    numbers = torch.rand(n, 144, generator=g) * torch.from_numpy(~DX7_SCHEMA.is_categorical)
    return classes, numbers, torch.rand(n, *SHAPE, generator=g) * 2 - 1, torch.randn(n, 8, generator=g)


def _plain_decoder(decoder, z):
    """The preset decoder as the torch modules compute it, the queries repeated for every preset."""
    memory = torch.cat([decoder.z_to_tokens(z).view(len(z), decoder.n_memory_tokens, decoder.d_model),
                        decoder.z_to_mlp_token(z)[:, None]], dim=1)
    queries = (decoder.queries + decoder.positions).expand(len(z), -1, -1)
    return decoder.to_distributions(decoder.transformer(queries, memory))


def _plain_spectrogram_decoder(decoder, z):
    """The CNN decoder with every weight and activation in the default (contiguous) layout."""
    h, w = decoder.sizes[-1]
    with torch.no_grad():
        for p in decoder.parameters():
            p.data = p.data.contiguous()
    x = decoder.from_latent(z.view(len(z), decoder.map_channels, h, w).contiguous())
    for block, size in zip(decoder.blocks, decoder.sizes[-2:0:-1]):
        x = block(x, size)
    out = decoder.out(x, decoder.sizes[0])
    return out


def _loss(vae, preset_out, spectrogram_out, mu, variance, classes, numbers, spectrogram, attributes):
    config = LossConfig(beta=1e-3, chunk=2)
    ce, nll = vae.preset_losses(preset_out, classes, numbers)
    from spinvae.model.latent import kl_free_bits

    terms = {"kl": kl_free_bits(mu, variance, 0.1), "spectrogram": F.mse_loss(spectrogram_out, spectrogram),
             "categorical": ce, "numerical": nll,
             "attribute": attribute_term(config, mu, attributes, attributes.min(0).values, attributes.max(0).values)}
    return total_loss(config, terms, config.beta)


def test_the_training_step_gives_the_plain_modules_loss_and_gradients():
    torch.manual_seed(0)
    vae = SpinVAE(VAEConfig(**CPU_LIKE), LAYOUT, SHAPE).train()
    classes, numbers, spectrogram, attributes = _batch()
    z_noise = torch.randn(6, 64, generator=torch.Generator().manual_seed(1))

    def step(decode_preset, decode_spectrogram):
        vae.zero_grad()
        mu, variance = vae.encode(classes, numbers)
        z = mu + variance.sqrt() * z_noise
        loss = _loss(vae, decode_preset(z), decode_spectrogram(z), mu, variance, classes, numbers, spectrogram,
                     attributes)
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in vae.named_parameters() if p.grad is not None}

    fast_loss, fast_grads = step(vae.preset_decoder, vae.spectrogram_decoder)
    assert vae.spectrogram_decoder.out.up.weight.is_contiguous(memory_format=torch.channels_last)
    plain_loss, plain_grads = step(lambda z: _plain_decoder(vae.preset_decoder, z),
                                   lambda z: _plain_spectrogram_decoder(vae.spectrogram_decoder, z))
    torch.testing.assert_close(fast_loss, plain_loss, rtol=1e-5, atol=1e-6)
    assert fast_grads.keys() == plain_grads.keys() and len(fast_grads) > 50
    for name in fast_grads:
        torch.testing.assert_close(fast_grads[name], plain_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_the_shared_first_self_attention_matches_per_preset_attention_in_eval_and_with_dropout():
    torch.manual_seed(0)
    vae = SpinVAE(VAEConfig(**CPU_LIKE), LAYOUT, SHAPE).eval()
    z = torch.randn(5, 64)
    with torch.no_grad():
        torch.testing.assert_close(vae.preset_decoder(z), _plain_decoder(vae.preset_decoder, z), rtol=1e-5, atol=1e-5)
        # one preset alone decodes as it does in a batch
        torch.testing.assert_close(vae.preset_decoder(z[2:3]), vae.preset_decoder(z)[2:3], rtol=1e-5, atol=1e-5)
    dropout = SpinVAE(VAEConfig(**{**CPU_LIKE, "dropout": 0.1}), LAYOUT, SHAPE).train()
    torch.manual_seed(3)
    a = dropout.preset_decoder(z)
    torch.manual_seed(3)
    b = _plain_decoder(dropout.preset_decoder, z)
    torch.testing.assert_close(a, b)  # with dropout, every preset has its own mask, as in the plain modules
