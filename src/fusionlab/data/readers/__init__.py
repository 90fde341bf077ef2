"""One reader per on-disk format. Each returns a ``ReadResult`` of plain Examples."""

from fusionlab.data.readers.result import ReadResult

__all__ = ["ReadResult"]
