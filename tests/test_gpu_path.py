"""The GPU settings, checked on CPU: bf16-mixed trains every fusion x task with finite losses and gradients,
torch.compile keeps checkpoint keys and trains, the matmul precision follows the trainer config, and the
benchmark runs through the GPU settings (bf16, compile, held batches) and writes its GPU table. No test
needs a GPU: CUDA itself (synchronisation, inductor code, device memory) is not exercised here."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from torch import nn
from torch._dynamo.testing import CompileCounter

from benchmarks import run_all
from benchmarks.train_throughput import GPU_OVERRIDES, measure
from fusionlab.run.performance import apply_performance, compile_submodules
from fusionlab.train import assemble
from tests.conftest import compose_config

FUSIONS = ["text_only", "concat", "hvpnet", "muse", "pmei", "mase"]
TASKS = ["mner", "mre", "joint", "msa"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Tiny encoders on a small synthetic split; the generated data is shared by the module's tests."""
    root = tmp_path_factory.mktemp("gpu_path")
    return ["encoder=tiny", "logger=none", f"output_dir={root}/run", f"cache_root={root}/cache",
            "dataset.synthetic.train=32", "dataset.synthetic.val=8", "dataset.synthetic.test=8", "data.batch_size=8",
            "trainer.enable_progress_bar=false", "++trainer.max_steps=2", "++trainer.limit_val_batches=0",
            "++trainer.enable_checkpointing=false"]


class GradientCheck(L.Callback):
    """Per optimiser step: the loss, and for each parameter group how many gradients it got, whether all are
    finite and whether any is non-zero (read before Lightning clips them)."""

    def __init__(self):
        self.losses, self.groups = [], []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.losses.append(outputs["loss"].item())

    def on_before_optimizer_step(self, trainer, module, optimizer):
        grads = [[p.grad for p in group["params"] if p.grad is not None] for group in optimizer.param_groups]
        self.groups.append([(len(g), all(x.isfinite().all() for x in g), any(x.any() for x in g)) for g in grads])


def _train(overrides: list[str], callbacks=()):
    cfg = compose_config(overrides)
    parts = assemble(cfg)
    trainer = instantiate(cfg.trainer, callbacks=list(callbacks), logger=False, default_root_dir=cfg.output_dir)
    return parts.model, parts.datamodule, trainer  # MASE writes its allocation into default_root_dir


@pytest.mark.parametrize("fusion, task", [*((f, t) for f in FUSIONS for t in TASKS), ("muse_only_i", "msa")])
def test_bf16_mixed_trains_every_fusion_and_task_with_finite_gradients(small, fusion, task):
    check, dtypes = GradientCheck(), set()
    model, datamodule, trainer = _train(small + [f"fusion={fusion}", f"task={task}", "trainer.precision=bf16-mixed"],
                                        [check])
    hooks = [m.register_forward_hook(lambda m, i, out: dtypes.add(out.dtype))
             for m in model.modules() if isinstance(m, nn.Linear)]
    trainer.fit(model, datamodule=datamodule)
    for hook in hooks:
        hook.remove()
    assert torch.bfloat16 in dtypes  # the layers really ran in bf16
    assert len(check.losses) == 2 and all(math.isfinite(loss) for loss in check.losses), check.losses
    assert len(check.groups) == 2
    for step in check.groups:
        assert len(step) == len(model.parameter_groups())
        assert all(count > 0 and finite and nonzero for count, finite, nonzero in step), step
    assert all(p.dtype == torch.float32 for p in model.parameters())  # bf16 autocast keeps fp32 weights


def test_compiled_submodules_train_and_keep_their_checkpoint_keys(small):
    model, datamodule, trainer = _train(small + ["fusion=hvpnet", "task=mner", "trainer.max_steps=3"])
    keys = list(model.state_dict())
    backend = CompileCounter()  # the "eager" backend, counting the graphs it is given
    names = compile_submodules(model, backend=backend)
    assert {"method.text.model", "method.vision", "method.mapping.0", "method.gates.0", "head"} <= set(names)
    trainer.fit(model, datamodule=datamodule)
    assert trainer.global_step == 3 and backend.frame_count > 0 and backend.op_count > 0
    assert list(model.state_dict()) == keys  # no "_orig_mod." wrapper in any key
    fresh = assemble(compose_config(small + ["fusion=hvpnet", "task=mner"])).model
    fresh.load_state_dict(model.state_dict())  # strict: an uncompiled model reads the compiled one's weights


def test_matmul_precision_follows_the_trainer_config_and_is_applied():
    precision = {trainer: compose_config([f"trainer={trainer}", "output_dir=/tmp/x"]).performance.matmul_precision
                 for trainer in ("cpu", "ddp_cpu", "gpu", "ddp")}
    assert precision == {"cpu": "highest", "ddp_cpu": "highest", "gpu": "high", "ddp": "high"}
    before = torch.get_float32_matmul_precision()
    try:
        apply_performance(nn.Linear(2, 2), matmul_precision="medium")
        assert torch.get_float32_matmul_precision() == "medium"
        with pytest.raises(ValueError, match="matmul_precision='hgh'"):
            apply_performance(nn.Linear(2, 2), matmul_precision="hgh")
    finally:
        torch.set_float32_matmul_precision(before)


def test_the_benchmark_loop_measures_on_cpu_and_through_the_gpu_settings(small):
    result = measure([*small, "fusion=concat", "task=mner"], repeats=2, steps=2)
    assert (result["fusion"], result["precision"], result["compile"], result["batch_size"]) == ("concat", "32-true",
                                                                                               False, 8)
    assert len(result["samples_per_second"]) == 3 and result["samples_per_second"]["min"] > 0
    assert result["peak_memory_mb"] > 0
    # What --gpu adds, on CPU: bf16 autocast, torch.compile (here its eager backend) and batches held in memory.
    backend = CompileCounter()
    result = measure([*small, "fusion=hvpnet", "task=mner"], repeats=1, steps=2, bf16=True, compile=True,
                     compile_backend=backend, held_batches=2)
    assert (result["precision"], result["compile"]) == ("bf16-mixed", True) and backend.frame_count > 0
    assert result["samples_per_second"]["median"] > 0 and result["warmup_seconds"] > 0


def test_the_gpu_benchmark_builds_the_papers_encoder_shapes_offline():
    cfg = compose_config(["fusion=hvpnet", *GPU_OVERRIDES, "output_dir=/tmp/x"])
    assert (cfg.data.image_size, cfg.trainer.precision, cfg.performance.matmul_precision) == (224, "bf16-mixed", "high")
    text, vision = instantiate(cfg.encoder.text), instantiate(cfg.encoder.vision)
    config = text.model.config
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.intermediate_size,
            config.vocab_size) == (768, 12, 12, 3072, 30522)  # bert-base-uncased's
    assert sum(p.numel() for p in text.parameters()) == 108_891_648  # bert-base-uncased without its pooler
    assert sum(p.numel() for p in vision.parameters()) == 23_508_032  # ResNet-50 without its classifier
    assert vision.stage_channels == [256, 512, 1024, 2048] and not vision.frozen


def test_the_gpu_table_has_a_row_per_fusion_and_compile_setting_and_shows_a_failure(monkeypatch):
    def attempt(script, fusion, *flags):
        if fusion == "muse" and "--compile" in flags:
            return {"error": "torch._dynamo.exc.Unsupported: a graph break"}
        return {"samples_per_second": {"min": 100.0, "median": 128.0, "max": 130.0}, "batch_size": 32,
                "peak_memory_mb": 20480.4, "warmup_seconds": 61.6, "flags": flags}

    monkeypatch.setattr(run_all, "attempt", attempt)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "NVIDIA H100 80GB HBM3")
    lines = run_all.gpu_section()
    assert "Machine: NVIDIA H100 80GB HBM3" in lines[2]
    rows = [line for line in lines if line.startswith(("| text_only", "| muse"))]
    assert rows == ["| text_only | no | 100.0 / 128.0 / 130.0 | 250 | 20480 | 62 |",
                    "| text_only | yes | 100.0 / 128.0 / 130.0 | 250 | 20480 | 62 |",
                    "| muse | no | 100.0 / 128.0 / 130.0 | 250 | 20480 | 62 |",
                    "| muse | yes | failed: torch._dynamo.exc.Unsupported: a graph break | | | |"]
    assert sum(line.startswith("| ") for line in lines) == 2 + 2 * 6  # header, rule, 6 fusions x compile off/on


def test_a_benchmark_run_rewrites_its_own_section_of_the_doc_only(tmp_path, monkeypatch):
    doc = tmp_path / "benchmarks.md"
    monkeypatch.setattr(run_all, "DOC", doc)
    run_all.write_section("cpu", ["## CPU", "old cpu"])
    run_all.write_section("gpu", ["## GPU", "old gpu"])
    run_all.write_section("gpu", ["## GPU", "new gpu"])
    text = doc.read_text()
    assert text.startswith(run_all.HEADER) and "old cpu" in text and "new gpu" in text and "old gpu" not in text
    assert text.count("<!-- begin gpu -->") == 1 and text.index("old cpu") < text.index("new gpu")
