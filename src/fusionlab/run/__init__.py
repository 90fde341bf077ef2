"""Running one experiment: the run folder and its lifecycle (``folder.RunFolder``), the run's identity and
fingerprint, resuming, interruption, and the record a finished run leaves."""
