"""Experiment tracking: every training run recorded in MLflow through
kedro-mlflow, when the run's configuration has an ``mlflow.yml``
(``connection``), with what ``record`` chooses, by the hook in ``hook``."""

from .hook import ExperimentTracking

__all__ = ["ExperimentTracking"]
