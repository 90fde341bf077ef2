"""One LightningModule per fusion method, all on the shared base."""
