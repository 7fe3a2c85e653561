"""The deployable Gaussian mixture beside KMeans, the rule between them and
each customer's confidence, on small tables built here."""

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from customer_segmentation import model as segmentation
from customer_segmentation.pipelines.model_selection.final_fit import fit_segmentation_model
from customer_segmentation.pipelines.model_selection.mixture import choose_algorithm
from customer_segmentation.pipelines.segment_analysis.targets import confident

SETTINGS = {
    "mixture_n_init": 3,
    "mixture_min_bic_gain": 10.0,
    "mixture_max_silhouette_loss": 0.05,
    "n_init": 5,
    "silhouette_sample_size": 2000,
    "min_stability": 0.8,
    "min_segment_share": 0.02,
    "stability_resamples": 5,
    "stability_sample_size": 1000,
    "random_seed": 0,
}


def _elongated(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Two long parallel cigars (length SD 3, 3 apart across, width SD
    0.5): KMeans cuts them across their length, a mixture follows them."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    along = rng.normal(0, 3, n)
    across = rng.normal(0, 0.5, n) + 3.0 * truth
    return pd.DataFrame({"a": along + across, "b": along - across}), truth


def _round(n: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Five round, equally wide, well-apart blobs."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 5, n)
    centres = np.array([[0, 0, 0], [6, 0, 0], [0, 6, 0], [0, 0, 6], [6, 6, 6]])
    values = centres[truth] + rng.normal(0, 1, (n, 3))
    return pd.DataFrame(values, columns=["a", "b", "c"]), truth


def _choose(features: pd.DataFrame, k: int, algorithm: str = "auto") -> dict:
    return choose_algorithm(features, k, algorithm, **SETTINGS)


def _fit(features: pd.DataFrame, k: int, choice: dict):
    encoded = features.assign(customer_id=[f"C{i}" for i in range(len(features))])
    preprocessor = FunctionTransformer(lambda rows: rows[list(features.columns)])
    return fit_segmentation_model(
        encoded, features, preprocessor, k, choice, "customer_id", 5, 3, 0, 0.0
    )


def test_elongated_segments_get_the_mixture_and_kmeans_would_fail():
    features, truth = _elongated()
    choice = _choose(features, 2)
    assert choice["chosen"] == "gaussian_mixture", choice
    assert choice["gaussian_mixture"]["covariance_type"] in {"full", "tied"}
    model, segments = _fit(features, 2, choice)
    assert segmentation.algorithm(model) == "gaussian_mixture"
    assert adjusted_rand_score(truth, segments["segment"]) > 0.9
    kmeans = KMeans(2, n_init=5, random_state=0).fit(features)
    assert adjusted_rand_score(truth, kmeans.labels_) < 0.2


def test_round_segments_keep_kmeans():
    features, truth = _round()
    choice = _choose(features, 5)
    assert choice["chosen"] == "kmeans", choice
    assert "round" in choice["rule"]
    model, segments = _fit(features, 5, choice)
    assert segmentation.algorithm(model) == "kmeans"
    assert adjusted_rand_score(truth, segments["segment"]) > 0.95


@pytest.mark.parametrize("forced", ["kmeans", "gaussian_mixture"])
def test_either_algorithm_can_be_forced(forced):
    features, _ = _round(400)
    choice = _choose(features, 5, forced)
    assert choice["chosen"] == forced
    assert choice["rule"] == "forced by model_selection.algorithm"
    model, _ = _fit(features, 5, choice)
    assert segmentation.algorithm(model) == forced


def test_unknown_algorithm_is_refused():
    with pytest.raises(ValueError, match="model_selection.algorithm"):
        _choose(_round(200)[0], 5, "dbscan")


@pytest.mark.parametrize("table", [_elongated, _round])
def test_probabilities_sum_to_one_and_scoring_reproduces_the_confidences(table):
    features, _ = table()
    k = 2 if table is _elongated else 5
    model, segments = _fit(features, k, _choose(features, k))
    probabilities = model.predict_proba(features)
    assert probabilities.shape == (len(features), k)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    scored, confidence = segmentation.assign(model, features)
    np.testing.assert_array_equal(scored, segments["segment"])
    np.testing.assert_allclose(confidence, segments["confidence"])
    assert segments["confidence"].between(1 / k, 1).all()
    # Segment 0 is the largest, for the mixture as for KMeans.
    assert (np.diff(np.bincount(segments["segment"])) <= 0).all()


def test_kmeans_confidence_is_one_half_between_two_centres():
    kmeans = segmentation.SegmentKMeans(2, n_init=1, random_state=0).fit(
        np.array([[-1.0], [-1.1], [-0.9], [1.0], [1.1], [0.9]])
    )
    middle, near = kmeans.predict_proba(np.array([[0.0], [1.0]]))
    np.testing.assert_allclose(middle, [0.5, 0.5])
    assert near.max() > 0.99


def test_kmeans_membership_is_fuzzy_c_means_with_m_2():
    kmeans = segmentation.SegmentKMeans(2, n_init=1, random_state=0).fit(
        np.array([[0.0, -1.0], [0.0, -1.2], [0.0, 1.0], [0.0, 1.2]])
    )
    centres = kmeans.cluster_centers_
    rows = np.array([centres[0], centres[1], (centres[0] + centres[1]) / 2, [3.0, 0.4]])
    membership = kmeans.predict_proba(rows)
    np.testing.assert_allclose(membership[0], [1.0, 0.0])  # on a centre
    np.testing.assert_allclose(membership[1], [0.0, 1.0])
    np.testing.assert_allclose(membership[2], [0.5, 0.5])  # equidistant
    squared = ((rows[3] - centres) ** 2).sum(axis=1)
    np.testing.assert_allclose(membership[3], (1 / squared) / (1 / squared).sum())
    np.testing.assert_allclose(membership.sum(axis=1), 1.0)


def test_kmeans_confidence_is_graded_on_overlapping_blobs():
    """Two overlapping Gaussian blobs in 10 dimensions (centres 1.5 SD
    apart): plenty of customers lie between them, so their confidence must
    not be 1 for nearly everyone, as a softmax of squared distances made it."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 700)
    features = rng.normal(0, 1, (700, 10))
    features[:, 0] += 1.5 * truth
    kmeans = segmentation.SegmentKMeans(2, n_init=3, random_state=0).fit(features)
    confidence = segmentation.membership_confidence(kmeans.predict_proba(features))
    assert ((confidence >= 0.5) & (confidence <= 1)).all()
    assert (confidence < 0.6).mean() > 0.2
    assert np.median(confidence) < 0.75


def test_min_confidence_drops_customers_on_a_boundary():
    confidence = pd.Series([0.99, 0.55, 0.7, np.nan])
    assert confident(confidence, 0.0).tolist() == [True, True, True, True]
    assert confident(confidence, 0.6).tolist() == [True, False, True, False]


def test_a_model_with_the_old_step_name_is_still_read():
    features, _ = _round(300)
    kmeans = KMeans(5, n_init=2, random_state=0).fit(features)
    preprocessor = segmentation.SegmentPreprocessor(numeric=["a", "b", "c"]).fit(features)
    old = Pipeline([("preprocessor", preprocessor), ("kmeans", kmeans)])
    assert segmentation.is_current(old)
    assert segmentation.clustering(old) is kmeans
    assert segmentation.algorithm(old) == "kmeans"
    segments, confidence = segmentation.assign(old, features)
    np.testing.assert_array_equal(segments, old.predict(features))
    assert np.isnan(confidence).all()  # saved before confidences: none, not a made-up one
