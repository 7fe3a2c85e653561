"""customer-segmentation"""

import warnings

__version__ = "0.1"

# PySpark 4 warns, when it is imported (pandera imports it whenever it is
# installed) and at every pandas conversion, that it does not fully support
# pandas 3. The conversions this project makes (Arrow batches of numbers, text
# and timestamps, both ways) are checked against the pandas path by
# tests/test_spark.py; what breaks under pandas 3 is listed in the README
# ("Running on Spark"), and the project uses none of it.
warnings.filterwarnings("ignore", message=r"PySpark does not yet fully support pandas")

# The Python API (customer_segmentation.api), importable from the package
# itself: `from customer_segmentation import load_segmentation`. Imported on
# first use, so that `import customer_segmentation` (Kedro imports it for
# every command) stays as cheap as it was.
_API = ("load_segmentation", "Segmentation", "ScoringResult")


def __getattr__(name: str):
    if name in _API:
        from customer_segmentation import api  # noqa: PLC0415 - lazily, see above

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
