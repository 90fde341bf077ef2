"""Layering, read from the source: the data side never imports the tasks, and each part of a task
(targets: the data side, head: the model side, output: metrics and dumps) imports only what its side may."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "fusionlab"
TASKS = PACKAGE / "tasks"
PARTS = ("targets", "head", "output", "metrics")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path) -> set[str]:
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    return imports_in(path.read_text(), package)


def imports_in(source: str, package: str) -> set[str]:
    """Every module (and ``module.name``) ``source`` imports, relative imports resolved against ``package``,
    except under ``if TYPE_CHECKING:``."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
            source = ".".join(filter(None, [base, node.module]))
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def parts_of(imports: set[str]) -> set[str]:
    """Which parts of a task (``PARTS``) the imported ``fusionlab.tasks`` modules belong to; ``task`` for the rest."""
    tasks = [name.split(".")[2:] for name in imports if name.startswith("fusionlab.tasks.")]
    return {next((p for p in PARTS if p in components), "task") for components in tasks}


def modules(stem: str) -> list[Path]:
    """``tasks/<stem>.py`` and every task's ``tasks/<task>/<stem>.py``."""
    return [TASKS / f"{stem}.py", *sorted(TASKS.glob(f"*/{stem}.py"))]


def test_every_task_is_its_targets_head_and_output():
    tasks = {path.parent.name for path in TASKS.glob("*/__init__.py")} - {"metrics"}
    assert tasks == {"mner", "mre", "msa", "joint"}
    assert all((TASKS / task / f"{part}.py").is_file() for task in tasks for part in ("targets", "head", "output"))


@pytest.mark.parametrize("path", sorted((PACKAGE / "data").rglob("*.py")), ids=lambda p: module_name(p))
def test_data_never_imports_the_tasks(path):
    imports = runtime_imports(path)
    assert not {name for name in imports if name == "fusionlab.tasks" or name.startswith("fusionlab.tasks.")}


@pytest.mark.parametrize("path", modules("head"), ids=lambda p: module_name(p))
def test_a_head_imports_no_metric_output_or_targets_code(path):
    imports = runtime_imports(path)
    assert parts_of(imports) <= {"head"} and not any(name.startswith("torchmetrics") for name in imports)


@pytest.mark.parametrize("path", modules("targets"), ids=lambda p: module_name(p))
def test_targets_import_no_head_or_output_code(path):
    imports = runtime_imports(path)
    assert parts_of(imports) <= {"targets"}
    assert not any(name.startswith(("torch.nn", "torchcrf", "torchmetrics")) for name in imports - {"torch"})


@pytest.mark.parametrize("path", modules("output"), ids=lambda p: module_name(p))
def test_an_output_reads_the_targets_but_no_head(path):
    imports = runtime_imports(path)
    assert parts_of(imports) <= {"targets", "output", "metrics"}
    assert not any(name.startswith(("torch.nn", "torchcrf")) for name in imports)


def test_the_import_reader_resolves_relative_imports_and_skips_type_checking():
    source = ("from typing import TYPE_CHECKING\nfrom .example import Span\nfrom ..tasks import base\n"
              "if TYPE_CHECKING:\n    from fusionlab.tasks.head import TaskHead\nelse:\n    import torch.nn\n")
    imports = imports_in(source, "fusionlab.data")
    assert {"fusionlab.data.example.Span", "fusionlab.tasks.base", "torch.nn"} <= imports
    assert "fusionlab.tasks.head" not in imports


RUN_FOLDER_USERS = [PACKAGE / "train.py", PACKAGE / "evaluate.py", PACKAGE / "predict.py",
                    *sorted((PACKAGE / "callbacks").glob("*.py")), *sorted((PACKAGE / "fusion").rglob("*.py"))]
FILE_WRITES = {"unlink", "rmtree", "write_text", "write_bytes", "mkdir", "rename", "write_text_atomically", "touch"}


@pytest.mark.parametrize("path", RUN_FOLDER_USERS, ids=lambda p: module_name(p))
def test_only_the_run_folder_creates_rewrites_or_deletes_files_in_a_run_folder(path):
    called = {node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
              for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)}
    assert not called & FILE_WRITES  # they ask fusionlab.run.folder.RunFolder


def test_the_write_finder_sees_a_deletion():
    source = "from pathlib import Path\nPath('x').unlink(missing_ok=True)\n"
    called = {node.func.attr for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
              and isinstance(node.func, ast.Attribute)}
    assert called & FILE_WRITES == {"unlink"}


@pytest.mark.parametrize("path", sorted((PACKAGE / "analysis").rglob("*.py")), ids=lambda p: module_name(p))
def test_the_analysis_reads_records_never_the_code_that_runs(path):
    imports = {name for name in runtime_imports(path) if name.startswith("fusionlab.")}
    forbidden = ("fusionlab.run", "fusionlab.model", "fusionlab.fusion", "fusionlab.train")
    assert not {name for name in imports if any(name == f or name.startswith(f + ".") for f in forbidden)}


def test_the_top_level_holds_entry_points_the_model_and_packages():
    modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == {"train", "evaluate", "predict", "check", "report", "export", "model"}


TASK_NAMES = ("mner", "mre", "msa", "joint")


@pytest.mark.parametrize("path", sorted((PACKAGE / "fusion").rglob("*.py")), ids=lambda p: module_name(p))
def test_a_method_asks_the_task_through_its_interfaces_never_a_named_task(path):
    imports = runtime_imports(path)
    assert not {name for name in imports for task in TASK_NAMES
                if name == f"fusionlab.tasks.{task}" or name.startswith(f"fusionlab.tasks.{task}.")}
    assert ".name ==" not in path.read_text() and ".name in (" not in path.read_text()  # no branching on a task


@pytest.mark.parametrize("path", sorted((PACKAGE / "callbacks").rglob("*.py")), ids=lambda p: module_name(p))
def test_the_generic_callbacks_import_no_method(path):
    assert not {name for name in runtime_imports(path) if name.startswith("fusionlab.fusion")}


def module_of(name: str, known: set[str]) -> str | None:
    """The fusionlab module an imported name lives in (``fusionlab.a.b.Name`` -> ``fusionlab.a.b``)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """fusionlab module -> the fusionlab modules its import statements name (a package counts as its __init__)."""
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {module: {target for name in runtime_imports(path) if name.startswith("fusionlab")
                     for target in [module_of(name, set(paths))] if target and target != module}
            for module, path in paths.items()}


def test_the_import_graph_has_no_cycle():
    from graphlib import TopologicalSorter

    TopologicalSorter(import_graph()).prepare()  # raises CycleError naming the cycle


def test_the_cycle_finder_sees_a_cycle():
    from graphlib import CycleError, TopologicalSorter

    with pytest.raises(CycleError):
        TopologicalSorter({"a": {"b"}, "b": {"a"}}).prepare()
