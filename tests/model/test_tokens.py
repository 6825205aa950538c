"""Group tokens: the DX7's parameters as features of 7 group tokens, in and out, and a model that learns on them."""

from __future__ import annotations

import numpy as np
import torch

from spinvae.model.tokens import GroupEmbedding, GroupHead, TokenLayout
from spinvae.model.vae import SpinVAE, VAEConfig
from spinvae.synth.dx7.schema import DX7_SCHEMA

LAYOUT = TokenLayout.from_schema(DX7_SCHEMA)


def test_the_dx7_has_six_operator_groups_and_one_of_globals():
    groups = np.array(LAYOUT.groups)
    names = np.array(DX7_SCHEMA.learnable_names)
    assert LAYOUT.n_groups == 7
    for k in range(6):  # operators 6 .. 1 in the schema's order, 21 parameters each
        assert {n.split("_")[0] for n in names[groups == k]} == {f"op{6 - k}"}
        assert (groups == k).sum() == 21
    assert not any(n.startswith("op") for n in names[groups == 6]) and (groups == 6).sum() == 18


def test_the_group_head_puts_each_parameters_output_back_in_its_place():
    head = GroupHead(LAYOUT, d_model=8, n_out=3)
    with torch.no_grad():
        head.weight.zero_()
        # the bias of group g, slot s, output o says (g, s): decoded back, parameter i must read its own (g, s)
        g, s = torch.meshgrid(torch.arange(7), torch.arange(head.size), indexing="ij")
        head.bias.copy_(torch.stack([g, s, g * 0], dim=-1).float().reshape(7, -1))
    out = head(torch.zeros(2, 7, 8))
    slots = LAYOUT.group_slots()
    assert out.shape == (2, 144, 3)
    for i in range(144):
        group = LAYOUT.groups[i]
        slot = int((slots[group] == i).nonzero())
        assert out[0, i, 0] == group and out[0, i, 1] == slot


def test_a_parameter_changes_only_its_own_groups_token():
    embedding = GroupEmbedding(LAYOUT, d_model=16)
    values = DX7_SCHEMA.learnable(DX7_SCHEMA.canonical(np.zeros((1, DX7_SCHEMA.n_params), dtype=np.uint8)))
    classes, numbers = (torch.from_numpy(x) for x in DX7_SCHEMA.to_tokens(values))
    i = int(np.flatnonzero(~DX7_SCHEMA.is_categorical)[30])  # a numerical parameter of some operator
    moved = numbers.clone()
    moved[0, i] = 1.0 - moved[0, i]
    changed = (embedding(classes, moved) - embedding(classes, numbers)).abs().sum(-1)[0] > 0
    assert changed.tolist() == [k == LAYOUT.groups[i] for k in range(7)]


def test_a_group_token_model_fits_a_batch_it_sees_again():
    torch.manual_seed(0)
    config = VAEConfig(dim_z=32, d_model=32, n_heads=2, d_ff=64, encoder_layers=1, decoder_layers=1,
                       decoders=["preset"], tokens="group")
    vae = SpinVAE(config, LAYOUT, (1, 8, 8))
    rng = np.random.default_rng(0)
    values = (rng.random((8, 144)) * DX7_SCHEMA.cardinalities).astype(np.int64)
    classes, numbers = (torch.from_numpy(x) for x in DX7_SCHEMA.to_tokens(values))
    target = torch.from_numpy(values)
    optimizer = torch.optim.Adam(vae.parameters(), lr=3e-3)

    def wrong() -> float:
        with torch.no_grad():
            out = vae(classes, numbers, sample=False)
            return float((vae.preset_values(out.preset) != target).float().mean())

    before = wrong()
    for _ in range(150):
        out = vae(classes, numbers, sample=False)
        ce, nll = vae.token_nll(out.preset, classes, numbers)
        loss = ce.mean() + nll.mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert wrong() < 0.5 * before, (before, wrong())
