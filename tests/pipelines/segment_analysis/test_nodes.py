import logging
import re

import numpy as np
import pandas as pd
import pytest

from customer_segmentation import model as segmentation
from customer_segmentation.pipelines.preprocessing.nodes import (
    encode_features,
    fit_preprocessor,
    validate_customers,
)
from customer_segmentation.pipelines.segment_analysis import create_pipeline
from customer_segmentation.pipelines.segment_analysis.nodes import (
    profile_segments,
    segment_customers,
)
from customer_segmentation.pipelines.segment_analysis.plots import plot_segment_scatter
from tests.conftest import base_parameters, fit, node_function

# As nodes receive them: validated, every default filled in.
NAMING = base_parameters()["segment_analysis"]["naming"]


@pytest.fixture(scope="module")
def segmented(customers, features, preprocessing_params, model_selection_params):
    validated = validate_customers(customers, features, 10)
    preprocessor = fit_preprocessor(validated, features, preprocessing_params)
    encoded = encode_features(validated, preprocessor, "customer_id")
    params = {**model_selection_params, "n_init": 3}
    model, segments = fit(encoded, preprocessor, 4, params)
    return segment_customers(validated, segments, "customer_id"), segments, model


@pytest.fixture(scope="module")
def profiles(segmented, features):
    validated, _, model = segmented
    return profile_segments(validated, model, features, NAMING)


def test_every_customer_gets_one_segment(segmented):
    validated, segments, model = segmented
    assert list(segments.columns) == ["customer_id", "segment", "confidence"]
    assert segments["customer_id"].tolist() == validated["customer_id"].tolist()
    assert set(segments["segment"]) == {0, 1, 2, 3}
    assert validated["segment"].tolist() == segments["segment"].tolist()


# The nodes as the pipeline wires them, for the tests run on both engines.
segment_on_engine = node_function(create_pipeline(), "segment_customers")
profile_on_engine = node_function(create_pipeline(), "profile_segments")


def test_profiles_in_original_units(segmented, features, engine):
    validated, segments, model = segmented
    profiles = profile_on_engine(engine.frame(validated), model, features, NAMING)
    assert profiles["segment"].tolist() == [0, 1, 2, 3]
    assert profiles["customers"].sum() == len(validated)
    assert profiles["share"].sum() == pytest.approx(1.0)
    members = (segments["segment"] == 2).to_numpy()
    row = profiles.set_index("segment").loc[2]
    # z-scores on the scale the clustering used (log of money, clipped).
    scaled = segmentation.scaled_numeric(model, validated[features["numeric"]])
    for column in features["numeric"]:
        assert row[column] == pytest.approx(validated.loc[members, column].mean())
        assert row[f"{column}_median"] == pytest.approx(validated.loc[members, column].median())
        overall = scaled[column]
        z = (overall[members].mean() - overall.mean()) / overall.std(ddof=0)
        assert row[f"{column}_z"] == pytest.approx(z)
    income = validated["annual_income"]  # log-scaled: its z is not the raw one
    raw_z = (income[members].mean() - income.mean()) / income.std(ddof=0)
    assert row["annual_income_z"] != pytest.approx(raw_z, abs=0.01)
    for column in ("gender", "city"):  # profile-only columns are profiled too
        mix = profiles.filter(like=f"{column}=")
        assert len(mix.columns) > 1
        np.testing.assert_allclose(mix.sum(axis=1), 1.0)
    mix = profiles.filter(like="product_category=")
    assert set(mix.columns) == {f"product_category={c}" for c in validated["product_category"]}
    np.testing.assert_allclose(mix.sum(axis=1), 1.0)


def test_segments_join_by_id_not_by_position(segmented):
    validated, segments, _ = segmented
    customers = validated.drop(columns=["segment", "confidence"])
    shuffled = segments.sample(frac=1, random_state=1)
    pd.testing.assert_frame_equal(
        segment_customers(customers, shuffled, "customer_id"),
        segment_customers(customers, segments, "customer_id"),
    )


def test_customers_without_segment_are_reported(segmented, engine):
    validated, segments, _ = segmented
    with pytest.raises(ValueError, match="3 customers have no segment"):
        segment_on_engine(
            engine.frame(validated.drop(columns="segment")),
            engine.frame(segments.iloc[3:]),
            "customer_id",
        )


def test_scatter_uses_configured_axes_in_original_units(
    segmented, profiles, features, segment_analysis_params
):
    validated, segments, model = segmented
    scatter = {
        **segment_analysis_params["scatter"],
        "x": "annual_income",
        "y": "average_order_value",
    }
    figure = plot_segment_scatter(validated, profiles, features, scatter)
    axes = figure.axes[0]
    assert axes.get_xlabel() == "annual income"
    assert axes.get_ylabel() == "average order value"
    assert len(axes.collections) == 4
    drawn = sum(len(collection.get_offsets()) for collection in axes.collections)
    assert drawn == len(validated)
    # The legend names every segment, as the report's cards do.
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    for row in profiles.itertuples():
        assert any(label.startswith(f"{row.segment}: {row.name[:20]}") for label in legend)


def test_scatter_samples_large_tables(segmented, profiles, features, segment_analysis_params):
    validated, segments, model = segmented
    scatter = {**segment_analysis_params["scatter"], "max_points": 100}
    axes = plot_segment_scatter(validated, profiles, features, scatter).axes[0]
    assert sum(len(c.get_offsets()) for c in axes.collections) == 100
    assert "100 of 600 customers shown" in axes.get_title().replace("\n", " ")  # wrapped


def test_scatter_falls_back_to_the_most_separating_features(
    segmented, profiles, features, segment_analysis_params, caplog
):
    validated, segments, model = segmented
    scatter = {**segment_analysis_params["scatter"], "x": "Income", "y": "MntWines"}
    with caplog.at_level(logging.WARNING):
        axes = plot_segment_scatter(validated, profiles, features, scatter).axes[0]
    assert "not in the data" in caplog.text
    # The two features whose segment means differ most, as with null axes.
    default = plot_segment_scatter(
        validated, profiles, features, segment_analysis_params["scatter"]
    )
    assert default.axes[0].get_xlabel() == axes.get_xlabel()
    assert {axes.get_xlabel(), axes.get_ylabel()} <= {
        c.replace("_", " ") for c in features["numeric"]
    }
    assert axes.get_xlabel() != axes.get_ylabel()


def test_scatter_keeps_extreme_values_from_squashing_the_plot(
    segmented, profiles, features, segment_analysis_params
):
    validated, segments, model = segmented
    validated = validated.copy()
    validated.loc[0, "annual_income"] = 10_000_000
    scatter = {**segment_analysis_params["scatter"], "x": "annual_income", "y": "age"}
    axes = plot_segment_scatter(validated, profiles, features, scatter).axes[0]
    assert axes.get_xlim()[1] < 1_000_000
    assert re.search(r"\n\d+ extreme values? beyond the axes", axes.get_title())


def test_profiles_carry_outcome_rates_and_short_category_names(segmented, features):
    validated, _, model = segmented
    rows = np.arange(len(validated))
    table = validated.assign(
        churned=(rows % 4 == 0).astype(float),
        # A rare positive value beyond max_categories is kept; unknown
        # outcomes are left out of the rate.
        status=np.where(rows % 50 == 0, "Closed", (rows % 20).astype(str)),
        # One 5 MB text value (in two rows) and one of 70.
        note=np.where(np.isin(rows, [0, 1]), "", "y" * 70).astype(object),
    )
    table.loc[[0, 1], "note"] = "x" * 5_000_000
    table.loc[rows % 10 == 1, "status"] = None
    described = {
        **features,
        "profile_only": {"numeric": ["churned"], "categorical": ["status", "note"]},
        "outcomes": {
            "churned": {"kind": "churn", "positive": 1},
            "status": {"kind": "churn", "positive": "closed"},
        },
    }
    profiles = profile_segments(table, model, described, {**NAMING, "max_categories": 3})
    for segment, members in table.groupby("segment"):
        row = profiles.set_index("segment").loc[segment]
        assert row["churned_rate"] == pytest.approx(members["churned"].mean())
        known = members["status"].dropna()
        assert row["status_rate"] == pytest.approx((known == "Closed").mean())
    assert "status=Closed" in profiles.columns
    notes = [c for c in profiles.columns if c.startswith("note=")]
    assert sorted(notes) == ["note=" + "x" * 59 + "…", "note=" + "y" * 59 + "…"]
    long_share = pd.Series(np.isin(rows, [0, 1])).groupby(table["segment"].to_numpy()).mean()
    assert profiles["note=" + "x" * 59 + "…"].tolist() == pytest.approx(long_share.tolist())
