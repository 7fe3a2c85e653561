"""Catalog datasets of the versioning layer: the previous version of a
dataset, and the version of a dataset as data a node can take as input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError, Version
from kedro.io.core import parse_dataset_definition

from .choice import previous_version
from .marks import complete_versions


class PreviousVersionDataset(AbstractDataset):
    """Loads ``dataset`` (a versioned dataset definition, as in the catalog) at
    its previous complete version; ``None`` when there is none (a first run).

    Without ``relative_to``, "previous" is the newest complete version when the
    catalog was created. With ``relative_to`` (another catalog entry, such as
    the model), the project's versioning hook resolves it once the run holds
    its lock: the reference's complete version just before the one this run
    uses, or for another dataset, the version made from that one. So drift is
    measured against the model before this run's model, also when the
    pipelines run as separate jobs (Airflow tasks).

    Example::

        previous_segment_profiles:
          type: customer_segmentation.versioning.PreviousVersionDataset
          relative_to: segmentation_model
          dataset:
            type: pandas.CSVDataset
            filepath: data/08_reporting/segment_profiles.csv
    """

    def __init__(
        self,
        dataset: dict[str, Any],
        relative_to: str | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        self._config = dict(dataset)
        self.folder = Path(self._config["filepath"])
        self.relative_to = relative_to
        self.metadata = metadata
        stamps = complete_versions(self.folder)
        self._previous = stamps[-1] if stamps else None

    @property
    def version(self) -> str | None:
        """The version this dataset loads, or ``None``."""
        return self._previous

    def follow(self, reference_folder: Path, reference_version: str | None) -> None:
        """Loads the version that belongs to the reference dataset's complete
        version just before ``reference_version`` (see the class docstring)."""
        self._previous = previous_version(
            self.folder, reference_folder, self.relative_to or "", reference_version
        )

    def load(self) -> Any:
        if self._previous is None:
            return None
        dataset_class, kwargs = parse_dataset_definition(self._config)
        return dataset_class(**kwargs, version=Version(self._previous, None)).load()

    def save(self, data: Any) -> None:
        raise DatasetError("PreviousVersionDataset is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._config, "relative_to": self.relative_to, "version": self._previous}


class VersionDataset(AbstractDataset):
    """The version (a Kedro timestamp string) of another catalog entry, ``of``,
    as this run uses it: so a node that reports which model it used declares
    the model's version as an input instead of guessing it. ``None`` for an
    unversioned entry or an empty ``PreviousVersionDataset``.

    The versioning hook resolves it before the first node; the catalog's
    dataset factory ``{name}_version`` makes one for any entry::

        "{name}_version":
          type: customer_segmentation.versioning.VersionDataset
          of: "{name}"
    """

    def __init__(self, of: str, metadata: dict[str, Any] | None = None):
        self.of = of
        self.metadata = metadata
        self._resolved = False
        self._version: str | None = None

    def resolve(self, version: str | None) -> None:
        self._version, self._resolved = version, True

    def load(self) -> str | None:
        if not self._resolved:
            raise DatasetError(
                f"The version of '{self.of}' is resolved by the project's versioning hook "
                "when a run starts; load it within a KedroSession run"
            )
        return self._version

    def save(self, data: Any) -> None:
        raise DatasetError("VersionDataset is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"of": self.of, "version": self._version}
