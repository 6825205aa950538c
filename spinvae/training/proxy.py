"""Training the attribute proxy (:mod:`spinvae.model.proxy`) on a built dataset, and its file.

The proxy learns, from the train split's real presets and the attributes of their real renders, to
predict a preset's attributes from its parameters; its accuracy is measured on the validation split
(per attribute: R^2 against the train split's mean, and Spearman's rank correlation), never assumed.
Decoded presets are distributions, not one-hot classes and exact numbers, so the train inputs are
softened at random (``soften``): each categorical's one-hot mixed with its classes' uniform
distribution, each number moved by Gaussian noise, both by a random amount per preset up to
``soften``, so the proxy has seen inputs like the decoder's.

A proxy is one safetensors file: its weights, and in the header's metadata its architecture, the
synth, the attributes it predicts (by name, in order) and its validation figures.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, safe_open, save_file
from scipy.stats import spearmanr

from spinvae.data.datamodule import PresetDataset
from spinvae.data.manifest import read_manifest
from spinvae.errors import UserError
from spinvae.model.proxy import AttributeProxy, ProxyConfig, n_token_features, token_features
from spinvae.model.tokens import TokenLayout
from spinvae.synth.registry import get_synth

PROXY_FORMAT = "spinvae-proxy/1"


@dataclass(frozen=True)
class ProxyTraining:
    """How the proxy is trained: ``epochs`` over the train split in batches of ``batch_size`` (AdamW,
    ``lr`` with a cosine decay, ``weight_decay``), inputs softened by up to ``soften`` (module docstring);
    ``seed`` fixes the initialisation, the order and the softening."""

    epochs: int = 40
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    soften: float = 0.3
    seed: int = 0


@dataclass
class ProxyReport:
    """A trained proxy's validation figures: per attribute (in ``attributes``' order) ``r2`` and
    ``spearman``, the mean of each, the presets of each split and the training time (s)."""

    attributes: list[str]
    r2: list[float]
    spearman: list[float]
    mean_r2: float
    mean_spearman: float
    n_train: int
    n_valid: int
    seconds: float


def _split(data: str | Path, split: str, layout: TokenLayout) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Proxy inputs (n, F) and attributes (n, A) of a split's presets, and the attributes' names."""
    dataset = PresetDataset(data, split)
    if not len(dataset.attribute_names):
        raise UserError(f"{data}: the dataset has no attributes (built without features); the proxy learns them")
    classes, numbers = (torch.from_numpy(x) for x in dataset.synth.schema.to_tokens(dataset.values))
    return token_features(layout, classes, numbers), torch.tensor(dataset.attributes), list(dataset.attribute_names)


def soften_features(features: torch.Tensor, layout: TokenLayout, cardinalities: torch.Tensor, amount: torch.Tensor,
                    generator: torch.Generator) -> torch.Tensor:
    """Real presets' proxy inputs (B, F) made like decoded ones, by ``amount`` (B,) in [0, 1]: numbers
    moved by N(0, (amount / 10)^2) and clipped to [0, 1], one-hots mixed with the uniform distribution
    over each parameter's classes (weight ``amount``)."""
    n_num = len(layout.numerical)
    numbers = features[:, :n_num] + amount[:, None] / 10 * torch.randn(features[:, :n_num].shape, generator=generator)
    parts = [numbers.clamp(0.0, 1.0)]
    if len(layout.categorical):
        one_hot = features[:, n_num:].reshape(len(features), len(layout.categorical), layout.max_classes)
        k = torch.arange(layout.max_classes)
        classes = cardinalities[layout.categorical]
        uniform = (k < classes[:, None]).float() / classes[:, None].float()
        a = amount[:, None, None]
        parts.append(((1 - a) * one_hot + a * uniform).flatten(1))
    return torch.cat(parts, dim=1)


def fit_proxy(data: str | Path, config: ProxyConfig = ProxyConfig(), training: ProxyTraining = ProxyTraining(),
              progress: bool = False) -> tuple[AttributeProxy, ProxyReport]:
    """Train a proxy on ``data``'s train split; its figures on the validation split."""
    t0 = time.perf_counter()
    schema = get_synth(read_manifest(data).synth).schema
    layout = TokenLayout.from_schema(schema)
    train_x, train_y, names = _split(data, "train", layout)
    valid_x, valid_y, _ = _split(data, "valid", layout)
    cardinalities = torch.as_tensor(np.asarray(schema.cardinalities), dtype=torch.long)
    torch.manual_seed(training.seed)
    generator = torch.Generator().manual_seed(training.seed)
    proxy = AttributeProxy(n_token_features(layout), len(names), config)
    optimizer = torch.optim.AdamW(proxy.parameters(), lr=training.lr, weight_decay=training.weight_decay)
    steps = training.epochs * -(-len(train_x) // training.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(steps, 1))
    for epoch in range(training.epochs):
        proxy.train()
        order = torch.randperm(len(train_x), generator=generator)
        for i in range(0, len(order), training.batch_size):
            batch = order[i : i + training.batch_size]
            amount = training.soften * torch.rand(len(batch), generator=generator)
            x = soften_features(train_x[batch], layout, cardinalities, amount, generator)
            loss = F.mse_loss(proxy(x), train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        if progress:
            print(f"epoch {epoch + 1}/{training.epochs}: train MSE {loss.item():.3f}", flush=True)
    report = evaluate_proxy(proxy, valid_x, valid_y, train_y.mean(0), names)
    report.n_train, report.n_valid, report.seconds = len(train_x), len(valid_x), time.perf_counter() - t0
    return proxy, report


@torch.no_grad()
def evaluate_proxy(proxy: AttributeProxy, x: torch.Tensor, y: torch.Tensor, train_mean: torch.Tensor,
                   names: list[str]) -> ProxyReport:
    """Per-attribute R^2 (1 - the proxy's squared error over the train mean's) and Spearman on (x, y)."""
    proxy.eval()
    predicted = proxy(x)
    r2 = 1 - ((predicted - y) ** 2).sum(0) / ((y - train_mean) ** 2).sum(0)
    rho = [float(spearmanr(predicted[:, a].numpy(), y[:, a].numpy()).statistic) for a in range(y.shape[1])]
    return ProxyReport(names, r2.tolist(), rho, float(r2.mean()), float(np.mean(rho)), 0, len(x), 0.0)


def save_proxy(path: str | Path, proxy: AttributeProxy, synth: str, report: ProxyReport) -> Path:
    """Write a proxy file (module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_features = proxy.net[0].in_features
    metadata = {"format": PROXY_FORMAT, "synth": synth, "n_features": str(n_features),
                "config": json.dumps(asdict(proxy.config)), "report": json.dumps(asdict(report))}
    save_file({k: v.contiguous() for k, v in proxy.state_dict().items()}, str(path), metadata=metadata)
    return path


def load_proxy(path: str | Path) -> tuple[AttributeProxy, str, ProxyReport]:
    """A proxy file's proxy (eval mode, frozen), its synth and its report; one-line UserError for a file
    that is missing or not a spinvae proxy."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such proxy file")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        if metadata.get("format") != PROXY_FORMAT:
            raise ValueError(f"format {metadata.get('format')!r}, expected {PROXY_FORMAT}")
        report = ProxyReport(**json.loads(metadata["report"]))
        proxy = AttributeProxy(int(metadata["n_features"]), len(report.attributes),
                               ProxyConfig(**json.loads(metadata["config"])))
        proxy.load_state_dict(load_file(str(path)))
    except Exception as error:  # a truncated file, another program's, a proxy of other attributes
        raise UserError(f"{path}: not a spinvae proxy file ({error})") from None
    proxy.eval().requires_grad_(False)
    return proxy, metadata["synth"], report
