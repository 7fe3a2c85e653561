"""The one module that reaches into Kedro's versioned datasets.

Kedro has no public API to pin the version a dataset loads after the catalog
is made, or to ask where a given version of a dataset lives. Everything else
in ``customer_segmentation.versioning`` goes through these functions, so a
Kedro upgrade that renames ``_version`` or ``_get_versioned_path`` is fixed
here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import CachedDataset, Version
from kedro.io.core import generate_timestamp


def _files(dataset: Any) -> Any:
    """The dataset that holds the files: the wrapped one of a
    ``CachedDataset`` (a versioned dataset kept in memory after its first
    save or load, so a run does not read back what it just wrote)."""
    return dataset._dataset if isinstance(dataset, CachedDataset) else dataset


def is_versioned(dataset: Any) -> bool:
    """Whether ``dataset`` is a versioned file dataset (``versioned: true``)."""
    return isinstance(getattr(_files(dataset), "_version", None), Version)


def pinned_load_version(dataset: Any) -> str | None:
    """The version the dataset was told to load (``--load-versions``, or
    pinned by this package), or None when it would load the newest."""
    return _files(dataset)._version.load


def pin_load_version(dataset: Any, version: str) -> None:
    """Makes ``dataset`` load ``version``; its save version is untouched."""
    files = _files(dataset)
    files._version = Version(version, files._version.save)


def save_version(dataset: Any) -> str | None:
    """The version the dataset saves at: the run's version stamp, the same
    for every versioned dataset of a run's catalog."""
    return _files(dataset)._version.save


def set_save_version(dataset: Any, version: str) -> None:
    """Makes ``dataset`` save at ``version``; its load version is untouched."""
    files = _files(dataset)
    files._version = Version(files._version.load, version)


def new_version_stamp() -> str:
    """A version stamp for now, as Kedro makes them."""
    return generate_timestamp()


def load_version(dataset: Any) -> str | None:
    """The version the dataset loads now (public Kedro API)."""
    return _files(dataset).resolve_load_version()


def versioned_path(dataset: Any, version: str) -> Path:
    """The file of ``version`` of a versioned dataset."""
    return Path(str(_files(dataset)._get_versioned_path(version)))


def version_folder(dataset: Any) -> Path:
    """The folder that holds a versioned dataset's version folders."""
    return versioned_path(dataset, "version").parent.parent
