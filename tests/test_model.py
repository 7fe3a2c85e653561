"""The segmentation model's preprocessor as a scikit-learn estimator, and
models saved by an older release."""

import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from customer_segmentation import model as segmentation
from customer_segmentation.features import InvalidCustomerDataError
from customer_segmentation.pipelines.segment_analysis.drift import measure_drift

DATA = Path(__file__).with_name("data")
SETTINGS = {
    "numeric": ["income", "visits", "balance"],
    "categorical": ["channel"],
    "clip_quantile": 0.02,
    "min_category_share": 0.05,
}


def _customers(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "income": rng.lognormal(10, 1.0, n),  # skewed, positive: log1p
            "visits": rng.normal(10, 2, n).round(),
            "balance": rng.lognormal(0, 1, n) - 2,  # skewed, negative: yeo-johnson
            "channel": rng.choice(["web", "store", "phone", "fax"], n, p=[0.5, 0.3, 0.18, 0.02]),
        }
    )


def _fitted(customers=None, **settings) -> segmentation.SegmentPreprocessor:
    customers = _customers() if customers is None else customers
    return segmentation.SegmentPreprocessor(**{**SETTINGS, **settings}).fit(customers)


def test_fit_sets_every_fitted_attribute():
    customers = _customers()
    preprocessor = _fitted(customers)
    assert preprocessor.transforms_ == {
        "income": "log1p",
        "visits": "none",
        "balance": "yeo-johnson",
    }
    assert set(preprocessor.skewness_) == {"income", "visits", "balance"}
    assert preprocessor.skewness_["income"] > 1
    assert preprocessor.training_range_["balance"] == (
        customers["balance"].min(),
        customers["balance"].max(),
    )
    assert preprocessor.pca_ is None
    assert set(preprocessor.outliers_) <= {"income", "visits", "balance"}
    # Nothing is set on the preprocessor from outside any more.
    unfitted = segmentation.SegmentPreprocessor(**SETTINGS)
    assert not [name for name in vars(unfitted) if name.endswith("_")]


def test_transform_and_feature_names_agree():
    customers = _customers()
    preprocessor = _fitted(customers)
    encoded = preprocessor.transform(customers)
    names = list(preprocessor.get_feature_names_out())
    assert list(encoded.columns) == names
    # fax is rarer than min_category_share: it goes to "other".
    assert names == [
        "visits",
        "income",
        "balance",
        "channel_phone",
        "channel_store",
        "channel_web",
        "channel_other",
    ]
    assert encoded["channel_web"].isin([0, 0.5]).all()  # the categorical weight


def test_describe_reports_the_encoding_choices():
    customers = _customers()
    preprocessor = _fitted(customers)
    summary = preprocessor.describe()
    assert summary["transforms"]["income"] == {
        "transform": "log1p",
        "skewness": preprocessor.skewness_["income"],
    }
    assert summary["clip_quantile"] == 0.02
    assert summary["categorical_weight"] == 0.5
    assert summary["pca_components"] is None
    above = summary["outliers"]["income"]["above"]
    assert above["customers"] == int((customers["income"] > above["bound"] + 1e-6).sum())
    assert above["bound"] == pytest.approx(customers["income"].quantile(0.98), rel=0.05)
    with_pca = _fitted(customers, pca_components=2).describe()
    assert with_pca["pca_components"] == 2
    assert len(with_pca["pca_explained_variance"]) == 2


def test_a_sample_is_fitted_with_the_range_of_every_row():
    customers = _customers()
    sample = customers[customers["balance"] > 0].head(100)
    low = customers[SETTINGS["numeric"]].min()
    high = customers[SETTINGS["numeric"]].max()
    preprocessor = segmentation.SegmentPreprocessor(**SETTINGS).fit(
        sample, column_range=(low, high)
    )
    assert preprocessor.training_range_["balance"] == (low["balance"], high["balance"])
    # A negative value outside the sample still forbids log(1 + x).
    with pytest.raises(InvalidCustomerDataError, match="'balance'.*values down to"):
        segmentation.SegmentPreprocessor(**SETTINGS, transforms={"balance": "log1p"}).fit(
            sample, column_range=(low, high)
        )


def test_fit_sample_size_fits_on_a_seeded_sample_and_measures_every_row():
    customers = _customers(400)
    sampled = _fitted(customers, fit_sample_size=100, random_state=3)
    direct = _fitted(customers.sample(100, random_state=3))
    imputer = "impute"
    assert sampled.training_range_["income"][1] == customers["income"].max()
    np.testing.assert_array_equal(
        sampled.columns_.named_transformers_["numeric"].named_steps[imputer].statistics_,
        direct.columns_.named_transformers_["numeric"].named_steps[imputer].statistics_,
    )


def test_it_is_a_scikit_learn_estimator():
    preprocessor = segmentation.SegmentPreprocessor(**SETTINGS)
    name = type(preprocessor).__name__
    check_parameters_default_constructible(name, preprocessor)
    check_no_attributes_set_in_init(name, preprocessor)
    check_get_params_invariance(name, preprocessor)
    check_set_params(name, preprocessor)
    params = preprocessor.get_params()
    assert clone(preprocessor).get_params() == params
    assert preprocessor.set_params(**params).get_params() == params
    changed = clone(preprocessor).set_params(clip_quantile=0.1)
    assert changed.get_params()["clip_quantile"] == 0.1
    # A fitted clone is unfitted and fits to the same encoding.
    customers = _customers()
    fitted = _fitted(customers)
    pd.testing.assert_frame_equal(
        clone(fitted).fit(customers).transform(customers), fitted.transform(customers)
    )


def test_the_fitted_model_pickles_and_predicts_the_same():
    customers = _customers()
    preprocessor = _fitted(customers)
    kmeans = segmentation.SegmentKMeans(3, n_init=2, random_state=0)
    kmeans.fit(preprocessor.transform(customers))
    model = segmentation.segmentation_model(preprocessor, kmeans)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict(customers), model.predict(customers))
    assert segmentation.training_range(loaded) == preprocessor.training_range_
    assert segmentation.fitted_categories(loaded) == {"channel": ["phone", "store", "web"]}
    scaled = segmentation.scaled_numeric(loaded, customers[SETTINGS["numeric"]], clipped=False)
    assert (
        scaled["income"].max()
        > segmentation.scaled_numeric(loaded, customers[SETTINGS["numeric"]])["income"].max()
    )


def _old_model():
    """A segmentation model pickled by the previous release (its
    preprocessor a bare ColumnTransformer), with the customers it was
    fitted on and their segments."""
    return (
        joblib.load(DATA / "head_segmentation_model.pkl"),
        pd.read_csv(DATA / "head_model_customers.csv", dtype={"customer_id": str}),
    )


def test_a_model_saved_by_the_previous_release_is_refused_with_what_to_do():
    old, customers = _old_model()
    assert not segmentation.is_current(old)
    message = "saved by an older release.*retrain with kedro run --pipelines segmentation"
    with pytest.raises(segmentation.OutdatedModelError, match=message):
        segmentation.require_current(old)
    with pytest.raises(segmentation.OutdatedModelError, match=message):
        segmentation.training_range(old)


def test_scoring_with_a_model_of_the_previous_release_is_a_user_error():
    from customer_segmentation.errors import UserError  # noqa: PLC0415
    from customer_segmentation.pipelines.scoring.nodes import (  # noqa: PLC0415
        screen_customers_to_score,
    )

    old, customers = _old_model()
    features = {"id_column": "customer_id", **{k: SETTINGS[k] for k in ("numeric", "categorical")}}
    with pytest.raises(UserError, match="retrain with kedro run --pipelines segmentation"):
        screen_customers_to_score(customers, old, features, {})


def test_drift_against_a_model_of_the_previous_release_reports_it_and_goes_on():
    old, customers = _old_model()
    profiles = customers.groupby("segment")[["income", "visits", "balance"]].mean().reset_index()
    profiles["share"] = customers["segment"].value_counts(normalize=True).sort_index().to_numpy()
    thresholds = {
        "ari_sample_size": 1000,
        "max_psi": 0.25,
        "min_ari": 0.99,
        "max_centre_shift_sd": 0.5,
        "fail_on_drift": True,
    }
    report = measure_drift(
        customers,
        profiles,
        old,
        profiles,
        "new",
        "old",
        "old",
        {"id_column": "customer_id", "numeric": ["income", "visits", "balance"]},
        thresholds,
    )
    assert report["ari"] is None
    assert report["ari_note"] == ("previous model cannot be compared: saved by an older release")
    assert report["drifted"] is False
