"""Training the attribute proxy: measured better than the mean on held-out presets; its file round-trips."""

from __future__ import annotations

import pytest
import torch

from spinvae.errors import UserError
from spinvae.model.proxy import ProxyConfig
from spinvae.training.proxy import ProxyTraining, fit_proxy, load_proxy, save_proxy


@pytest.fixture(scope="module")
def trained(tiny_dataset):
    return fit_proxy(tiny_dataset, ProxyConfig(hidden=64, layers=2), ProxyTraining(epochs=60, batch_size=32))


def test_the_proxy_predicts_held_out_attributes_better_than_their_mean(trained):
    _, report = trained
    assert report.n_valid == 10 and report.n_train > 60  # the tiny dataset's splits
    assert len(report.r2) == len(report.attributes) > 0
    # R^2 against the train split's mean, on the validation split: above 0 means better than the mean
    assert report.mean_r2 > 0.0, report.mean_r2
    assert report.mean_spearman > 0.3, report.mean_spearman


def test_a_proxy_file_round_trips_and_a_bad_one_is_one_line(trained, tmp_path):
    proxy, report = trained
    path = save_proxy(tmp_path / "proxy.safetensors", proxy, "dx7", report)
    loaded, synth, again = load_proxy(path)
    assert synth == "dx7" and again == report
    x = torch.rand(5, proxy.net[0].in_features)
    torch.testing.assert_close(loaded(x), proxy.eval()(x))
    assert not any(p.requires_grad for p in loaded.parameters())
    with pytest.raises(UserError, match="no such proxy file"):
        load_proxy(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(path.read_bytes()[:100])
    with pytest.raises(UserError, match="bad.safetensors: not a spinvae proxy file"):
        load_proxy(tmp_path / "bad.safetensors")
