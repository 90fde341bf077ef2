"""MVSA as the field uses it: CLMLF's public splits (Li et al., NAACL 2022 Findings).

Each split is a JSON list of ``{"id": <MVSA post id>, "text": <raw tweet>, "emotion_label": 0 | 1 | 2}``
(``train.json``, ``dev.json``, ``test.json``), already filtered for text/image consistency and split 8:1:1;
the images are the MVSA archive's ``data/<id>.jpg``. CLMLF does not state what the label numbers mean:
0 = positive, 1 = neutral, 2 = negative is inferred from the class proportions against MVSA's published
statistics (positive is the largest class of both MVSA-Single and MVSA-Multiple).
"""

from __future__ import annotations

from pathlib import Path

from fusionlab.data.errors import DataFormatError
from fusionlab.data.example import Example
from fusionlab.data.readers.json_records import json_records
from fusionlab.data.readers.names import file_name
from fusionlab.data.readers.result import ReadResult

LABELS = ("positive", "neutral", "negative")  # emotion_label 0, 1, 2 (inferred: see the module docstring)
_EXPECTED = 'an object {"id": str | int, "text": str, "emotion_label": 0 | 1 | 2}'


class ClmlfReader:
    def __init__(self, image_suffix: str = ".jpg"):
        self.image_suffix = image_suffix

    def __call__(self, path: str | Path) -> ReadResult:
        path = Path(path)
        examples = []
        for number, record in json_records(path, _EXPECTED):
            if not (isinstance(record, dict) and isinstance(record.get("id"), (str, int))
                    and not isinstance(record.get("id"), bool) and isinstance(record.get("text"), str)
                    and record.get("emotion_label") in (0, 1, 2) and not isinstance(record.get("emotion_label"), bool)):
                raise DataFormatError(path, number, _EXPECTED, str(record))
            words = record["text"].split()
            if not words:
                raise DataFormatError(path, number, "a post with some text", str(record))
            image = file_name(f"{record['id']}{self.image_suffix}", path, number, "'id'")
            examples.append(Example(words, image=image,
                                    label=LABELS[record["emotion_label"]], source=f"{path}:{number}"))
        return ReadResult(examples)
