"""The segmentation model's contract: its step names and how to read it.

The model is one scikit-learn ``Pipeline``: the fitted preprocessor (a
``ColumnTransformer``, or a ``Pipeline`` of it and a PCA) followed by KMeans,
so ``model.predict(raw_rows)`` returns segments. Every pipeline reads the
model through these names and helpers, never through its own copy of them.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

PREPROCESSOR = "preprocessor"
CLUSTERING = "kmeans"
# Steps of a preprocessor with PCA, and blocks of its ColumnTransformer.
COLUMNS = "columns"
PCA_STEP = "pca"
NUMERIC_BLOCK = "numeric"
LOG_NUMERIC_BLOCK = "log_numeric"
CATEGORICAL_BLOCK = "categorical"
PINNED_CATEGORICAL_BLOCK = "pinned_categorical"
CATEGORICAL_BLOCKS = (CATEGORICAL_BLOCK, PINNED_CATEGORICAL_BLOCK)
MISSING_CATEGORY = "missing"


def segmentation_model(preprocessor: ColumnTransformer | Pipeline, kmeans: KMeans) -> Pipeline:
    """The deployable model: the fitted preprocessor, then the fitted KMeans."""
    return Pipeline([(PREPROCESSOR, preprocessor), (CLUSTERING, kmeans)])


def clustering(model: Pipeline) -> KMeans:
    return model.named_steps[CLUSTERING]


def preprocessor(model: Pipeline) -> ColumnTransformer | Pipeline:
    return model.named_steps[PREPROCESSOR]


def column_transformer(preprocessor: ColumnTransformer | Pipeline) -> ColumnTransformer:
    """The ColumnTransformer of a preprocessor, with or without PCA."""
    return preprocessor.named_steps[COLUMNS] if isinstance(preprocessor, Pipeline) else preprocessor


def pca(preprocessor: ColumnTransformer | Pipeline):
    """The PCA step of a preprocessor, or None."""
    return preprocessor.named_steps.get(PCA_STEP) if isinstance(preprocessor, Pipeline) else None


def fingerprint(model: Pipeline) -> str:
    """A short, stable identifier of a fitted model (a hash of its segment
    centres), kept in segment_profiles so that scoring can tell whether the
    names it attaches were made for the model it uses."""
    centres = np.ascontiguousarray(clustering(model).cluster_centers_)
    return hashlib.sha256(centres.tobytes()).hexdigest()[:16]


def scaled_numeric(model: Pipeline, numeric: pd.DataFrame) -> pd.DataFrame:
    """Numeric columns as the model scales them (after imputation and any log
    transform): distances from the training mean in standard deviations."""
    columns = column_transformer(preprocessor(model))
    scaled = []
    for name, transformer, names in columns.transformers_:
        if name not in (NUMERIC_BLOCK, LOG_NUMERIC_BLOCK):
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            values = transformer.transform(numeric[list(names)])
        scaled.append(pd.DataFrame(np.asarray(values, float), columns=names, index=numeric.index))
    return pd.concat(scaled, axis=1)


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as text, with missing values as the category
    "missing" (the first step of the one-hot blocks)."""
    return frame.astype(object).where(frame.notna(), MISSING_CATEGORY).astype(str)


def set_training_range(preprocessor, low: pd.Series, high: pd.Series) -> None:
    """Keeps the training minimum and maximum of each numeric column with the
    fitted preprocessor (scoring rejects far values only outside them)."""
    column_transformer(preprocessor).training_range_ = {
        column: (float(low[column]), float(high[column])) for column in low.index
    }


def training_range(model: Pipeline) -> dict[str, tuple[float, float]]:
    """The training minimum and maximum of each numeric column."""
    return getattr(column_transformer(preprocessor(model)), "training_range_", {})


def fitted_categories(model: Pipeline) -> dict[str, list[str]]:
    """The categories the model's one-hot blocks know, per categorical column."""
    columns = column_transformer(preprocessor(model))
    known = {}
    for name, transformer, names in columns.transformers_:
        if name in CATEGORICAL_BLOCKS:
            encoder = transformer[-1]
            for column, categories in zip(names, encoder.categories_, strict=True):
                known[column] = [str(c) for c in categories]
    return known
