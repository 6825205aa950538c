"""Writing what ``spinvae predict`` computes: latent means and decoded presets of a split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import BasePredictionWriter

PREDICTIONS = "predictions.parquet"


class PredictionWriter(BasePredictionWriter):
    """Writes ``<out>/predictions.parquet``: ``uid``, ``z_0`` ... (latent means), then the decoded
    value of each learnable parameter by name (for models with a preset decoder).

    Args:
        out: output folder; None writes into the run's log folder.
    """

    def __init__(self, out: str | None = None):
        super().__init__(write_interval="epoch")
        self.out = out

    def write_on_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, predictions: Any,
                           batch_indices: Any) -> None:
        batches = predictions[0] if predictions and isinstance(predictions[0], list) else predictions
        if not batches:
            return
        mu = torch.cat([b["mu"] for b in batches]).float().cpu().numpy()
        table = pd.DataFrame(mu, columns=[f"z_{i}" for i in range(mu.shape[1])])
        table.insert(0, "uid", [uid for b in batches for uid in b["uid"]])
        if batches[0]["values"] is not None:
            values = torch.cat([b["values"] for b in batches]).cpu().numpy().astype(np.int64)
            table = pd.concat([table, pd.DataFrame(values, columns=list(pl_module.schema.learnable_names))], axis=1)
        out = Path(self.out or trainer.log_dir or ".")
        out.mkdir(parents=True, exist_ok=True)
        suffix = "" if trainer.world_size == 1 else f".rank{trainer.global_rank}"
        table.to_parquet(out / (PREDICTIONS + suffix), index=False)
