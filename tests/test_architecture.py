"""The shape of the package: every module imports, the project's modules
import each other without a cycle, and the two engines meet only in the
engine-neutral kernels (``kernels.py``, ``contracts.py``): a ``nodes.py`` is
pandas only, a ``spark_nodes.py`` never imports a ``nodes.py``, and a kernel
imports neither engine. Read from the source with ``ast``, so that a lazy
import inside a function counts too."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import typing
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pandas as pd
import pytest

import customer_segmentation
from customer_segmentation.engines import Table, by_engine

PACKAGE = Path(customer_segmentation.__file__).parent
ROOT = "customer_segmentation"
KERNELS = ("kernels", "contracts")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imported(module: str, is_package: bool, source: str) -> set[str]:
    """Every module ``module`` imports at run time, at any depth of its code
    (imports under ``if TYPE_CHECKING:`` only name types, and are left out);
    ``from package import name`` counts as the module ``package.name`` when
    there is one."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(
                f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES
            )
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return names


IMPORTS = {
    module: _imported(module, path.name == "__init__.py", path.read_text(encoding="utf-8"))
    for module, path in MODULES.items()
}


def _kind(module: str) -> str:
    return module.rpartition(".")[2]


def test_every_module_imports():
    spark = importlib.util.find_spec("pyspark") is not None
    for module in MODULES:
        if _kind(module) == "spark_nodes" and not spark:
            continue  # the Spark engine needs the spark extra
        importlib.import_module(module)


def test_the_project_modules_import_each_other_without_a_cycle():
    # A module's own parent packages are initialised before it: importing
    # them (``from . import kernels``) is no edge.
    graph = {
        module: {
            name
            for name in imported
            if name in MODULES and name != module and not module.startswith(f"{name}.")
        }
        for module, imported in IMPORTS.items()
    }
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


def _pyspark(names: set[str]) -> list[str]:
    return sorted(n for n in names if n == "pyspark" or n.startswith("pyspark."))


def test_the_engines_meet_only_in_the_kernels():
    problems = []
    for module, imported in IMPORTS.items():
        kind = _kind(module)
        engines = sorted(n for n in imported if _kind(n) in ("nodes", "spark_nodes"))
        if kind == "nodes":
            wrong = _pyspark(imported) + [n for n in engines if _kind(n) == "spark_nodes"]
            wrong += [n for n in imported if n == f"{ROOT}.spark"]  # is_spark: no dispatch here
        elif kind == "spark_nodes":
            wrong = [n for n in engines if _kind(n) == "nodes"]
        elif kind in KERNELS:
            wrong = _pyspark(imported) + engines
        else:
            continue
        problems += [f"{module} imports {name}" for name in wrong]
    assert problems == []


def test_each_pipeline_with_a_spark_path_has_its_kernels():
    """Where a pipeline has a Spark engine, what both engines share has a
    home of its own, and ``nodes.py`` is not it."""
    for module in MODULES:
        if _kind(module) == "spark_nodes":
            package = module.rpartition(".")[0]
            assert any(f"{package}.{kernel}" in MODULES for kernel in KERNELS), package
            assert not any(_kind(n) == "nodes" for n in IMPORTS[module]), module


def test_the_checks_see_imports_at_any_depth():
    """The import reader itself: lazy, relative and TYPE_CHECKING imports."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import kernels\n"
        "if TYPE_CHECKING:\n    import pyspark.sql\n"
        "def f():\n    from .spark_nodes import g\n"
    )
    found = _imported(f"{ROOT}.pipelines.scoring.nodes", False, source)
    assert f"{ROOT}.pipelines.scoring.kernels" in found
    assert f"{ROOT}.pipelines.scoring.spark_nodes" in found
    assert not _pyspark(found)


class _FakeSparkFrame:
    """Stands for a Spark DataFrame: ``spark.is_spark`` reads the type's module."""

    __module__ = "pyspark.sql.dataframe"


def _pandas_twin(table: pd.DataFrame, rows: int) -> pd.DataFrame:
    """The pandas node."""
    return table.head(rows)


def spark_twin(table, rows):
    return ("spark", rows)


def test_by_engine_calls_the_function_of_the_inputs_engine():
    node = by_engine(_pandas_twin, f"{__name__}.spark_twin")
    table = pd.DataFrame({"a": [1, 2, 3]})
    assert node(table, 2).equals(table.head(2))
    assert node(_FakeSparkFrame(), 2) == ("spark", 2)
    # Any input on Spark, positional or by name, picks the Spark function.
    assert node(rows=1, table=_FakeSparkFrame()) == ("spark", 1)
    # What Kedro and Kedro-Viz read is the pandas node's, hints saying what arrives.
    assert node.__name__ == "_pandas_twin" and node.__doc__ == "The pandas node."
    signature = inspect.signature(node)
    assert list(signature.parameters) == ["table", "rows"]
    assert signature.parameters["table"].annotation is Table
    assert signature.return_annotation is Table
    # Readers of type hints resolve them without pyspark (Kedro warns otherwise).
    assert typing.get_type_hints(node, include_extras=True)["table"] is Table


def test_by_engine_imports_the_spark_module_only_for_spark_inputs():
    node = by_engine(_pandas_twin, "no_such_package.spark_nodes.twin")
    table = pd.DataFrame({"a": [1]})
    assert node(table, 1).equals(table)  # never imported on pandas inputs
    with pytest.raises(ModuleNotFoundError, match="no_such_package"):
        node(_FakeSparkFrame(), 1)
