"""performance.retain_freed_memory: a training process reuses the memory a step freed instead of asking the
kernel for fresh pages; off, glibc hands large blocks back and the next step faults them in again. And the
table ``benchmarks/freed_memory.py`` writes."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from benchmarks.freed_memory import markdown
from tests.conftest import CONF

# Applies the run's performance config as fusionlab.train does, then counts the page faults of allocating and
# filling a 64 MB tensor again after it was freed (above glibc's largest mmap threshold, so by default it is
# mapped afresh every time).
PROBE = """
import json, resource, sys
import torch
from hydra import compose, initialize_config_dir
from torch import nn
from fusionlab.run.performance import apply_performance

with initialize_config_dir(config_dir=sys.argv[1], version_base="1.3"):
    cfg = compose("config", overrides=sys.argv[2:])
apply_performance(nn.Linear(2, 2), **cfg.performance)
for _ in range(3):
    del_me = torch.ones(16 * 2**20)
    del del_me
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
again = torch.ones(16 * 2**20)
print(json.dumps({"faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""


def faults_of_a_freed_block_reused(*overrides: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, str(CONF), *overrides], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])["faults"]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_a_run_reuses_freed_memory_by_default_and_faults_it_in_afresh_when_told_not_to():
    retained = faults_of_a_freed_block_reused()
    released = faults_of_a_freed_block_reused("performance.retain_freed_memory=false")
    assert retained <= 8, retained  # the same pages again: next to no faults
    assert released >= 16 * 2**20 * 4 // (2 * 2**20), released  # at least one fault per page, 2 MB pages at most
    assert released > 100 * max(retained, 1)


def test_the_table_shows_medians_over_the_pairs_and_the_paired_speed_up():
    result = {"pairs": 3, "steps": 3, "warm_up_steps": 2, "threads": 1, "methods": [{
        "fusion": "muse", "speedup": 1.04,
        "default": [{"seconds": 16.0, "faults": 50000}, {"seconds": 15.0, "faults": 30000}, {"seconds": 17.0, "faults": 40000}],
        "retained": [{"seconds": 15.0, "faults": 0}, {"seconds": 14.5, "faults": 6}, {"seconds": 16.0, "faults": 2}]}]}
    row = next(line for line in markdown(result)[0].splitlines() if line.startswith("| muse"))
    assert [cell.strip() for cell in row.strip("|").split("|")] == ["muse", "16.00", "15.00", "40000 / 2", "1.04x"]
