"""Training: the LightningModule, its objective, schedules and metrics."""
