"""Untrusted data files: names that leave their folder, split files that are not regular files, fields of the
wrong type. Each is refused with file:line and what was expected, or (crops) masked and counted."""

from __future__ import annotations

import json
import logging
import os
import signal
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from fusionlab.data.datamodule import FusionDataModule
from fusionlab.data.errors import DataFormatError
from fusionlab.data.images import ImageStore
from fusionlab.data.inputs import read_inputs, to_example
from fusionlab.data.readers.casrel import CasrelReader
from fusionlab.data.readers.clmlf import ClmlfReader
from fusionlab.data.readers.conll import ConllReader
from fusionlab.data.readers.mnre import MnreReader
from fusionlab.data.readers.mvsa import MvsaReader
from fusionlab.data.splits import SPLITS
from fusionlab.train import assemble
from tests.fixtures import write_image
from tests.test_crops_per_line import _crops_per_line, _mnre

MNRE = {"token": ["Kalo", "met", "Miren"], "h": {"name": "Kalo", "pos": [0, 1]},
        "t": {"name": "Miren", "pos": [2, 3]}, "img_id": "a.jpg", "relation": "/per/per/peer"}
CASREL = {"text": "Kalo met Miren", "triple_list": [["Kalo", "peer", "Miren"]], "img_id": "a.jpg"}
CLMLF = {"id": 1, "text": "a fine day", "emotion_label": 0}
DEEP = "[" * 100_000 + "]" * 100_000
INSIDE = "naming a file inside its folder (a string; not absolute, no '..')"


@pytest.fixture(autouse=True)
def no_hang():
    """A read that blocks (a FIFO opened before the check) fails the test after 10 s instead of hanging."""
    def stop(*_):
        raise TimeoutError("the read blocked")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _lines(tmp_path, name: str, *lines: str) -> str:
    (tmp_path / name).write_text("".join(line + "\n" for line in lines))
    return name


def _mvsa(tmp_path, post: str) -> str:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "1.txt").write_text("a fine day")
    return _lines(tmp_path, "split.txt", "ID\ttext,image", "1\tpositive,positive", f"{post}\tpositive,positive")


IMAGE_NAMES = {  # (reader, the split file's lines, the refused line's number)
    "mnre_img_id_climbing_out": (MnreReader(), [repr(MNRE), repr({**MNRE, "img_id": "../../../etc/shadow"})], 2),
    "mnre_img_id_absolute": (MnreReader(), [repr(MNRE), repr({**MNRE, "img_id": "/etc/shadow"})], 2),
    "conll_imgid_absolute": (ConllReader(), ["IMGID:1", "Kalo\tB-PER", "", "IMGID:/etc/shadow", "Kalo\tB-PER"], 4),
    "conll_imgid_climbing_out": (ConllReader(), ["IMGID:1", "Kalo\tB-PER", "", "IMGID:../../x", "Kalo\tB-PER"], 4),
    "casrel_img_id_absolute": (CasrelReader(), [json.dumps(CASREL), json.dumps({**CASREL, "img_id": "/etc/shadow"})],
                               2),
    "clmlf_id_climbing_out": (ClmlfReader(), [json.dumps(CLMLF), json.dumps({**CLMLF, "id": "../../secret"})], 2),
}


@pytest.mark.parametrize("reader, lines, number", IMAGE_NAMES.values(), ids=IMAGE_NAMES.keys())
def test_an_image_name_leaving_its_folder_is_refused_with_file_and_line(tmp_path, reader, lines, number):
    path = tmp_path / _lines(tmp_path, "split", *lines)
    with pytest.raises(DataFormatError) as caught:
        reader(path)
    assert (caught.value.path, caught.value.line) == (str(path), number)
    assert caught.value.expected.endswith(INSIDE)


def test_an_mvsa_post_id_leaving_its_folder_is_refused_with_file_and_line(tmp_path):
    path = tmp_path / _mvsa(tmp_path, "../data/1")
    with pytest.raises(DataFormatError) as caught:
        MvsaReader()(path)
    assert (caught.value.path, caught.value.line, caught.value.expected) == (str(path), 3, f"a post id {INSIDE}")


def test_crops_listed_outside_the_crop_folder_are_masked_counted_and_never_opened(tmp_path, monkeypatch):
    crops, images = tmp_path / "crops", tmp_path / "images"
    crops.mkdir(), images.mkdir()
    for path in (tmp_path / "secret.png", crops / "ok.png", images / "a.png"):
        Image.new("RGB", (8, 8), (255, 0, 0)).save(path)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k))
    mapping = {"a.png": ["../secret.png", str(tmp_path / "secret.png"), "ok.png"]}
    store = ImageStore(images, crops, mapping, max_aux=3, size=8)
    assert store.aux_paths("a.png") == [crops / "ok.png"]
    assert store.audit(["a.png"], with_aux=True) == {"missing_images": 0, "missing_aux": 0, "aux_slots_empty": 0,
                                                     "aux_outside_folder": 2}
    assert store.absent["outside"] == [tmp_path / "crops" / "../secret.png", tmp_path / "secret.png"]
    assert sorted(opened) == [str(crops / "ok.png"), str(images / "a.png")]


def test_a_crop_mapping_entry_outside_the_crop_folder_is_masked_counted_per_split_and_warned(
        tiny_overrides, tmp_path, caplog):
    cfg = _mnre(tiny_overrides, tmp_path)
    crops = _crops_per_line(cfg)["val"]
    secret = tmp_path / "secret.png"
    write_image(secret, 1, size=16)
    mapping = {line: [path.name for path in paths] for line, paths in enumerate(crops)}
    mapping[3][1] = str(secret)
    torch.save(mapping, cfg.dataset.aux_mapping["val"])
    datamodule = assemble(cfg).datamodule
    assert [datamodule.stats["splits"][s].get("aux_outside_folder", 0) for s in SPLITS] == [0, 1, 0]
    assert datamodule.splits["val"][3]["aux_mask"] == [True, False, False]
    assert str(secret) not in datamodule.unreadable
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "crop" in r.getMessage()]
    assert warned == [f"mnre val: 1 of the crops the mapping lists lie outside the crop folder {crops[0][0].parent} "
                      f"(e.g. {secret}); they are never opened, and their slots are masked"]


def test_the_image_store_refuses_an_image_outside_its_folder_and_serves_absolute_paths_from_root(tmp_path):
    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "secret.png")
    with pytest.raises(ValueError, match=r"image '../secret.png' is outside the image folder"):
        ImageStore(tmp_path / "images").image_path("../secret.png")
    assert ImageStore("/").image_path(str(tmp_path / "secret.png")) == tmp_path / "secret.png"  # predict's inputs


READERS = {"mnre": MnreReader(), "conll": ConllReader(), "casrel": CasrelReader(), "clmlf": ClmlfReader(),
           "mvsa": MvsaReader()}


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_a_split_file_that_is_a_fifo_is_refused_as_not_a_regular_file_before_it_is_opened(tmp_path, reader):
    os.mkfifo(tmp_path / "split.txt")
    with pytest.raises(ValueError, match=rf"^{tmp_path}/split.txt: expected a regular file, found a FIFO$"):
        reader(tmp_path / "split.txt")


@pytest.mark.parametrize("kind", ["a FIFO", "a character device"])
def test_the_datamodule_refuses_a_split_that_is_not_a_regular_file(tmp_path, kind):
    split = tmp_path / "train.txt"
    os.mkfifo(split) if kind == "a FIFO" else split.symlink_to("/dev/null")
    splits = {"train": str(split), "val": str(split), "test": str(split)}
    dataset = {"name": "mnre", "tasks": {"mre": {"reader": MnreReader(), "splits": splits}}}
    datamodule = FusionDataModule(dataset, SimpleNamespace(name="mre"), tokenizer=None)
    with pytest.raises(ValueError, match=rf"^{split}: expected a regular file, found {kind}$"):
        datamodule.setup()


MNRE_TYPES = {
    "token_as_a_string": ({"token": "Kalo met Miren"}, "'token': a list of words (strings)"),
    "img_id_as_a_number": ({"img_id": 5}, f"'img_id' {INSIDE}"),
    "relation_as_a_list": ({"relation": ["a", "b"]}, "'relation': one label (a string)"),
}


@pytest.mark.parametrize("change, expected", MNRE_TYPES.values(), ids=MNRE_TYPES.keys())
def test_an_mnre_field_of_the_wrong_type_names_file_line_and_what_was_expected(tmp_path, change, expected):
    path = tmp_path / _lines(tmp_path, "m.txt", repr(MNRE), repr({**MNRE, **change}))
    with pytest.raises(DataFormatError) as caught:
        MnreReader()(path)
    assert (caught.value.path, caught.value.line, caught.value.expected) == (str(path), 2, expected)


@pytest.mark.parametrize("change, expected", [
    ({"img_id": 5}, f"'img_id' {INSIDE}"),
    ({"triple_list": [["Kalo", ["peer"], "Miren"]]}, "triples as [subject, relation, object] strings"),
], ids=["img_id_as_a_number", "triple_element_as_a_list"])
def test_a_casrel_field_of_the_wrong_type_names_file_line_and_what_was_expected(tmp_path, change, expected):
    path = tmp_path / _lines(tmp_path, "c.json", json.dumps(CASREL), json.dumps({**CASREL, **change}))
    with pytest.raises(DataFormatError) as caught:
        CasrelReader()(path)
    assert (caught.value.path, caught.value.line, caught.value.expected) == (str(path), 2, expected)


def test_a_casrel_record_nested_100000_deep_is_a_data_format_error_not_a_recursion_error(tmp_path):
    path = tmp_path / _lines(tmp_path, "c.json", json.dumps(CASREL), f'{{"text": "a", "triple_list": {DEEP}}}')
    with pytest.raises(DataFormatError) as caught:
        CasrelReader()(path)
    assert (caught.value.path, caught.value.line) == (str(path), 2)
    path.write_text(f'[{json.dumps(CASREL)},\n{{"text": "a", "triple_list": {DEEP}}}]\n')  # a JSON array
    with pytest.raises(DataFormatError, match="expected a JSON array of objects; found 'nested too deep'"):
        CasrelReader()(path)


@pytest.mark.parametrize("line", ["[1, 2]", '"Kalo met Miren"', "5", DEEP], ids=["list", "string", "number", "deep"])
def test_an_inputs_line_that_is_not_a_json_object_names_file_and_line(tmp_path, line):
    path = tmp_path / _lines(tmp_path, "inputs.jsonl", '{"text": "Kalo met Miren"}', "", line)
    with pytest.raises(DataFormatError) as caught:
        read_inputs(path)
    assert (caught.value.path, caught.value.line) == (str(path), 3)
    assert caught.value.expected == 'one JSON object per line ({"text": ..., "image": ...})'


def test_an_input_image_that_is_not_a_string_names_the_input_and_what_was_expected():
    with pytest.raises(ValueError, match=r"^input 2: 'image' must be a path \(a string\), got 5$"):
        to_example({"text": "Kalo met Miren", "image": 5}, "input 2")
