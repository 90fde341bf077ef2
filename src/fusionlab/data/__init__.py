"""Readers, images, the synthetic benchmark and the shared datamodule."""
