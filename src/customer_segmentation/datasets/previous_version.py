"""Read-only access to the previous version of a versioned dataset, so a
training run can compare itself with the one before it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError, Version
from kedro.io.core import parse_dataset_definition

from customer_segmentation.versions import complete_versions, previous_version


class PreviousVersionDataset(AbstractDataset):
    """Loads ``dataset`` (a versioned dataset definition, as in the catalog) at
    its previous complete version; ``None`` when there is none (a first run).

    Without ``relative_to``, "previous" is the newest complete version when the
    catalog was created. With ``relative_to`` (another catalog entry, such as
    the model), the project's ``RunLock`` hook resolves it once the run holds
    its lock: the reference's complete version just before the one this run
    uses, or for another dataset, the version made from that one. So drift is
    measured against the model before this run's model, also when the
    pipelines run as separate jobs (Airflow tasks).

    Example::

        previous_segment_profiles:
          type: customer_segmentation.datasets.PreviousVersionDataset
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
        data = dataset_class(**kwargs, version=Version(self._previous, None)).load()
        if hasattr(data, "attrs"):
            data.attrs["kedro_version"] = self._previous
        else:
            data.kedro_version_ = self._previous
        return data

    def save(self, data: Any) -> None:
        raise DatasetError("PreviousVersionDataset is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._config, "relative_to": self.relative_to, "version": self._previous}
