"""A run records a result only when it trained, validated and tested something: a diverged run stops and is
counted as failed, settings that would train, validate or test nothing are refused before anything is built,
an init_from of which no weight fits is refused, and an unseen label is warned once."""

from __future__ import annotations

import json
import re

import pytest
import torch

from fusionlab.report import report
from fusionlab.run.transfer import transfer_weights
from fusionlab.train import assemble, run
from tests.conftest import compose_config
from tests.test_labels_and_inputs import _real, _twitter


def test_a_diverged_run_stops_with_a_clear_error_and_the_report_counts_it_as_failed(tiny_overrides, tmp_path):
    diverging = ["fusion=concat", "optim.lr=1e3", "optim.encoder_lr=1e3", "optim.head_lr=1e3", "optim.warmup_ratio=0",
                 "dataset.synthetic.train=16", "data.batch_size=2"]  # the loss is NaN from about step 5
    with pytest.raises(FloatingPointError, match=r"a training loss is not finite at step \d+ \(epoch 0; this process: "
                                                 r"loss nan, .*\): the run diverged and is stopped"):
        run(compose_config(tiny_overrides + diverging))
    failed = json.loads((tmp_path / "run" / "failed.json").read_text())
    assert failed["status"] == "failed" and failed["error"].startswith("FloatingPointError: a training loss is not")
    assert not (tmp_path / "run" / "results.json").exists()
    table = (report(tmp_path / "run", tmp_path / "report") / "report.md").read_text()
    assert "| concat | 0 ok, 1 failed |" in table


@pytest.mark.parametrize("override, message", [
    ("+trainer.max_steps=0", r"trainer.max_steps=0: must be at least 1 \(or -1: trainer.max_epochs decides\); a run "
                             r"that never steps records an untrained model"),
    ("+trainer.limit_train_batches=0", r"trainer.limit_train_batches=0: must be positive \(a share of the batches or "
                                       r"a number of them\); with no batches an untrained model is recorded"),
    ("+trainer.limit_val_batches=0.0", r"trainer.limit_val_batches=0.0: must be positive .*; with no batches no "
                                       r"checkpoint is chosen and the last weights are tested as the run's result"),
    ("+trainer.limit_test_batches=0", r"trainer.limit_test_batches=0: must be positive .*; with no batches the run "
                                      r"records no test score"),
])
def test_trainer_limits_of_nothing_are_refused_before_anything_is_built(tiny_overrides, tmp_path, override, message):
    with pytest.raises(ValueError, match=message):
        run(compose_config(tiny_overrides + ["fusion=text_only", override]))
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


def test_a_run_that_never_validated_is_refused_instead_of_testing_its_last_weights(tiny_overrides, tmp_path):
    with pytest.raises(RuntimeError, match="training ended without a validation .* so no checkpoint was chosen"):
        run(compose_config(tiny_overrides + ["fusion=text_only", "+trainer.check_val_every_n_epoch=2"]))
    assert not (tmp_path / "run" / "results.json").exists()


def test_a_max_length_beyond_the_text_encoders_positions_is_refused_before_data_is_read(tiny_overrides, tmp_path):
    with pytest.raises(ValueError, match=r"data.max_length=100000: text encoder 'tiny' reads at most 256 tokens \(its "
                                         r"position table\); set data.max_length to at most that"):
        assemble(compose_config(tiny_overrides + ["fusion=text_only", "data.max_length=100000"]))
    assert not (tmp_path / "cache").exists()


def test_init_from_a_checkpoint_none_of_whose_weights_fits_is_refused_naming_what_did_not_match(tiny_overrides,
                                                                                                  tmp_path):
    model = assemble(compose_config(tiny_overrides + ["fusion=text_only"]), labels={"types": ["LOC", "PER"]},
                     read_data=False).model
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    other = {name: torch.zeros([size + 1 for size in tensor.shape] or [1]) for name, tensor in before.items()}
    torch.save({"state_dict": other}, tmp_path / "other_shape.ckpt")
    embeddings = "method.text.model.embeddings.word_embeddings.weight"
    rows, width = before[embeddings].shape
    with pytest.raises(ValueError, match=rf"init_from=.*other_shape.ckpt: no weight of it fits this model, nothing "
                                         rf"would be transferred\. \d+ differ in shape \({re.escape(embeddings)}: "
                                         rf"\[{rows + 1}, {width + 1}\] in the checkpoint, \[{rows}, {width}\] here; "):
        transfer_weights(model, tmp_path / "other_shape.ckpt")
    assert all(torch.equal(tensor, before[name]) for name, tensor in model.state_dict().items())


def test_labels_unseen_in_training_are_warned_once(tiny_overrides, tmp_path, caplog):
    test = [[("Kalo", "B-PER"), ("at", "O"), ("Acme", "B-ORG"), ("Corp", "I-ORG")], [("Rome", "B-LOC")]]
    assemble(compose_config(_real(tiny_overrides) + _twitter(tmp_path / "data", test)))
    assert [r.getMessage() for r in caplog.records if "not in the training split" in r.getMessage()] == [
        "twitter2015 test: 1 labels not in the training split (ORG x1): scored as misses"]
