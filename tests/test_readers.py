"""Readers on fixtures, on malformed input, and on the real text in ../shared/data."""

from __future__ import annotations

import json

import pytest

from fusionlab.data.errors import DataFormatError
from fusionlab.data.example import Span
from fusionlab.data.readers.casrel import CasrelReader
from fusionlab.data.readers.conll import ConllReader
from fusionlab.data.readers.mnre import MnreReader
from fusionlab.data.readers.mvsa import MvsaReader, consistent_label
from tests.conftest import shared_file


def test_conll_reads_sentences_renames_other_and_accepts_a_missing_final_blank(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("IMGID:1\nJohn\tB-PER\nin\tO\nParis\tB-OTHER\n\nIMGID:2\nhi\tO\nBob\tB-PER\nSmith\tI-PER")
    examples = ConllReader()(path).examples
    assert [e.words for e in examples] == [["John", "in", "Paris"], ["hi", "Bob", "Smith"]]
    assert examples[0].tags == ["B-PER", "O", "B-MISC"]
    assert examples[1].tags == ["O", "B-PER", "I-PER"]
    assert [e.image for e in examples] == ["1.jpg", "2.jpg"]
    assert examples[1].source == f"{path}:6"


@pytest.mark.parametrize("line, expected", [("John B-PER", "token<TAB>tag"), ("John\tX-PER", "token<TAB>tag")])
def test_conll_malformed_line_names_file_and_line(tmp_path, line, expected):
    path = tmp_path / "bad.txt"
    path.write_text(f"IMGID:1\nok\tO\n{line}\n")
    with pytest.raises(DataFormatError, match=rf"bad.txt:3: expected .*{expected}"):
        ConllReader()(path)


def test_mnre_positions_are_half_open_and_grouping_merges_a_sentence(tmp_path):
    path = tmp_path / "mnre.txt"
    record = {"token": ["A", "b", "C", "d"], "h": {"name": "A b", "pos": [0, 2]}, "t": {"name": "C", "pos": [2, 3]},
              "img_id": "x.jpg", "relation": "/per/org/member_of"}
    other = {**record, "t": {"name": "d", "pos": [3, 4]}, "relation": "None"}
    path.write_text(f"{record!r}\n{other!r}\n")
    pairs = MnreReader()(path).examples
    assert pairs[0].relations[0].head == Span(0, 2) and pairs[0].relations[0].tail == Span(2, 3)
    assert [p.relations[0].label for p in pairs] == ["/per/org/member_of", "None"]
    grouped = MnreReader(group=True)(path).examples
    assert len(grouped) == 1
    assert grouped[0].entities == [Span(0, 2), Span(2, 3), Span(3, 4)]
    assert [r.label for r in grouped[0].relations] == ["/per/org/member_of"]


def test_mnre_out_of_range_position_is_an_error(tmp_path):
    path = tmp_path / "mnre.txt"
    path.write_text("\n" + repr({"token": ["a"], "h": {"pos": [0, 1]}, "t": {"pos": [1, 3]}, "relation": "None"}))
    with pytest.raises(DataFormatError, match=r"mnre.txt:2: expected 't' pos within \[0, 1\]"):
        MnreReader()(path)


def test_mvsa_consistency_filter_counts_what_it_drops(tmp_path):
    (tmp_path / "data").mkdir()
    for post in "1234":
        (tmp_path / "data" / f"{post}.txt").write_text(f"post {post}")
    single = tmp_path / "single.txt"
    single.write_text("ID\ttext,image\n1\tpositive,neutral\n2\tpositive,negative\n3\tneutral,neutral\n")
    result = MvsaReader()(single)
    assert [(e.words, e.label, e.image) for e in result.examples] == [
        (["post", "1"], "positive", "1.jpg"), (["post", "3"], "neutral", "3.jpg")]
    assert result.dropped == {"mvsa_text_image_conflict": 1}
    multiple = tmp_path / "multiple.txt"
    multiple.write_text("ID\ta\tb\tc\n4\tnegative,negative\tnegative,neutral\tpositive,neutral\n"
                        "1\tpositive,positive\tneutral,negative\tnegative,neutral\n")
    result = MvsaReader()(multiple)
    assert [e.label for e in result.examples] == ["negative"]
    assert result.dropped == {"mvsa_no_majority": 1}
    assert consistent_label("neutral", "negative") == "negative"


def test_mvsa_unknown_label_is_an_error(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("ID\ttext,image\n7\thappy,positive\n")
    with pytest.raises(DataFormatError, match="labels.txt:2"):
        MvsaReader()(path)


def test_casrel_locates_entities_and_keeps_unfound_triples_as_unplaced(tmp_path):
    path = tmp_path / "train.json"
    records = [{"text": "Barack Obama was born in Hawaii .",
                "triple_list": [["Barack Obama", "/people/person/place_of_birth", "Hawaii"],
                                ["Michelle", "/people/person/spouse", "Barack Obama"]]}]
    path.write_text(json.dumps(records, indent=1))
    result = CasrelReader()(path)
    example = result.examples[0]
    assert example.entities == [Span(0, 2), Span(5, 6)]
    assert [(r.head, r.label, r.tail) for r in example.relations] == [
        (Span(0, 2), "/people/person/place_of_birth", Span(5, 6))]
    assert example.unplaced == [("Michelle", "/people/person/spouse", "Barack Obama")] and not result.dropped


def test_casrel_bad_record_names_its_line(tmp_path):
    path = tmp_path / "lines.json"
    path.write_text('{"text": "a b", "triple_list": []}\n{"text": 3}\n')
    with pytest.raises(DataFormatError, match="lines.json:2"):
        CasrelReader()(path)


def test_mnre_reads_na_as_the_no_relation_label_none(tmp_path):
    path = tmp_path / "mnre.txt"
    record = {"token": ["A", "b", "C"], "h": {"pos": [0, 1]}, "t": {"pos": [2, 3]}, "img_id": "x.jpg",
              "relation": "NA"}
    path.write_text(f"{record!r}\n{ {**record, 'relation': 'None'}!r}\n{ {**record, 'relation': '/per/loc'}!r}\n")
    assert [p.relations[0].label for p in MnreReader()(path).examples] == ["None", "None", "/per/loc"]
    (grouped,) = MnreReader(group=True)(path).examples
    assert [r.label for r in grouped.relations] == ["/per/loc"]


def _mnre_line(word: str) -> str:
    return repr({"token": [word, "b"], "h": {"pos": [0, 1]}, "t": {"pos": [1, 2]}, "relation": "None"})


# Per reader: a label file of two examples, the second on the given line, holding the word "fine"
# and read as the given words.
LABEL_FILES = {
    "conll": (ConllReader, "IMGID:1\nok\tO\n\nIMGID:2\nfine\tO\n", 5, ["fine"]),
    "mnre": (MnreReader, f"{_mnre_line('ok')}\n{_mnre_line('fine')}\n", 2, ["fine", "b"]),
    "casrel": (CasrelReader, '{"text": "ok", "triple_list": []}\n{"text": "fine", "triple_list": []}\n', 2, ["fine"]),
    "mvsa": (MvsaReader, "ID\ttext,image\n1\tpositive,positive\nfine\tneutral,negative\n", 3, ["post", "fine"]),
}


def _label_file(folder, reader: str, raw: bytes):
    """``raw`` as ``folder/<reader>.txt``, with MVSA's post files (opening with a BOM) beside it."""
    (folder / "data").mkdir(parents=True)
    for post in ("1", "fine"):
        (folder / "data" / f"{post}.txt").write_bytes(b"\xef\xbb\xbfpost " + post.encode())
    path = folder / f"{reader}.txt"
    path.write_bytes(raw)
    return path


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["plain", "bom"])
@pytest.mark.parametrize("reader", LABEL_FILES)
def test_non_utf8_bytes_in_a_label_file_name_the_file_the_line_and_utf8(tmp_path, reader, bom):
    read, text, line, _ = LABEL_FILES[reader]
    path = _label_file(tmp_path, reader, bom + text.encode().replace(b"fine", b"caf\xe9"))
    with pytest.raises(DataFormatError) as error:
        read()(path)
    assert str(error.value).startswith(f"{path}:{line}: expected UTF-8 text (byte 0xe9 is not UTF-8); found ")
    assert "caf\ufffd" in str(error.value) and error.value.line == line  # the line, the bad byte replaced


@pytest.mark.parametrize("reader", LABEL_FILES)
def test_a_utf8_bom_opening_a_label_file_is_accepted(tmp_path, reader):
    read, text, _, words = LABEL_FILES[reader]
    plain = read()(_label_file(tmp_path / "plain", reader, text.encode())).examples
    marked = read()(_label_file(tmp_path / "bom", reader, b"\xef\xbb\xbf" + text.encode())).examples
    assert len(marked) == 2 and marked[1].words == words  # MVSA: its post files open with a BOM too
    assert [(e.words, e.image, e.tags, e.label, e.relations) for e in marked] == [
        (e.words, e.image, e.tags, e.label, e.relations) for e in plain]


@pytest.mark.parametrize("split, count", [("train.txt", 4000), ("valid.txt", 1000), ("test.txt", 3257)])
def test_real_twitter2015_sentence_counts(split, count):
    examples = ConllReader()(shared_file("twitter2015", split)).examples
    assert len(examples) == count
    assert all(len(e.words) == len(e.tags) for e in examples)
    assert not any("OTHER" in t for e in examples for t in e.tags)


@pytest.mark.parametrize("split, count", [("mnre_train.txt", 12247), ("mnre_val.txt", 1624), ("mnre_test.txt", 1614)])
def test_real_mnre_counts_and_23_labels(split, count):
    examples = MnreReader()(shared_file("mnre", split)).examples
    assert len(examples) == count
    if split == "mnre_train.txt":
        assert len({e.relations[0].label for e in examples}) == 23
