"""The papers'-shape benchmark: sentences lengthened as it says, and its tables as docs/benchmarks.md shows them."""

from __future__ import annotations

import torch

from benchmarks.paper_shapes import ARMS, PAPER_CONFIGS, arm_order, lengthened, markdown, operator_profile
from tests.conftest import CONF


def test_every_paper_config_the_benchmark_names_exists():
    for overrides in PAPER_CONFIGS.values():
        experiment = next(o for o in overrides if o.startswith("experiment="))
        assert (CONF / "experiment" / f"{experiment.split('=')[1]}.yaml").exists(), experiment


def test_sentences_are_lengthened_with_attended_random_pieces_after_their_own():
    batch = {"input_ids": torch.tensor([[101, 7, 102, 0], [101, 8, 9, 102]]),
             "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]]), "tags": torch.tensor([[1], [2]])}
    longer = lengthened(batch, 10)
    assert longer["input_ids"].shape == (2, 10) and longer["attention_mask"].shape == (2, 10)
    assert torch.equal(longer["input_ids"][:, :4], batch["input_ids"])
    assert torch.equal(longer["attention_mask"][:, :4], batch["attention_mask"])
    assert longer["attention_mask"][:, 4:].eq(1).all() and longer["input_ids"][:, 4:].ge(1000).all()
    assert longer["tags"] is batch["tags"]
    assert lengthened(batch, 3) is batch  # never cut


def test_each_way_of_stepping_goes_first_in_turn():
    orders = [arm_order(index) for index in range(len(ARMS) + 1)]
    assert [order[0] for order in orders] == [*ARMS, ARMS[0]]
    assert all(sorted(order) == sorted(ARMS) for order in orders)


def test_the_tables_show_each_method_its_speed_up_and_the_profile():
    method = {"fusion": "muse", "config": "experiment=muse_twitter2015", "text_tokens": 64,
              "vision": "resnet152_random", "vision_frozen": False, "step_seconds": [10.0, 12.0, 11.0],
              "before_seconds": [13.0, 15.0, 12.1], "speedup": 1.2, "bf16_seconds": [4.0, 5.0, 4.5],
              "bf16_speedup": 2.41,
              "parts": {"forward": 4.0, "backward": 6.5, "optimiser": 0.5},
              "forward_by_module": {"image_decoder": 2.0, "vision": 1.5, "output": 0.001}}
    result = {"batch_size": 8, "threads": 1, "rounds": 3, "methods": [method], "bf16_units": "AMX",
              "matmul_gflops_per_second": 98.7, "profiles": [
                  {"fusion": "muse", "operators": [{"operator": "aten::mm", "self_seconds": 3.7, "calls": 605}],
                   "compute_rates": [
                       {"family": "matrix products", "seconds": 5.0, "gflop": 470.4, "gflops_per_second": 94.08},
                       {"family": "every other operator", "seconds": 2.4, "gflop": None, "gflops_per_second": None}]},
                  {"fusion": "hvpnet", "operators": [{"operator": "aten::addmm", "self_seconds": 0.5, "calls": 89}],
                   "compute_rates": []}]}
    text = "\n".join(markdown(result))
    row = next(line for line in text.splitlines() if line.startswith("| muse"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[3:] == ["64", "11", "10.00 / 12.00", "4.00 / 6.50 / 0.50", "13", "1.20x", "4.5", "2.41x"]
    assert "bf16-mixed ran on this CPU's AMX bf16 units." in text
    assert "image_decoder 2.00, vision 1.50" in text and "output" not in text  # parts under 10 ms left out
    profile_row = next(line for line in text.splitlines() if line.startswith("| aten::mm"))
    assert [cell.strip() for cell in profile_row.strip("|").split("|")] == ["aten::mm", "3.7", "605"]
    rate_row = next(line for line in text.splitlines() if line.startswith("| matrix products"))
    assert [cell.strip() for cell in rate_row.strip("|").split("|")] == ["matrix products", "5.00", "470", "94"]
    other_row = next(line for line in text.splitlines() if line.startswith("| every other operator"))
    assert [cell.strip() for cell in other_row.strip("|").split("|")] == ["every other operator", "2.40", "", ""]
    assert text.count("runs at 99 GFLOP/s on this thread") == 2  # one profile per method profiled
    assert "Operators taking the most time in one muse step" in text
    hvpnet_row = next(line for line in text.splitlines() if line.startswith("| aten::addmm"))
    assert text.index("one hvpnet step") < text.index(hvpnet_row)
    assert [cell.strip() for cell in hvpnet_row.strip("|").split("|")] == ["aten::addmm", "0.5", "89"]


class _ConvAndLinearStep:
    """A stand-in for MethodStep: a 3x3 convolution and a linear layer, forward and backward."""

    def __init__(self):
        self.conv, self.linear = torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.Linear(16, 32)
        self.images, self.rows = torch.randn(2, 4, 5, 5), torch.randn(10, 16)

    def step(self):
        (self.conv(self.images).sum() + self.linear(self.rows).sum()).backward()


def test_the_compute_rates_count_the_step_s_flops_and_time_each_family():
    operators, rates = operator_profile(_ConvAndLinearStep())
    assert operators and all(o["self_seconds"] >= 0 for o in operators)
    by_family = {r["family"]: r for r in rates}
    linear, convolution = 2 * 10 * 16 * 32, 2 * 2 * 5 * 5 * 8 * 4 * 9  # forward FLOPs of each
    # forward and weight gradient; the inputs need no gradient
    assert by_family["matrix products"]["gflop"] * 1e9 == 2 * linear
    assert by_family["convolutions (forward and backward)"]["gflop"] * 1e9 == 2 * convolution
    assert by_family["matrix products"]["seconds"] > 0 and by_family["matrix products"]["gflops_per_second"] > 0
    assert by_family["every other operator"]["gflop"] is None


class _LinearStep(_ConvAndLinearStep):
    """A step with no convolution, as HVPNeT's with its CNN's features cached."""

    def step(self):
        self.linear(self.rows).sum().backward()


def test_a_family_the_step_does_not_run_gets_no_row():
    _, rates = operator_profile(_LinearStep())
    assert [r["family"] for r in rates] == ["matrix products", "every other operator"]
