"""The side-by-side benchmark against the authors' code: it pads as their datasets pad, names what is missing
when a clone is not one, keeps a CUDA-only call of theirs on the CPU only while it runs, and its table shows the
medians and per-batch ratios it measured. (The authors' code itself is not in CI: `make bench-reference` runs it.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from benchmarks.against_reference import (
    RESAMPLES,
    UNCACHED,
    ReferenceCode,
    markdown,
    median_interval,
    numpy_takes_bf16,
    on_cpu_cuda_is_identity,
    padded,
    per_batch_ratios,
)


def test_padding_to_the_authors_max_seq_adds_zeros_or_cuts():
    values = torch.tensor([[101, 7, 102], [101, 102, 0]])
    assert padded(values, 5).tolist() == [[101, 7, 102, 0, 0], [101, 102, 0, 0, 0]]
    assert padded(values, 2).tolist() == [[101, 7], [101, 102]]


def test_a_folder_that_is_not_a_clone_is_named_with_what_it_lacks(tmp_path):
    (tmp_path / "HVPNeT" / "models").mkdir(parents=True)
    (tmp_path / "HVPNeT" / "models" / "bert_model.py").write_text("")
    with pytest.raises(FileNotFoundError, match=r"MuSE/code/main.py: not found.*RecklessRonan/MuSE"):
        ReferenceCode(tmp_path / "HVPNeT", tmp_path / "MuSE")
    with pytest.raises(FileNotFoundError, match=r"elsewhere/models/bert_model.py: not found.*zjunlp/HVPNeT"):
        ReferenceCode(tmp_path / "elsewhere", tmp_path / "MuSE")


def test_cuda_is_the_identity_only_inside_the_authors_cpu_call():
    original = torch.Tensor.cuda
    tensor = torch.zeros(2)
    with on_cpu_cuda_is_identity():
        assert tensor.cuda() is tensor
    assert torch.Tensor.cuda is original


def test_numpy_takes_bf16_values_as_float32_only_inside_the_authors_bf16_step():
    original = torch.Tensor.numpy
    values = torch.tensor([0.5, -1.25, 3.0])
    with numpy_takes_bf16():
        converted = values.bfloat16().numpy()
        assert converted.dtype == np.float32 and converted.tolist() == [0.5, -1.25, 3.0]
        assert values.numpy().dtype == np.float32 and values.double().numpy().dtype == np.float64
    assert torch.Tensor.numpy is original
    with pytest.raises(TypeError, match="BFloat16"):
        values.bfloat16().numpy()


def test_each_ratio_sets_the_authors_step_over_ours_in_the_arithmetic_it_names():
    seconds = {"reference": [6.0, 4.0], "ours": [2.0, 2.0], "reference bf16-mixed": [3.0, 2.0],
               "ours bf16-mixed": [1.5, 1.0]}  # MuSE's sides: no uncached one
    assert per_batch_ratios(seconds) == {"ours": [3.0, 2.0], "ours bf16-mixed": [4.0, 4.0],
                                         "both bf16-mixed": [2.0, 2.0]}


def test_the_table_shows_median_seconds_and_the_median_of_per_batch_ratios():
    result = {"commits": {"hvpnet": "410bd0c", "muse": "812dc19"}, "bf16_units": "AMX", "methods": [
        {"fusion": "hvpnet", "config": "experiment=hvpnet_twitter2015", "pairs": 1,
         "seconds": {"ours": [2.0], UNCACHED: [4.0], "ours bf16-mixed": [1.5], "reference": [6.0],
                     "reference bf16-mixed": [3.0]},
         "ratios": {"ours": [3.0], UNCACHED: [1.5], "ours bf16-mixed": [4.0], "both bf16-mixed": [2.0]},
         "gflop": {"reference": [700.0, 700.0], "ours": [170.0, 180.0]}},
        {"fusion": "muse", "config": "experiment=muse_twitter2015", "pairs": 3,
         "seconds": {"ours": [10.0, 12.0, 11.0], "ours bf16-mixed": [5.0, 6.0, 7.0], "reference": [13.0, 12.0, 16.5],
                     "reference bf16-mixed": [7.0, 6.0, 8.0]},
         "ratios": {"ours": [1.3, 1.0, 1.5], "ours bf16-mixed": [2.6, 2.0, 2.36], "both bf16-mixed": [1.4, 1.0, 1.14]},
         "gflop": {"reference": [1400.0], "ours": [1000.0]}}]}
    lines = markdown(result)
    assert any("zjunlp/HVPNeT at 410bd0c, RecklessRonan/MuSE at 812dc19. bf16 units: AMX." in line for line in lines)
    table = [line for text in lines for line in text.splitlines() if line.startswith("| ")]
    cells = {row.split("|")[1].strip(): [cell.strip() for cell in row.strip("|").split("|")] for row in table}
    assert cells["hvpnet"] == ["hvpnet", "experiment=hvpnet_twitter2015", "1", "6.00", "2.00",
                               "3.00x [-] (3.00 / 3.00)", "4.00", "1.50x [-] (1.50 / 1.50)", "1.50",
                               "4.00x [-] (4.00 / 4.00)", "3.00", "2.00x [-] (2.00 / 2.00)",  # one batch: no interval
                               "700", "175", "4.00x"]
    assert cells["muse"] == ["muse", "experiment=muse_twitter2015", "3", "13.00", "11.00",
                             "1.30x [1.00, 1.50] (1.00 / 1.50)", "-", "-",  # MuSE trains its CNN: no cache to leave out
                             "6.00", "2.36x [2.00, 2.60] (2.00 / 2.60)", "7.00", "1.14x [1.00, 1.40] (1.00 / 1.40)",
                             "1400", "1000", "1.40x"]


def test_the_interval_of_a_median_ratio_is_scipys_percentile_bootstrap_over_the_batches():
    assert median_interval([2.0]) is None
    assert median_interval([2.0] * 5) == (2.0, 2.0)
    ratios = [3.1, 3.5, 3.9, 4.4, 3.7, 5.2, 3.6, 4.0, 3.3, 4.8, 3.8, 4.1]
    expected = stats.bootstrap((np.array(ratios),), np.median, n_resamples=RESAMPLES, method="percentile",
                               random_state=0)
    low, high = median_interval(ratios)
    assert (low, high) == (expected.confidence_interval.low, expected.confidence_interval.high)
    assert 3.1 < low < np.median(ratios) < high < 5.2  # narrower than the batches' range
    assert median_interval(ratios, level=0.5)[0] > low
