"""resume=true insists on a resume point (resume=auto, the default, is tested in test_run_records.py)."""

from __future__ import annotations

import pytest

from fusionlab.train import run
from tests.conftest import compose_config


def test_resume_without_a_checkpoint_says_where_it_looked(tiny_overrides, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*last.ckpt"):
        run(compose_config(tiny_overrides + ["fusion=text_only", "resume=true"]))
