"""What the datamodule needs from a task: its name and its data side (the label vocabulary, and the targets
it encodes and collates). ``fusionlab.tasks.base.Task`` answers it; ``fusionlab.tasks.targets.Targets``
documents each method (the data side never imports the tasks, hence this protocol)."""

from __future__ import annotations

from typing import Protocol

from fusionlab.data.encoding import Encoded
from fusionlab.data.example import Example


class TaskData(Protocol):
    @property
    def vocabulary_keys(self) -> tuple[str, ...]: ...

    @property
    def fitted(self) -> bool: ...

    def fit(self, examples: list[Example]) -> None: ...

    def vocabulary(self) -> dict[str, list]: ...

    def load_vocabulary(self, vocabulary: dict[str, list]) -> None: ...

    def unseen_labels(self, examples: list[Example]) -> dict[str, int]: ...

    def words(self, example: Example) -> list[str]: ...

    def target_cut(self, example: Example, encoded: Encoded) -> bool: ...

    def targets(self, example: Example, encoded: Encoded) -> dict: ...

    def collate(self, items: list[dict], width: int) -> dict: ...


class DataTask(Protocol):
    name: str
    data: TaskData
