"""Segment names from numeric features whose means lie between 0 and 1: such a
mean is no category share, so it names a segment by its z-score only."""

import pandas as pd

from customer_segmentation.parameters import Features, Naming
from customer_segmentation.pipelines.segment_analysis.names import name_segments
from tests.conftest import filled

NAMING = filled(Naming, {"threshold": 0.4, "max_terms": 2, "max_categories": 10, "labels": {}})
FEATURES = filled(
    Features,
    {"id_column": "id", "numeric": ["MOPLLAAG", "MINK7512"], "categorical": ["region"]},
)


def _profiles() -> pd.DataFrame:
    """Four segments as ``assemble_profiles`` lays them out: the mean of a
    numeric feature under its own name (MINK7512: 0.79 over the base, as in
    the Caravan table), its z-score as ``<column>_z``, and the shares of a
    real categorical as ``region=<value>``."""
    return pd.DataFrame(
        {
            "segment": [0, 1, 2, 3],
            "customers": [100, 100, 100, 100],
            "MOPLLAAG": [2.0, 4.0, 6.0, 4.0],
            "MOPLLAAG_z": [-1.5, 0.0, 1.3, 0.1],
            "MINK7512": [0.97, 1.0, 0.40, 0.79],
            "MINK7512_z": [0.2, 1.3, -1.5, 0.0],
            "region=north": [0.3, 0.3, 0.3, 0.9],
            "region=south": [0.7, 0.7, 0.7, 0.1],
        }
    )


def test_a_numeric_mean_between_0_and_1_is_no_category():
    names = name_segments(_profiles(), NAMING, FEATURES)
    assert names.to_dict() == {
        0: "Low mopllaag",
        1: "High mink7512",
        2: "Low mink7512, high mopllaag",
        3: "Region north",  # (0.9 - 0.45) / sqrt(0.45 * 0.55) = 0.9 SD
    }


def test_a_listed_naming_feature_reads_by_its_kind():
    # Naming features listed by hand: the numeric one still by its z-score,
    # the categorical one by its shares.
    naming = {**NAMING, "features": ["MINK7512", "region"]}
    names = name_segments(_profiles(), naming, FEATURES)
    assert names.to_dict() == {
        0: "Typical customers",
        1: "High mink7512",
        2: "Low mink7512",
        3: "Region north",
    }
