"""Project datasets."""

from .previous_version import PreviousVersionDataset

__all__ = ["PreviousVersionDataset"]
