"""Cross-task transfer: an mre run initialised from an mner checkpoint keeps all but the task's heads."""

from __future__ import annotations

import torch

from fusionlab.run.transfer import transfer_weights
from fusionlab.train import assemble, run
from tests.conftest import compose_config


def test_mre_starts_from_mner_weights_except_heads(tiny_overrides, tmp_path):
    run(compose_config(tiny_overrides + ["fusion=hvpnet", "task=mner"]))
    checkpoint = tmp_path / "run" / "checkpoints" / "best.ckpt"
    source = torch.load(checkpoint, weights_only=True)["state_dict"]
    model = assemble(compose_config(tiny_overrides + ["fusion=hvpnet", "task=mre"])).model
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    report = transfer_weights(model, checkpoint)
    state = model.state_dict()
    assert torch.equal(state["method.mapping.0.0.weight"], source["method.mapping.0.0.weight"])  # the visual prefix mapping
    assert torch.equal(state["method.text.model.encoder.layer.0.attention.self.query.weight"],
                       source["method.text.model.encoder.layer.0.attention.self.query.weight"])
    assert all(name in report["reinitialised"] for name in state if name.startswith("head."))
    assert torch.equal(state["head.classify.weight"], fresh["head.classify.weight"])  # the relation classifier
    embeddings = "method.text.model.embeddings.word_embeddings.weight"
    shared = len(source[embeddings])
    assert report["partly_copied"] == [embeddings] and len(state[embeddings]) == shared + 4  # the 4 markers
    assert torch.equal(state[embeddings][:shared], source[embeddings])
    assert torch.equal(state[embeddings][shared:], fresh[embeddings][shared:])


def test_init_from_runs_end_to_end(tiny_overrides, tmp_path):
    run(compose_config(tiny_overrides + ["fusion=concat", "task=mner"]))
    checkpoint = tmp_path / "run" / "checkpoints" / "best.ckpt"
    results = run(compose_config(tiny_overrides + ["fusion=concat", "task=mre", f"init_from={checkpoint}",
                                                   f"output_dir={tmp_path}/transferred"]))
    assert results["config"]["init_from"] == str(checkpoint) and "f1" in results["metrics"]["test"]
