"""One reader per on-disk format. Each returns a ``ReadResult`` of plain Examples.

Label files are UTF-8, optionally opening with a BOM (``readers.text``); other bytes stop the
read with a ``DataFormatError`` naming the file and line."""

from fusionlab.data.readers.result import ReadResult

__all__ = ["ReadResult"]
