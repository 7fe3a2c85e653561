"""Read-only access to the version of a versioned dataset that was the newest
when the run started, so a training run can compare itself with the previous
one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError, Version
from kedro.io.core import parse_dataset_definition

_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")


class PreviousVersionDataset(AbstractDataset):
    """Loads ``dataset`` (a versioned dataset definition, as in the catalog) at
    the newest complete version that existed when the catalog was created,
    before this run saved anything; ``None`` when there is none (a first run).

    Example::

        previous_segmentation_model:
          type: customer_segmentation.datasets.PreviousVersionDataset
          dataset:
            type: pickle.PickleDataset
            filepath: data/06_models/segmentation_model.pkl
            backend: joblib
    """

    def __init__(self, dataset: dict[str, Any], metadata: dict[str, Any] | None = None):
        self._config = dict(dataset)
        self._filepath = Path(self._config["filepath"])
        self.metadata = metadata
        from customer_segmentation.hooks import complete_versions  # noqa: PLC0415

        stamps = [s for s in complete_versions(self._filepath) if _STAMP.match(s)]
        self._previous = stamps[-1] if stamps else None

    @property
    def version(self) -> str | None:
        """The version this dataset loads, or ``None``."""
        return self._previous

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
        return {"dataset": self._config, "version": self._previous}
