"""Messages that tell a fusionlab user nothing, silenced by their text; every other warning is kept.

- alembic's "setup plugin" lines when Optuna's sweeper loads (``hydra.hydra_logging`` in ``conf/config.yaml``);
- Lightning's "Tip" advertisements, its notice that a method's own callbacks (``configure_callbacks``) are
  added, and its notice that the training set has fewer batches than the
  logging interval (small sets log once per epoch: expected);
- Lightning's notice of modules in eval mode at the start of training (frozen encoders are, by design);
- the ``LeafSpec`` deprecation torch's pytree raises inside Lightning (not fusionlab's code);
- transformers' notice, on every run, that resized token embeddings are drawn from a normal distribution
  (fusionlab adds the task's marker tokens on purpose: ``fusionlab.encoders.text``), and its bar while
  loading a small encoder's weights from disk (a fraction of a second).
"""

from __future__ import annotations

import logging
import warnings

from transformers.utils import logging as transformers_logging

WARNINGS = (r".*isinstance\(treespec, LeafSpec\)", r".*smaller than the logging interval",
            r".*module.* in eval mode", r".*modules? in eval mode")
LOG_MESSAGES = {"lightning.pytorch.utilities.rank_zero": ("💡 Tip", "The following callbacks returned in"),
                "transformers.modeling_utils": ("The new embeddings will be initialized",
                                                "The new lm_head weights will be initialized")}


class _Drop(logging.Filter):
    def __init__(self, starts: tuple[str, ...]):
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).lstrip().startswith(self.starts)


def quiet_known_noise() -> None:
    """Install the filters (idempotent: a sweep's runs call it once each)."""
    transformers_logging.disable_progress_bar()
    for pattern in WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for name, starts in LOG_MESSAGES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Drop) for f in logger.filters):
            logger.addFilter(_Drop(starts))
