"""Task heads, losses, decoding and torchmetrics metrics: mner, mre, joint, msa."""
