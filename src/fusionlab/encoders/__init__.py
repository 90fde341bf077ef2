"""Encoder registry: text encoders (Hugging Face) and vision encoders with a stage pyramid."""
