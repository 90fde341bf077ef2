"""CoNLL with ``IMGID:`` lines (Twitter-2015/2017, the synthetic MNER files).

Each sentence opens with ``IMGID:<id>`` and has one ``token<TAB>tag`` line per word; a
blank line closes it (the file's last sentence may lack one). Tags are BIO; ``OTHER`` is
renamed ``MISC`` as in the papers.
"""

from __future__ import annotations

import re
from pathlib import Path

from fusionlab.data.errors import DataFormatError
from fusionlab.data.example import Example
from fusionlab.data.readers.names import file_name
from fusionlab.data.readers.result import ReadResult
from fusionlab.data.readers.text import numbered_lines, read_text

_TAG = re.compile(r"^(O|[BI]-\S+)$")
_RENAME = {"OTHER": "MISC"}


def _normalise(tag: str) -> str:
    if tag == "O":
        return tag
    prefix, kind = tag.split("-", 1)
    return f"{prefix}-{_RENAME.get(kind, kind)}"


class ConllReader:
    def __init__(self, image_suffix: str = ".jpg"):
        self.image_suffix = image_suffix

    def __call__(self, path: str | Path) -> ReadResult:
        examples: list[Example] = []
        words: list[str] = []
        tags: list[str] = []
        image: str | None = None
        start = 0

        def close() -> None:
            nonlocal words, tags, image
            if words:
                examples.append(Example(words, image, tags=tags, source=f"{path}:{start}"))
            elif image is not None:
                raise DataFormatError(path, start, "at least one token line after IMGID")
            words, tags, image = [], [], None

        for number, line in numbered_lines(read_text(path)):
            if not line.strip():
                close()
                continue
            if line.startswith("IMGID:"):
                close()
                image = file_name(line[len("IMGID:"):].strip() + self.image_suffix, path, number, "IMGID")
                start = number
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0] or not _TAG.match(parts[1]):
                raise DataFormatError(path, number, "'token<TAB>tag' with tag O, B-X or I-X", line)
            if not words and image is None:
                start = number
            words.append(parts[0])
            tags.append(_normalise(parts[1]))
        close()
        return ReadResult(examples)
