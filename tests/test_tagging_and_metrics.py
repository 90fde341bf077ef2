"""Chunking and metrics: the entity metric equals seqeval's default mode on random sequences."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities

from fusionlab.data.example import Example, Relation, Span
from fusionlab.data.tagging import spans_from_tags, tags_from_spans
from fusionlab.tasks.metrics.entity import EntityF1
from fusionlab.tasks.metrics.relation import RelationF1
from fusionlab.tasks.metrics.triple import TripleF1
from fusionlab.tasks.mre.targets import mark

TYPES = ["PER", "LOC", "ORG"]
BIO = st.sampled_from(["O"] + [f"{p}-{t}" for p in "BI" for t in TYPES])
BIOES = st.sampled_from(["O"] + [f"{p}-{t}" for p in "BIES" for t in TYPES])
sentences = lambda tags: st.lists(st.lists(tags, min_size=1, max_size=12), min_size=1, max_size=6)  # noqa: E731


@settings(max_examples=300, deadline=None)
@given(sentences(BIOES))
def test_chunks_equal_seqeval_get_entities(batch):
    for tags in batch:
        ours = [(s.label, s.start, s.end - 1) for s in spans_from_tags(tags)]
        assert ours == get_entities(tags)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_entity_metric_equals_seqeval(data):
    gold = data.draw(sentences(BIO))
    pred = [data.draw(st.lists(BIO, min_size=len(g), max_size=len(g))) for g in gold]
    metric = EntityF1(TYPES)
    metric.update([spans_from_tags(p) for p in pred], [spans_from_tags(g) for g in gold])
    scores = metric.compute()
    assert abs(scores["precision"] - precision_score(gold, pred, zero_division=0)) < 1e-9
    assert abs(scores["recall"] - recall_score(gold, pred, zero_division=0)) < 1e-9
    assert abs(scores["f1"] - f1_score(gold, pred, zero_division=0)) < 1e-9


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3), st.sampled_from(TYPES)), max_size=4), st.sampled_from(["BIO", "BIOES"]))
def test_tags_round_trip_through_spans(raw, scheme):
    spans, cursor = [], 0
    for gap, width, kind in raw:
        spans.append(Span(cursor + gap, cursor + gap + width, kind))
        cursor += gap + width
    assert spans_from_tags(tags_from_spans(spans, cursor + 1, scheme)) == spans


def test_relation_metric_scores_like_mnre_papers():
    metric = RelationF1(none_index=0)
    # gold:  r1 r1 None r2 ; pred: r1 None r2 r2  -> tp 2, pred 3, gold 3
    metric.update(torch.tensor([1, 0, 2, 2]), torch.tensor([1, 1, 0, 2]))
    scores = metric.compute()
    assert scores["precision"] == 2 / 3 and scores["recall"] == 2 / 3 and scores["accuracy"] == 0.5


def test_triple_metric_partial_match_uses_last_words():
    gold = [Relation(Span(0, 2), Span(4, 5), "r")]
    pred = [Relation(Span(1, 2), Span(4, 5), "r")]  # head boundary wrong, last word right
    metric = TripleF1()
    metric.update([([Span(1, 2), Span(4, 5)], pred)], [Example(list("abcde"), entities=[Span(0, 2), Span(4, 5)],
                                                               relations=gold)])
    scores = metric.compute()
    assert scores["exact_f1"] == 0.0 and scores["partial_f1"] == 1.0 and scores["entity_f1"] == 0.5


def test_mre_keeps_all_four_markers_when_head_and_tail_start_or_end_at_the_same_word():
    words = ["Kalo", "Miren", "plays"]
    same_start = Example(words, relations=[Relation(Span(0, 2), Span(0, 1), "/per/per/peer")])
    marked, head_at, tail_at = mark(same_start)
    assert marked == ["<s>", "<o>", "Kalo", "</o>", "Miren", "</s>", "plays"]
    assert (marked[head_at], marked[tail_at]) == ("<s>", "<o>")
    same_end = Example(words, relations=[Relation(Span(1, 3), Span(2, 3), "/per/per/peer")])
    assert mark(same_end)[0] == ["Kalo", "<s>", "Miren", "<o>", "plays", "</s>", "</o>"]
    apart = Example(words, relations=[Relation(Span(0, 1), Span(2, 3), "/per/per/peer")])
    assert mark(apart)[0] == ["<s>", "Kalo", "</s>", "Miren", "<o>", "plays", "</o>"]
