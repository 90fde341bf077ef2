"""What the commands print for a person at a console: a run's summary and scores, progress bars on long
silent work, and third-party noise kept out of the way."""
