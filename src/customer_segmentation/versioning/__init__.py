"""Versioned runs that are isolated, crash-safe and consistent.

- ``lock``: one run at a time per project.
- ``marks``: completion marks and the lineage they record.
- ``choice``: which versions of a run's inputs belong together, and the
  version before a given one.
- ``datasets``: ``PreviousVersionDataset`` and ``VersionDataset`` for the catalog.
- ``hooks``: ``RunVersioning``, the Kedro hook that applies all of the above.
- ``retention``: the ``customer-segmentation-prune`` command.
- ``kedro_adapter``: the only module that touches Kedro's private attributes.
"""

from .datasets import PreviousVersionDataset, VersionDataset
from .hooks import DamagedVersionError, NoCompleteVersionError, RunVersioning
from .lock import RunLockTimeoutError

__all__ = [
    "DamagedVersionError",
    "NoCompleteVersionError",
    "PreviousVersionDataset",
    "RunLockTimeoutError",
    "RunVersioning",
    "VersionDataset",
]
