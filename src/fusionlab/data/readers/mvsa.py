"""MVSA-Single / MVSA-Multiple: an id-keyed label file, ``data/<id>.txt`` and ``data/<id>.jpg``.

The label file has a header line, then ``<id><TAB>text,image`` (Single: one annotator) or
three such pairs (Multiple: three annotators). The usual consistency filter (Xu & Mao,
2017) gives one label per post: for Multiple, each modality first takes the majority of
its three annotators; then equal labels are kept, a neutral one yields to the other, and
a positive/negative conflict drops the post. Every dropped post is counted by reason.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from fusionlab.data.errors import DataFormatError
from fusionlab.data.example import Example
from fusionlab.data.readers.names import file_name
from fusionlab.data.readers.result import ReadResult
from fusionlab.data.readers.text import numbered_lines, read_text

LABELS = ("positive", "neutral", "negative")


def _majority(votes: list[str]) -> str | None:
    label, count = Counter(votes).most_common(1)[0]
    return label if count * 2 > len(votes) else None


def consistent_label(text: str, image: str) -> str | None:
    """The post's label from its text and image labels, or None when they conflict."""
    if text == image:
        return text
    if "neutral" in (text, image):
        return image if text == "neutral" else text
    return None


def _read_post(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # MVSA ships some posts in Latin-1.
        return raw.decode("latin-1")


class MvsaReader:
    def __init__(self, text_dir: str = "data", image_suffix: str = ".jpg"):
        self.text_dir, self.image_suffix = text_dir, image_suffix

    def __call__(self, path: str | Path) -> ReadResult:
        path = Path(path)
        examples, dropped = [], Counter()
        for number, line in numbered_lines(read_text(path)):
            fields = line.split()
            if not fields or (number == 1 and fields[0].upper() == "ID"):
                continue
            pairs = [f.split(",") for f in fields[1:]]
            if not pairs or any(len(p) != 2 or not set(p) <= set(LABELS) for p in pairs):
                raise DataFormatError(path, number, "'<id><TAB>text,image' labels in " + "/".join(LABELS), line)
            post = file_name(fields[0], path, number, "a post id")
            text_label = _majority([p[0] for p in pairs])
            image_label = _majority([p[1] for p in pairs])
            if text_label is None or image_label is None:
                dropped["mvsa_no_majority"] += 1
                continue
            label = consistent_label(text_label, image_label)
            if label is None:
                dropped["mvsa_text_image_conflict"] += 1
                continue
            text_file = path.parent / self.text_dir / f"{post}.txt"
            if not text_file.is_file():
                raise DataFormatError(path, number, f"a text file {text_file} for post {post}")
            words = _read_post(text_file).split()
            if not words:
                dropped["mvsa_empty_text"] += 1
                continue
            examples.append(Example(words, image=post + self.image_suffix, label=label, source=f"{path}:{number}"))
        return ReadResult(examples, dropped)
