"""From a transaction log to one row of behavioural features per customer."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
