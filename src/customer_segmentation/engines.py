"""The choice of engine, made in one place.

A pipeline's node is its pandas function (``nodes.py``) wired through
``by_engine`` with the dotted name of its Spark twin (``spark_nodes.py``):
the node calls the Spark function when any of its inputs is a Spark
DataFrame (the ``spark`` environment's catalog loads them), the pandas one
otherwise. The Spark module is imported only then, so an environment
without Spark never imports pyspark. The node keeps the pandas function's
name, docstring and signature (Kedro-Viz, Airflow and input checks see the
same node); in its type hints a pandas DataFrame reads ``Table``: what may
arrive.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any

import pandas as pd

from customer_segmentation.spark import is_spark

# What a dispatched node's table parameter may be. A real object, not a
# string, so that readers of type hints (Kedro's, Kedro-Viz's) resolve it
# without importing pyspark.
Table = Annotated[pd.DataFrame, "or a pyspark.sql.DataFrame on the Spark engine"]


def _resolved_hints(function: Callable) -> dict[str, Any]:
    """``function``'s type hints as objects (its module has ``from
    __future__ import annotations``), or its raw annotations when a hint
    cannot be resolved."""
    try:
        return typing.get_type_hints(function)
    except (NameError, TypeError):
        return dict(function.__annotations__)


def _as_table(annotation: Any) -> Any:
    """A pandas-only type hint as the hint of either engine's table."""
    return Table if annotation is pd.DataFrame else annotation


def by_engine(pandas_function: Callable, spark_function: str) -> Callable:
    """The node function that runs ``pandas_function`` on pandas inputs and
    the function named ``spark_function`` (``"package.module.function"``,
    same parameters) when any input is a Spark DataFrame."""
    module, _, name = spark_function.rpartition(".")
    if not module:
        raise ValueError(f"spark_function {spark_function!r} is not a dotted module.function name")

    @functools.wraps(pandas_function)
    def node(*args: Any, **kwargs: Any) -> Any:
        if any(is_spark(value) for value in (*args, *kwargs.values())):
            return getattr(importlib.import_module(module), name)(*args, **kwargs)
        return pandas_function(*args, **kwargs)

    hints = {name: _as_table(hint) for name, hint in _resolved_hints(pandas_function).items()}
    signature = inspect.signature(pandas_function)
    node.__signature__ = signature.replace(
        parameters=[
            p.replace(annotation=hints.get(name, p.annotation))
            for name, p in signature.parameters.items()
        ],
        return_annotation=hints.get("return", signature.return_annotation),
    )
    node.__annotations__ = hints
    node.spark_function = spark_function
    return node
