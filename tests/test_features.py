"""The features contract refuses a bad ``features`` block with one readable
error naming each key, never a pydantic traceback."""

import pytest

from customer_segmentation.errors import UserError
from customer_segmentation.features import FeatureSpec, InvalidFeaturesError


def test_a_bad_features_block_is_a_readable_user_error_naming_the_key():
    with pytest.raises(InvalidFeaturesError) as refused:
        FeatureSpec.parse({"id_column": "id", "numeric": [], "profile_only": {"numeric": ["x"]}})
    assert isinstance(refused.value, UserError)
    assert "'features.numeric': List should have at least 1 item" in str(refused.value)


def test_an_outcome_outside_the_profile_only_columns_is_refused_readably():
    with pytest.raises(InvalidFeaturesError, match="features"):
        FeatureSpec.parse(
            {
                "id_column": "id",
                "numeric": ["spend"],
                "outcomes": {"Exited": {"kind": "churn", "positive": 1}},
            }
        )
