"""Tiny on-disk datasets in each real dataset's format, written where a composed config looks for them.

``write_dataset(cfg)`` reads every path from the composed config (``cfg.dataset``: the split files of
``cfg.task.name``, ``image_dir``, ``aux_image_dir``, ``aux_mapping``, an optional ``groups`` file) and
picks the file format from the split's reader (``cfg.dataset.tasks.<task>.reader._target_``), so that it
keeps working when a dataset's folder layout changes. Each split gets a few sentences with at least two
label types; every image a sentence names is written (small solid-colour PIL images), and where the
config names a crop folder and a mapping, crops and the mapping (.pth via torch.save, or .json) too.
"""

from __future__ import annotations

import colorsys
import json
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from PIL import Image

SPLITS = ("train", "val", "test")
IMAGE_SIZE = 32
CROPS = 2  # per image: fewer than max_aux (3), so both filled and empty crop slots are exercised

# CoNLL (Twitter-2015/2017): words and BIO tags; OTHER is renamed MISC by the reader.
_CONLL = [
    [("RT", "O"), ("@Bob", "B-PER"), ("Smith", "I-PER"), ("visits", "O"), ("Paris", "B-LOC"), ("today", "O")],
    [("Google", "B-ORG"), ("opens", "O"), ("office", "O"), ("in", "O"), ("London", "B-LOC")],
    [("Watching", "O"), ("Star", "B-OTHER"), ("Wars", "I-OTHER"), ("with", "O"), ("Alice", "B-PER")],
    [("The", "O"), ("Lakers", "B-ORG"), ("beat", "O"), ("Boston", "B-LOC"), ("Celtics", "I-LOC"), ("!", "O")],
]

# MNRE: one sentence, two marked pairs per sentence (a relation and a None pair).
_MNRE = [
    (["Alice", "Jones", "and", "Bob", "at", "the", "Oscars", "in", "LA"], (0, 2), (3, 4), (6, 7),
     "/per/per/peer"),
    (["Tom", "lives", "in", "Berlin", "with", "his", "friend", "Ann"], (0, 1), (3, 4), (7, 8),
     "/per/loc/place_of_residence"),
    (["Apple", "CEO", "Tim", "Cook", "visits", "Tokyo", "today"], (2, 4), (0, 1), (5, 6),
     "/per/org/member_of"),
    (["Paris", "is", "the", "capital", "of", "France", "says", "Marie"], (5, 6), (0, 1), (7, 8),
     "/loc/loc/contain"),
]

# MVSA: a post's text and its (text, image) labels, consistent so that the reader keeps it.
_MVSA = [
    ("what a lovely sunny day at the beach", "positive"),
    ("stuck in traffic again so annoyed", "negative"),
    ("the bus leaves at nine", "neutral"),
    ("best concert of my life", "positive"),
]

# CasRel JSON (NYT, WebNLG): whitespace-tokenised text and [subject, relation, object] triples.
_CASREL = [
    ("Alan Bean was born in Wheeler Texas and served as a test pilot .",
     [["Alan Bean", "birthPlace", "Wheeler Texas"], ["Alan Bean", "occupation", "test pilot"]]),
    ("Ottawa is the capital of Canada .", [["Canada", "capital", "Ottawa"]]),
    ("Barack Obama was born in Honolulu .", [["Barack Obama", "birthPlace", "Honolulu"]]),
    ("The leader of Italy is Sergio Mattarella and its capital is Rome .",
     [["Italy", "leaderName", "Sergio Mattarella"], ["Italy", "capital", "Rome"]]),
]


def _colour(index: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((index * 0.173) % 1.0, 0.8, 0.9)
    return int(r * 255), int(g * 255), int(b * 255)


def write_image(path: Path, index: int, size: int = IMAGE_SIZE) -> None:
    """A solid-colour RGB image; the suffix picks the format (.jpg, .png, ...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), _colour(index)).save(path)


def _image_name(split: str, index: int, suffix: str) -> tuple[str, str]:
    """(the id written in the text file, the file name the reader derives from it)."""
    post = f"{1000 * (SPLITS.index(split) + 1) + index}"
    return post, post + suffix


# --- one writer per reader: (split file, split, reader options, dataset node) -> image names ---------------
def _conll(path: Path, split: str, options: dict, dataset: dict) -> list[str]:
    suffix, lines, images = options.get("image_suffix", ".jpg"), [], []
    for index, sentence in enumerate(_CONLL):
        post, image = _image_name(split, index, suffix)
        lines += [f"IMGID:{post}", *(f"{word}\t{tag}" for word, tag in sentence), ""]
        images.append(image)
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # the last sentence ends without a blank
    return images


def _mnre(path: Path, split: str, options: dict, dataset: dict) -> list[str]:
    lines, images = [], []
    for index, (words, head, tail, other, relation) in enumerate(_MNRE):
        _, image = _image_name(split, index, ".jpg")

        def entity(span, words=words):
            return {"name": " ".join(words[span[0]:span[1]]), "pos": list(span)}

        lines.append(repr({"token": words, "h": entity(head), "t": entity(tail), "img_id": image,
                           "relation": relation}))
        lines.append(repr({"token": words, "h": entity(head), "t": entity(other), "img_id": image,
                           "relation": "None"}))
        images += [image, image]  # one per line: HVPNeT's MNRE crop mappings are keyed by line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return images


def _mvsa(path: Path, split: str, options: dict, dataset: dict) -> list[str]:
    # MVSA-Multiple has three annotators per post, MVSA-Single one; the reader reads either.
    annotators = 3 if "multiple" in str(dataset.get("name", "")) else 1
    text_dir = path.parent / options.get("text_dir", "data")
    text_dir.mkdir(parents=True, exist_ok=True)
    lines, images = ["ID\t" + "\t".join(["text,image"] * annotators)], []
    for index, (text, label) in enumerate(_MVSA):
        post, image = _image_name(split, index, options.get("image_suffix", ".jpg"))
        (text_dir / f"{post}.txt").write_text(text + "\n", encoding="utf-8")
        lines.append(f"{post}\t" + "\t".join([f"{label},{label}"] * annotators))
        images.append(image)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return images


def _casrel(path: Path, split: str, options: dict, dataset: dict) -> list[str]:
    with_images = bool(dataset.get("image_dir"))
    records, images = [], []
    for index, (text, triples) in enumerate(_CASREL):
        record = {"text": text, "triple_list": triples}
        if with_images:
            _, record["img_id"] = _image_name(split, index, ".jpg")
            images.append(record["img_id"])
        records.append(record)
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return images


def _clmlf(path: Path, split: str, options: dict, dataset: dict) -> list[str]:
    labels = {"positive": 0, "neutral": 1, "negative": 2}
    records, images = [], []
    for index, (text, label) in enumerate(_MVSA):
        post, image = _image_name(split, index, options.get("image_suffix", ".jpg"))
        records.append({"id": post, "text": text, "emotion_label": labels[label]})
        images.append(image)
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return images


WRITERS = {"ConllReader": _conll, "MnreReader": _mnre, "MvsaReader": _mvsa, "CasrelReader": _casrel,
           "ClmlfReader": _clmlf}


def _mapping_files(mapping, splits: dict[str, list[str]]) -> dict[Path, list[str]]:
    """Which mapping file lists which images (one per line of the split file): one file per split (a dict)
    or one for all (a path)."""
    if not mapping:
        return {}
    if isinstance(mapping, str):
        return {Path(mapping): [image for images in splits.values() for image in images]}
    return {Path(path): splits.get(split, []) for split, path in mapping.items()}


def _per_split(value, split: str):
    return value.get(split) if isinstance(value, dict) else value


def _write_relations(path: Path, relations: list[str], casrel: bool) -> None:
    """The release's relation vocabulary: CasRel's [{id: rel}, {rel: id}] or HVPNeT's one-line {rel: id}."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = {relation: index for index, relation in enumerate(relations)}
    path.write_text(json.dumps([{str(i): r for r, i in ids.items()}, ids] if casrel else ids))


def write_dataset(cfg: DictConfig, crops: int = CROPS) -> dict:
    """Write a tiny copy of ``cfg.dataset`` for task ``cfg.task.name`` where the config looks for it.

    Returns what was written: ``splits`` {split: [image names]}, ``images`` and ``crops`` (counts) and
    ``mappings`` (the crop-mapping files)."""
    dataset = OmegaConf.to_container(cfg.dataset, resolve=True)
    spec = dataset["tasks"][cfg.task.name]
    options = {k: v for k, v in spec["reader"].items() if not k.startswith("_")}
    reader = spec["reader"]["_target_"].rsplit(".", 1)[-1]
    if reader not in WRITERS:
        raise ValueError(f"dataset {dataset['name']}: reader {reader} has no fixture writer "
                         f"(writers exist for {sorted(WRITERS)}: add one to tests/fixtures.py)")
    splits = {}
    for split in SPLITS:
        path = Path(spec["splits"][split])
        path.parent.mkdir(parents=True, exist_ok=True)
        splits[split] = WRITERS[reader](path, split, options, dataset)

    written = {"splits": splits, "images": 0, "crops": 0, "mappings": []}
    names = sorted({image for images in splits.values() for image in images})
    colour = {image: index for index, image in enumerate(names)}
    if dataset.get("image_dir"):  # one folder, or one per split (HVPNeT's MNRE)
        for split, images in splits.items():
            for image in set(images):
                write_image(Path(_per_split(dataset["image_dir"], split)) / image, colour[image])
        written["images"] = len(names)

    aux_dir, mapping = dataset.get("aux_image_dir"), dataset.get("aux_mapping")
    if aux_dir and mapping:  # crops only mean something where a mapping links them to their image
        crop_names = {image: [f"{Path(image).stem}_crop{k}.png" for k in range(crops)] for image in names}
        for split, images in splits.items():
            for image in set(images):
                for k, crop in enumerate(crop_names[image]):
                    write_image(Path(_per_split(aux_dir, split)) / crop, 100 + 7 * colour[image] + k,
                                size=IMAGE_SIZE // 2)
        written["crops"] = len(names) * crops
        by_line = dataset.get("aux_key") == "line"  # HVPNeT's MNRE: keyed by the line's 0-based index
        for path, images in _mapping_files(mapping, splits).items():
            path.parent.mkdir(parents=True, exist_ok=True)
            table = ({line: crop_names[image] for line, image in enumerate(images)} if by_line
                     else {image: crop_names[image] for image in images})
            if path.suffix == ".json":
                path.write_text(json.dumps(table, indent=1))
            else:
                torch.save(table, path)
            written["mappings"].append(path)
    if dataset.get("relations_file"):
        relations = sorted({r for _, triples in _CASREL for _, r, _ in triples} if reader == "CasrelReader"
                           else {"None", *(m[-1] for m in _MNRE)})
        _write_relations(Path(dataset["relations_file"]), relations, casrel=reader == "CasrelReader")

    if dataset.get("groups"):  # optional evaluation subsets: none here
        Path(dataset["groups"]).parent.mkdir(parents=True, exist_ok=True)
        Path(dataset["groups"]).write_text("{}")
    return written
