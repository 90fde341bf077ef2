"""torchmetrics Metrics whose state is counts, so DDP sums them across processes."""
