"""What both engines of the preprocessing pipeline share: the preprocessor
the parameters describe, and the encoding of a batch of rows (the whole
table on one machine, each Arrow batch on Spark). A leaf module: it imports
neither engine.
"""

from __future__ import annotations

import pandas as pd

from customer_segmentation.features import FeatureSpec, key_column
from customer_segmentation.model import SegmentPreprocessor


def preprocessor_for(spec: FeatureSpec, preprocessing: dict) -> SegmentPreprocessor:
    """The unfitted preprocessor of the ``features`` contract and the
    validated ``preprocessing`` parameters."""
    return SegmentPreprocessor(
        numeric=list(spec.numeric),
        categorical=list(spec.categorical),
        pinned={column: list(values) for column, values in spec.pinned.items()},
        transforms=dict(preprocessing["transforms"]),
        skew_threshold=preprocessing["skew_threshold"],
        clip_quantile=preprocessing["clip_quantile"],
        categorical_weight=float(preprocessing["categorical_weight"]),
        min_category_share=preprocessing["min_category_share"],
        pca_components=preprocessing["pca_components"],
        fit_sample_size=preprocessing["fit_sample_size"],
        random_state=preprocessing["random_seed"],
    )


def encode_rows(
    customers: pd.DataFrame, preprocessor: SegmentPreprocessor, id_column: str
) -> pd.DataFrame:
    """``customers`` encoded by the fitted preprocessor, the id column first
    so that every encoded row can be traced back to its customer."""
    id_column = key_column(id_column)
    encoded = preprocessor.transform(customers)
    encoded.insert(0, id_column, customers[id_column].array)
    return encoded.reset_index(drop=True)
