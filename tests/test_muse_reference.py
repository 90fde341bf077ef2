"""MuSE against its paper and reference code: MuSE-only-I never reads the text, the coverage penalty is a
mean, the reference's loss weighting, the reference's reading of mu/eta, the captioner's word vocabulary
(fitted on the training split, carried by checkpoints), MSA's weighted F1, PixelCNN++'s channel dropout, and the
paper configs."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf
from sklearn.metrics import f1_score

from fusionlab.fusion.muse.cross_transformer import CrossTransformer
from fusionlab.fusion.muse.image_decoder import ConditionalPixelCNN
from fusionlab.fusion.muse.text_decoder import SPECIALS, AttentionCaptioner, WordVocabulary
from fusionlab.tasks.msa import MsaTask
from fusionlab.tasks.targets import UNSEEN
from fusionlab.train import assemble, run
from tests.conftest import compose_config
from tests.test_muse import SMALL_DECODERS

TINY = ["encoder=tiny", "encoder.text.name=tiny", "encoder.vision.name=tiny", "trainer=cpu"]


def _parts(tiny_overrides, *overrides, fusion="muse"):
    L.seed_everything(0)
    return assemble(compose_config(tiny_overrides + [f"fusion={fusion}", *SMALL_DECODERS, *overrides]))


def test_muse_only_i_output_does_not_move_with_the_text(tiny_overrides):
    for variant, moves in (("muse_only_i", False), ("muse", True)):
        parts = _parts(tiny_overrides, "task=msa", fusion=variant)
        model, batch = parts.model.eval().method, next(iter(parts.datamodule.val_dataloader()))
        words = torch.randint(5, len(model.text.tokenizer), batch["input_ids"].shape)
        other = dict(batch, input_ids=words)  # only the text changes
        with torch.no_grad():
            first, second = model.fuse(batch).states[:, 0], model.fuse(other).states[:, 0]
        assert (not torch.allclose(first, second)) == moves, variant
        if not moves:
            assert torch.equal(first, second)


def test_coverage_penalty_is_a_mean_over_annotations():
    """With uniform attention over P = 8 annotations and T = 4 target steps, sum_t alpha_ti = 1/2 for every
    annotation: the penalty is (1 - 1/2)^2 = 0.25 (a sum over annotations would give 2.0)."""
    captioner = AttentionCaptioner(feature_dim=6, vocab_size=20, embed_dim=4, hidden_dim=8, attention_dim=4,
                                   dropout=0.0, penalty=1.0)
    torch.nn.init.zeros_(captioner.attention_score.weight)  # constant scores: uniform attention
    features, tokens = torch.randn(2, 8, 6), torch.tensor([[1, 5, 6, 7, 2, 0, 0], [1, 9, 3, 4, 2, 0, 0]])
    mask = tokens != 0
    mask[:, 0] = True
    logits, _ = captioner(features, tokens)
    targets = mask[:, 1:]
    cross_entropy = torch.nn.functional.cross_entropy(logits[targets], tokens[:, 1:][targets])
    torch.testing.assert_close(captioner.loss(features, tokens, mask) - cross_entropy, torch.tensor(0.25))


@pytest.mark.parametrize("exchange_start, exchanging", [("after_mu", [False, False, True, True, False, False]),
                                                        ("at_mu", [False, True, True, True, False, False])])
def test_exchange_start_reads_mu_as_the_paper_or_as_the_reference(exchange_start, exchanging):
    """mu = 2, eta = 4: Sec. 3.2 exchanges in layers 3-4; the reference (replace_start=1, replace_end=3) in 2-4."""
    model = CrossTransformer(8, 2, layers=6, theta=0.1, mu=2, eta=4, exchange_start=exchange_start)
    assert [model.exchanges_at(i) for i in range(6)] == exchanging


@pytest.mark.parametrize("task, divisor", [("mner", 80), ("msa", 1)])
def test_reference_loss_weighting_is_calculate_multi_loss(tiny_overrides, task, divisor):
    """reference: L_task / s (mner; msa is not divided) + alpha L_it / s + beta sum_b NLL_b / 32^2, against
    the same model's mean weighting (L_ti a per-image mean) on the same batch and noise; s = data.max_length
    (80 in these tests) and the batch holds 8 images."""
    overrides = [f"task={task}", "data.batch_size=8", "data.max_length=80"]
    parts = {w: _parts(tiny_overrides, *overrides, f"fusion.module.loss_weighting={w}") for w in ("mean", "reference")}
    models = {w: p.model.train() for w, p in parts.items()}  # the same weights: same seed, same construction
    batch = next(iter(parts["mean"].datamodule.train_dataloader()))
    assert batch["image_mask"].all() and len(batch["examples"]) == 8
    fused, task_loss, total = {}, {}, {}
    for weighting, model in models.items():
        torch.manual_seed(1)  # the same noise and dropout: fuse, then the head, as a training step runs them
        fused[weighting] = model.method(batch)
        task_loss[weighting] = model.head.loss(fused[weighting].states, batch)
        torch.manual_seed(1)
        total[weighting] = model.training_step(batch, 0)
    mean, reference = fused["mean"].losses, fused["reference"].losses
    torch.testing.assert_close(task_loss["reference"], task_loss["mean"])
    torch.testing.assert_close(reference["alpha_l_it"], mean["alpha_l_it"] / 80)
    torch.testing.assert_close(reference["beta_l_ti"], mean["beta_l_ti"] * 8 / 1024)
    torch.testing.assert_close(total["reference"],
                               task_loss["mean"] / divisor + reference["alpha_l_it"] + reference["beta_l_ti"])
    torch.testing.assert_close(total["mean"], task_loss["mean"] + mean["alpha_l_it"] + mean["beta_l_ti"])


def test_reference_weighting_leaves_the_only_l_task_loss_undivided_as_main_ct(tiny_overrides):
    parts = _parts(tiny_overrides, "task=mner", "fusion.module.loss_weighting=reference", fusion="muse_only_task")
    model, batch = parts.model.train(), next(iter(parts.datamodule.train_dataloader()))
    torch.manual_seed(1)
    task_loss = model.head.loss(model.method(batch).states, batch)
    torch.manual_seed(1)
    torch.testing.assert_close(model.training_step(batch, 0), task_loss)


def test_word_vocabulary_keeps_lower_cased_words_seen_twice_and_encodes_captions():
    vocabulary = WordVocabulary.fit([["The", "cat", "sat"], ["the", "dog", "SAT", "<pad>"], ["<pad>"]], min_count=2)
    assert vocabulary.words == [*SPECIALS, "the", "sat"]
    ids, mask = vocabulary.encode([["the", "Bird", "sat"], ["sat", "the", "the", "the"]], length=5)
    assert ids.tolist() == [[1, 4, 3, 5, 2], [1, 5, 4, 4, 2]]  # <sos> words (cut to 3) <eos>; unknown -> <unk>
    assert mask.all()
    ids, mask = vocabulary.encode([["sat"], ["the", "sat"]], length=64)
    assert ids.tolist() == [[1, 5, 2, 0], [1, 4, 5, 2]] and mask.tolist() == [[True] * 3 + [False], [True] * 4]
    assert WordVocabulary.from_tensor(vocabulary.to_tensor()).words == vocabulary.words


WORDS = ["fusion.module.caption_vocabulary=words", "task=msa"]


def test_word_vocabulary_is_fitted_on_the_training_split_and_rebuilt_from_the_checkpoint(tmp_path, tiny_overrides):
    cfg = compose_config(tiny_overrides + ["fusion=muse", *SMALL_DECODERS, *WORDS])
    run(cfg)
    train = _parts(tiny_overrides, *WORDS).datamodule.splits["train"].examples
    expected = WordVocabulary.fit([e.words for e in train], min_count=2).words
    saved = torch.load(next((tmp_path / "run").rglob("best.ckpt")), map_location="cpu", weights_only=False)
    assert WordVocabulary.from_tensor(saved["state_dict"]["method.text_decoder.words"]).words == expected
    assert saved["state_dict"]["method.text_decoder.embed.weight"].shape[0] == len(expected) < 100

    rebuilt = assemble(OmegaConf.create(saved["fusionlab"]["config"]), labels=saved["fusionlab"]["labels"],
                       read_data=False).model  # no data: the vocabulary comes from the checkpoint
    assert rebuilt.method.text_decoder.word_vocabulary is None
    rebuilt.load_state_dict(saved["state_dict"])
    assert rebuilt.method.text_decoder.word_vocabulary.words == expected
    assert rebuilt.method.text_decoder.vocabulary.out_features == len(expected)


def test_word_captions_are_what_the_captioner_reads(tiny_overrides):
    parts = _parts(tiny_overrides, *WORDS)
    model, batch = parts.model.train(), next(iter(parts.datamodule.train_dataloader()))
    assert batch["image_mask"].all()
    assert model.method.text_decoder.word_vocabulary is not None  # assemble fitted it on the training split
    model.method.fit_caption_vocabulary([["Alpha", "beta"], ["alpha", "beta"]])
    ids, mask = model.method.captions(batch, batch["image_mask"].bool())
    words = batch["examples"][0].words
    expected = [1, *(4 if w.lower() == "alpha" else 5 if w.lower() == "beta" else 3 for w in words), 2]
    assert ids[0, : len(expected)].tolist() == expected and mask[0].sum() == len(expected)
    model.training_step(batch, 0).backward()
    assert model.method.text_decoder.embed.weight.grad.shape == (6, 8)


def test_msa_reports_weighted_f1_as_sklearn_with_unseen_gold_labels():
    task = MsaTask()
    task.data.load_vocabulary({"labels": ["negative", "neutral", "positive"]})
    metric = task.output.metric()
    gold = torch.tensor([0, 0, 1, 2, 2, 2, UNSEEN, UNSEEN])
    predictions = [0, 1, 1, 2, 2, 0, 2, 1]
    task.output.score(metric, predictions, {"label": gold})
    scores = metric.compute()
    sk_gold = gold.masked_fill(gold == UNSEEN, 3).tolist()  # the unseen labels' class: never predicted
    torch.testing.assert_close(scores["weighted_f1"].item(), f1_score(sk_gold, predictions, average="weighted"))
    torch.testing.assert_close(scores["macro_f1"].item(), f1_score(sk_gold, predictions, average="macro"))
    assert abs(scores["weighted_f1"].item() - 0.4375) < 1e-6  # (2 x 1/2 + 1 x 1/2 + 3 x 2/3 + 2 x 0) / 8


@pytest.mark.parametrize("experiment, task, lrs, decay, alpha",
                         [("muse_twitter2015", "mner", (5e-5, 5e-5, 1e-4), 0.01, 1e-3),
                          ("muse_twitter2017", "mner", (1e-4, 1e-4, 1e-4), 0.01, 1e-4),
                          ("muse_mvsa_single", "msa", (5e-5, 5e-5, 5e-5), 0.0, 1e-3),
                          ("muse_mvsa_multiple", "msa", (5e-5, 5e-5, 5e-5), 0.0, 1e-3)])
def test_paper_configs_build_the_reference_s_model(experiment, task, lrs, decay, alpha):
    cfg = compose_config([f"experiment={experiment}", *TINY, "output_dir=/tmp/x"])
    assert (cfg.optim.lr, cfg.optim.encoder_lr, cfg.optim.head_lr, cfg.optim.weight_decay) == (*lrs, decay)
    assert list(cfg.encoder.vision.trainable_stages) == [2, 3, 4] and cfg.data.max_length == 64
    module = cfg.fusion.module
    assert (module.alpha, module.beta, module.max_seq_length, cfg.trainer.max_epochs) == (alpha, alpha, 64, 10)
    model = assemble(cfg, labels={"types": ["PER"]} if task == "mner" else {"labels": ["a", "b"]},
                     read_data=False).model.method
    layer = model.cross.layers[0]
    assert layer.ffn[0].out_features == 2048 and isinstance(layer.ffn[1], torch.nn.ReLU) and layer.dropout.p == 0.2
    assert [model.cross.exchanges_at(i) for i in range(6)] == [False, False, True, True, False, False]
    assert model.image_decoder.u_start.conv.out_channels == 80 and len(model.image_decoder.up_u[0]) == 5
    assert model.loss_weighting == "reference" and model.text_decoder.word_vocabulary is None  # fitted on train
    assert not any(p.requires_grad for part in (model.vision.stem, model.vision.stages[0]) for p in part.parameters())
    assert all(p.requires_grad for p in model.vision.stages[1:].parameters())


def test_pixelcnn_dropout_drops_whole_channels_as_the_reference_gated_resnet():
    block = ConditionalPixelCNN(condition_dim=4, filters=8, blocks=1, components=2, dropout=0.5).up_u[0][0]
    block.train()
    torch.manual_seed(0)
    dropped = block.dropout(torch.ones(4, 16, 5, 5))
    per_channel = dropped.flatten(2)
    assert torch.equal(per_channel.amin(dim=2), per_channel.amax(dim=2))  # one value per (sample, channel)
    assert set(per_channel[..., 0].unique().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - p)
