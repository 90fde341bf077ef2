"""Joint triples as CasRel scores them: entities placed apart, a same-string head and tail, head = tail cells,
the gold triples the tagger cannot represent counted (and kept as misses), and triples scored by word position
and as strings, on a hand-built sentence set and on the real WebNLG splits (../shared/data, skipped if absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fusionlab.analysis.bootstrap import sentence_counts
from fusionlab.analysis.cells import collect
from fusionlab.analysis.protocols import dump_score, protocol_scores
from fusionlab.analysis.published import against_published, published_markdown
from fusionlab.check import check, render
from fusionlab.data.encoding import Encoded
from fusionlab.data.example import Example, Relation, Span
from fusionlab.data.readers.casrel import CasrelReader
from fusionlab.data.tagging import tags_from_spans, unrepresentable_triples
from fusionlab.report import report
from fusionlab.tasks.joint.output import TripleOutput
from fusionlab.tasks.joint.targets import TripleTargets
from fusionlab.tasks.metrics.triple import TripleF1
from fusionlab.train import run
from tests.conftest import compose_config, shared_file

# (text, triple_list): a same-string head and tail with two occurrences, and with one (listed twice); an entity
# whose first occurrence lies inside another; an overlap no choice avoids (the fewest triples lose an entity);
# an entity the text does not hold.
SENTENCES = [
    ("Mendrisio is a city in the district of Mendrisio .", [["Mendrisio", "city", "Mendrisio"]]),
    ("Aarhus runs itself .", [["Aarhus", "leader", "Aarhus"], ["Aarhus", "leader", "Aarhus"]]),
    ("Alderney Airport serves the island of Alderney .", [["Alderney Airport", "cityServed", "Alderney"]]),
    ("The Alderney Airport is open and run by Guernsey .",
     [["Alderney", "owner", "Guernsey"], ["Alderney Airport", "status", "open"],
      ["Alderney Airport", "operator", "Guernsey"]]),
    ("Bern is a city .", [["Bern", "capital", "Switzerland"]]),
]
RELATIONS = sorted({r for _, triples in SENTENCES for _, r, _ in triples})


def _write(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        (folder / f"{split}_triples.json").write_text(json.dumps([{"text": t, "triple_list": ts} for t, ts in SENTENCES]))
    (folder / "rel2id.json").write_text(json.dumps([{str(i): r for i, r in enumerate(RELATIONS)},
                                                    {r: i for i, r in enumerate(RELATIONS)}]))
    return folder / "test_triples.json"


@pytest.fixture
def examples(tmp_path) -> list[Example]:
    return CasrelReader()(_write(tmp_path / "webnlg")).examples


def test_entities_are_placed_apart_and_a_same_string_head_and_tail_get_two_occurrences_or_one_cell(examples):
    mendrisio, aarhus, airport, overlap, bern = examples
    assert mendrisio.relations == [Relation(Span(0, 1), Span(8, 9), "city")]  # two occurrences: head the earlier
    assert mendrisio.entities == [Span(0, 1), Span(8, 9)]
    assert aarhus.relations == [Relation(Span(0, 1), Span(0, 1), "leader")]  # one occurrence: a head = tail cell
    assert aarhus.triples == [("Aarhus", "leader", "Aarhus")] * 2  # as listed
    assert airport.entities == [Span(0, 2), Span(6, 7)]  # not Alderney's first occurrence, inside the airport
    # tagging Alderney keeps one triple, tagging the airport two: Alderney's relation keeps its occurrence
    assert overlap.entities == [Span(1, 3), Span(4, 5), Span(8, 9)]
    assert overlap.relations[0] == Relation(Span(1, 2), Span(8, 9), "owner")
    assert bern.relations == [] and bern.entities == [] and bern.unplaced == [("Bern", "capital", "Switzerland")]
    assert [unrepresentable_triples(e) for e in examples] == [0, 0, 0, 1, 1]


def test_overlapping_spans_are_never_written_over_each_other():
    assert tags_from_spans([Span(0, 2), Span(1, 2), Span(2, 3)], 3, "BIOES") == ["B-ENT", "E-ENT", "S-ENT"]


def _joint_data() -> TripleTargets:
    data = TripleTargets()
    data.load_vocabulary({"types": ["ENT"], "relations": RELATIONS})
    return data


def test_targets_hold_a_head_equal_to_tail_cell_and_no_cell_for_an_entity_the_tags_leave_out():
    data = _joint_data()
    aarhus = Example("Aarhus runs itself .".split(), entities=[Span(0, 1)],
                     relations=[Relation(Span(0, 1), Span(0, 1), "leader")])
    overlap = Example("The Alderney Airport is open and run by Guernsey .".split(),
                      entities=[Span(1, 3), Span(4, 5), Span(8, 9)],
                      relations=[Relation(Span(1, 2), Span(8, 9), "owner"), Relation(Span(1, 3), Span(4, 5), "status"),
                                 Relation(Span(1, 3), Span(8, 9), "operator")])
    target = data.targets(aarhus, Encoded([], list(range(4)), False))
    assert target["pairs"] == [(0, 0, RELATIONS.index("leader"))]
    target = data.targets(overlap, Encoded([], list(range(10)), False))
    assert target["pairs"] == [(2, 4, RELATIONS.index("status")), (2, 8, RELATIONS.index("operator"))]
    assert [data.tags[t] for t in target["tags"]] == ["O", "B-ENT", "E-ENT", "O", "S-ENT", "O", "O", "O", "S-ENT", "O"]


def test_extraction_keeps_a_triple_whose_head_is_its_tail():
    data = _joint_data()
    probs = torch.zeros(4, 4, len(RELATIONS))
    probs[0, 0, RELATIONS.index("leader")] = 0.9
    tags = [data.tag_ids[t] for t in ("S-ENT", "O", "O", "O")]
    entities, relations = TripleOutput(data).extract((tags, probs), 4)
    assert entities == [Span(0, 1)] and relations == [Relation(Span(0, 1), Span(0, 1), "leader")]


def test_triples_are_scored_by_position_and_as_casrels_strings_with_every_gold_triple_counted(examples):
    mendrisio, aarhus, airport, overlap, bern = examples
    predicted = [
        # both orders of the two occurrences: one position right, one string triple
        ([Span(0, 1), Span(8, 9)], [Relation(Span(8, 9), Span(0, 1), "city"), Relation(Span(0, 1), Span(8, 9), "city")]),
        ([Span(0, 1)], aarhus.relations),  # head = tail: right every way; listed twice, counted once
        ([Span(1, 2), Span(6, 7)], [Relation(Span(1, 2), Span(6, 7), "cityServed")]),  # last words right only
        (overlap.entities, overlap.relations[1:]),  # all but the triple the tags cannot hold
        ([], []),  # Bern's triple has no place in the words: a miss
    ]
    metric = TripleF1()
    metric.update(predicted, examples)
    scores = metric.compute()
    # gold: 7 triples every way; predicted: 6 by position, 5 as strings
    assert (scores["exact_precision"], scores["exact_recall"]) == pytest.approx((4 / 6, 4 / 7))
    assert (scores["partial_precision"], scores["partial_recall"]) == pytest.approx((5 / 6, 5 / 7))
    assert (scores["string_precision"], scores["string_recall"], scores["string_f1"]) == pytest.approx((4 / 5, 4 / 7, 2 / 3))
    assert scores["f1"] == scores["exact_f1"] == pytest.approx(8 / 13) and scores["entity_f1"] == pytest.approx(7 / 8)


def test_the_check_and_a_runs_results_count_the_unrepresentable_triples_and_score_strings(tiny_overrides, tmp_path):
    _write(tmp_path / "data" / "webnlg")
    overrides = [o for o in tiny_overrides if not o.startswith("dataset.")] + [
        f"data_root={tmp_path}/data", "dataset=webnlg", "task=joint", "fusion=text_only", "data.batch_size=2"]
    cfg = compose_config(overrides)
    assert check(cfg)["splits"]["test"]["triples_unrepresentable"] == 2
    assert "| triples_unrepresentable | 2 | 2 | 2 |" in render(check(cfg))
    results = run(cfg)
    assert results["data"]["splits"]["test"]["triples_unrepresentable"] == 2
    test = results["metrics"]["test"]
    assert {"string_precision", "string_recall", "string_f1"} <= test.keys()
    rows = [json.loads(line) for line in (tmp_path / "run" / "test_predictions.jsonl").read_text().splitlines()]
    assert rows[4]["gold"] == [["Bern", "capital", "Switzerland"]]  # no position: a miss, as in the metric
    assert rows[1]["gold_triples"] == [["Aarhus", "leader", "Aarhus"]]
    assert sentence_counts("joint", "f1", rows)[:, 2].sum() == 7
    assert dump_score("joint", "f1", rows) == pytest.approx(test["f1"])


def _joint_run(root: Path, seed: int, exact: float, string: float) -> None:
    folder = root / f"pmei_s{seed}"
    folder.mkdir(parents=True)
    test = {f"{way}_{score}": value for way, value in (("exact", exact), ("string", string))
            for score in ("precision", "recall", "f1")}
    record = {"fusion": "pmei", "task": "joint", "dataset": "webnlg", "seed": seed, "monitor": "f1",
              "metrics": {"val": {"f1": exact}, "test": {**test, "f1": exact}},
              "data": {"splits": {"test": {"triples_unrepresentable": 38}}},
              "params": {"total": 2_000_000, "trainable": 1_000_000},
              "timing": {"train_seconds_per_epoch": [10.0], "eval_seconds": 1.0, "train_samples_per_second": 50.0},
              "peak_memory_mb": 900.0, "config": {"data": {"sample_ratio": 1.0}}}
    (folder / "results.json").write_text(json.dumps(record))


def test_the_report_shows_triples_both_ways_and_the_note_on_webnlgs_relations(tmp_path):
    _joint_run(tmp_path, 1, 0.80, 0.82)
    _joint_run(tmp_path, 2, 0.82, 0.86)
    record = json.loads((tmp_path / "pmei_s1" / "results.json").read_text())
    assert protocol_scores(record, None) == {"clean": 0.80, "casrel_strings": 0.82}
    table = (report(tmp_path) / "report.md").read_text()
    assert "| pmei | webnlg/joint | 81.00 | 84.00 (+3.00) |" in table  # the protocols table
    assert ("| pmei | webnlg/joint | 81.0 ± 1.4 | 81.0 ± 1.4 | 81.0 ± 1.4 | 84.0 ± 2.8 | 84.0 ± 2.8 | 84.0 ± 2.8 | 38 |"
            in table)
    published = "\n".join(published_markdown(against_published(collect(tmp_path))))
    assert "| pmei | webnlg/joint [1] [2] | f1 | 81.80 (PMEI-BERT) |" in published  # [2]: another release
    assert "| pmei | webnlg/joint [1] [2] | string_f1 | 81.80 (PMEI-BERT) |" in published
    assert "\n- [1] this webnlg (ETL-span/PRGC preprocessing) lists 216 relations" in published


@pytest.mark.parametrize("dataset, gold, unrepresentable", [("webnlg_star", 1581, 0), ("webnlg", 1607, 38)])
def test_on_the_real_webnlg_test_splits_the_tagger_can_represent_all_but_the_unavoidable_overlaps(
        dataset, gold, unrepresentable):
    examples = CasrelReader()(shared_file(dataset, "test_triples.json")).examples
    assert sum(len(set(e.relations)) + len(e.unplaced) for e in examples) == gold
    assert sum(map(unrepresentable_triples, examples)) == unrepresentable
    assert not any(a != b and a.start < b.end and b.start < a.end for e in examples for a in e.entities
                   for b in e.entities)
