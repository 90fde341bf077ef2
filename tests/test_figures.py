"""The report's figures: the baseline first, every seed a point beside the mean and its t-interval, the baseline's
line, † where the tables found significance, the y-range in the axis label; no file when there is nothing to draw."""

from __future__ import annotations

import matplotlib.collections
import pytest
import torch

from fusionlab.analysis.cells import collect
from fusionlab.analysis.comparison import build_tables
from fusionlab.analysis.plots.allocation import draw_allocation
from fusionlab.analysis.plots.comparison import draw_groups, draw_low_resource, draw_scores
from fusionlab.analysis.plots.figure import NothingToDraw, colours, t_interval
from fusionlab.report import report
from tests.test_report import _fake_run

GROUPS = ("text_decides", "text_decides_irrelevant_image")


def _points(axis) -> int:
    """How many seed points the panel scatters."""
    return sum(len(c.get_offsets()) for c in axis.collections if isinstance(c, matplotlib.collections.PathCollection))


def _dashed_levels(axis) -> list[float]:
    """The y of every dashed horizontal line (the baseline's mean)."""
    return [line.get_ydata()[0] for line in axis.lines if line.get_linestyle() == "--" and len(set(line.get_ydata())) == 1]


@pytest.fixture
def runs(tmp_path):
    """Three rows x three seeds: the baseline, one ~10 points better on every seed, one the same."""
    for seed, base in zip((1, 2, 3), (0.70, 0.72, 0.71)):
        groups = {GROUPS[0]: {"f1": base}, GROUPS[1]: {"f1": base - 0.1}}
        _fake_run(tmp_path, "text_only", seed, base, groups)
        _fake_run(tmp_path, "better", seed, base + 0.10 + 0.001 * seed, groups)
        _fake_run(tmp_path, "same", seed, base + (0.01, -0.01, 0.0)[seed - 1], groups)
    return tmp_path


def test_the_scores_figure_shows_every_seed_the_baseline_first_and_its_line_and_marks_significance(runs, tmp_path):
    cells = collect(runs)
    figure = draw_scores(cells, build_tables(cells), tmp_path / "scores.png")
    (axis,) = figure.axes
    assert [t.get_text() for t in axis.get_xticklabels()] == ["text_only", "better", "same"]
    assert _points(axis) == 9  # 3 rows x 3 seeds
    assert _dashed_levels(axis) == [pytest.approx(71.0)]  # text_only's mean, in %
    assert [a.get_text() for a in axis.texts] == ["†"]  # better only, as the tables mark it
    bottom, top = axis.get_ylim()
    assert axis.get_ylabel() == f"test F1 (%); axis {bottom:g}–{top:g}" and 60 < bottom < 70 and 82 < top < 100
    assert "95 % t-interval over seeds" in figure.texts[0].get_text().replace("\n", " ")
    assert (tmp_path / "scores.png").read_bytes()[:4] == b"\x89PNG"
    low, high = t_interval([0.70, 0.72, 0.71])  # mean ± t(0.975, 2) x sem
    assert (low, high) == (pytest.approx(0.71 - 4.3027 * 0.01 / 3 ** 0.5, abs=1e-4), pytest.approx(0.71 + 0.02484, abs=1e-4))
    assert t_interval([0.7]) is None


def test_the_groups_figure_draws_both_groups_per_seed_and_is_not_drawn_without_them(runs, tmp_path):
    cells = collect(runs)
    figure = draw_groups(cells, build_tables(cells), tmp_path / "groups.png")
    (axis,) = figure.axes
    assert [t.get_text() for t in axis.get_xticklabels()] == ["text_only", "better", "same"]
    assert _points(axis) == 18  # 3 rows x 3 seeds x 2 groups
    assert sorted(_dashed_levels(axis)) == [pytest.approx(61.0), pytest.approx(71.0)]
    plain = tmp_path / "plain"
    for seed in (1, 2):
        _fake_run(plain, "text_only", seed, 0.7)
    (plain / "report").mkdir()
    (plain / "report" / "groups.png").write_bytes(b"an earlier report's blank figure")
    out = report(plain)
    assert not (out / "groups.png").exists() and not (out / "low_resource.png").exists()
    text = (out / "report.md").read_text()
    assert "- `groups.png`: not drawn: no run has the evidence groups" in text and "- `scores.png`: each row" in text
    with pytest.raises(NothingToDraw, match="more than one share"):
        draw_low_resource(collect(plain), build_tables(collect(plain)), tmp_path / "low.png")


def test_the_low_resource_figure_has_a_point_per_seed_and_share_with_the_baseline_first(tmp_path):
    for seed in (1, 2):
        for ratio, score in ((0.5, 0.6), (1.0, 0.7)):
            _fake_run(tmp_path, "text_only", seed, score + 0.01 * seed, ratio=ratio)
            _fake_run(tmp_path, "concat", seed, score + 0.05 + 0.01 * seed, ratio=ratio)
    cells = collect(tmp_path)
    figure = draw_low_resource(cells, build_tables(cells), tmp_path / "low_resource.png")
    (axis,) = figure.axes
    assert _points(axis) == 8  # 2 rows x 2 shares x 2 seeds
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["text_only", "concat"]
    assert [line.get_linestyle() for line in axis.lines if line.get_label() in ("text_only", "concat")] == ["--", "-"]
    assert axis.get_xlabel() == "share of the training data (data.sample_ratio)" and "axis" in axis.get_ylabel()


def test_the_allocation_figure_draws_each_seed_their_mean_and_the_uniform_start(tmp_path):
    trajectories = torch.tensor([[[0.5, 0.5], [0.3, 0.7]], [[0.5, 0.5], [0.5, 0.5]]])  # [seeds, rounds, modalities]
    (axis,) = draw_allocation(trajectories, ["text", "image"], tmp_path / "z.png").axes
    assert len(axis.lines) == 1 + 2 * (2 + 1)  # uniform; per modality each seed and the mean
    means = {line.get_label(): line.get_ydata() for line in axis.lines if line.get_label().endswith("2 seeds")}
    assert list(means["image: mean of 2 seeds"]) == pytest.approx([0.5, 0.6])
    assert axis.get_ylabel() == "allocation z (axis 0–1)" and axis.lines[0].get_ydata()[0] == 0.5


def test_with_a_setting_as_baseline_each_fusion_keeps_one_colour_and_no_single_mean_line_is_drawn(runs, tmp_path):
    cells = collect(runs)
    tables = build_tables(cells, baseline="trainer.precision=32-true")  # no run has the key: no baseline row
    figure = draw_scores(cells, tables, tmp_path / "scores.png")
    (axis,) = figure.axes
    assert _dashed_levels(axis) == [] and "dashed" not in figure.texts[0].get_text()
    rows = ["muse [trainer.precision=32-true]", "hvpnet [trainer.precision=32-true]", "muse [trainer.precision=bf16-mixed]"]
    setting, fusion = colours(rows, "trainer.precision=32-true"), colours(rows, "muse")
    assert setting[rows[0]] == setting[rows[2]] != setting[rows[1]] != "black"
    assert fusion[rows[0]] == fusion[rows[2]] == "black" != fusion[rows[1]]
