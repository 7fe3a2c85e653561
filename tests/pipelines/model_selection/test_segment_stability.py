"""Each deployed segment's stability: the bootstrap Jaccard with its best
match among clusters refitted on resampled customers (Hennig's clusterboot)."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.pipelines.model_selection import create_pipeline
from customer_segmentation.pipelines.model_selection.kernels import fit_mixture
from customer_segmentation.pipelines.model_selection.segment_stability import best_jaccard
from tests.conftest import run_node

KMEANS = {"chosen": "kmeans"}


def _deployed(clusterer) -> Pipeline:
    """A segmentation model as the stability node reads it: only its
    clustering step predicts (the rows are already encoded)."""
    return Pipeline(
        [(segmentation.PREPROCESSOR, "passthrough"), (segmentation.CLUSTERING, clusterer)]
    )


def _stability(rows: pd.DataFrame, model: Pipeline, k: int, params: dict, choice=KMEANS) -> dict:
    """The node as the pipeline wires it."""
    return run_node(
        create_pipeline(),
        "measure_segment_stability",
        {"model_selection": params},
        selection_features=rows,
        segmentation_model=model,
        selected_k=k,
        algorithm_choice=choice,
    )


@pytest.fixture
def params(model_selection_params) -> dict:
    return {**model_selection_params, "n_init": 5, "segment_stability": {"resamples": 10}}


def _blobs(rng, n: int = 150, d: int = 3) -> pd.DataFrame:
    centres = np.array([[0] * d, [12] + [0] * (d - 1), [0, 12] + [0] * (d - 2), [12, 12, 12]])
    values = np.vstack([rng.normal(centre, 0.5, (n, d)) for centre in centres])
    return pd.DataFrame(values, columns=[f"x{i}" for i in range(d)])


def test_best_jaccard_takes_each_segments_best_match_in_any_numbering():
    # Segment 0 = {0,1,2}, 1 = {3,4}, 2 = {5}; the refit puts 0,1 in 7 (no
    # cluster 0 to 6 exists for them: numbering is free), 2,3,4 in 1, 5 in 1.
    reference = np.array([0, 0, 0, 1, 1, 2])
    refitted = np.array([7, 7, 1, 1, 1, 1])
    jaccard = best_jaccard(reference, refitted, 4)
    # 0: best with cluster 7, 2 shared of 3 in either; 1: with cluster 1, 2 of 4;
    # 2: with cluster 1, 1 of 4; segment 3 has no customer here.
    assert jaccard[:3].tolist() == pytest.approx([2 / 3, 2 / 4, 1 / 4])
    assert np.isnan(jaccard[3])


def test_well_separated_blobs_come_back_whole(params):
    rows = _blobs(np.random.default_rng(0))
    kmeans = KMeans(n_clusters=4, n_init=5, random_state=1).fit(rows)
    stability = _stability(rows, _deployed(kmeans), 4, params)
    assert set(stability) == {0, 1, 2, 3}
    assert min(stability.values()) >= 0.99


def test_segments_carved_out_of_a_uniform_continuum_do_not_hold_up(params):
    # A tight blob far away and a uniform 6-dimensional ball cut into three
    # by KMeans: the blob comes back whole, the cuts of the ball move from
    # resample to resample.
    rng = np.random.default_rng(0)
    d = 6
    ball = rng.normal(size=(600, d))
    ball *= (rng.uniform(size=(600, 1)) ** (1 / d)) / np.linalg.norm(ball, axis=1, keepdims=True)
    blob = rng.normal(0, 0.1, (200, d)) + np.eye(d)[0] * 10
    rows = pd.DataFrame(np.vstack([ball, blob]), columns=[f"x{i}" for i in range(d)])
    kmeans = KMeans(n_clusters=4, n_init=5, random_state=1).fit(rows)
    blob_segment = int(kmeans.predict(rows.iloc[[700]])[0])
    stability = _stability(
        rows, _deployed(kmeans), 4, {**params, "segment_stability": {"resamples": 20}}
    )
    cuts = [value for segment, value in stability.items() if segment != blob_segment]
    assert stability[blob_segment] >= 0.99
    assert max(cuts) < 0.75  # not stable on Hennig's reading
    assert np.mean(cuts) < 0.6  # flagged at the default targeting.min_stability
    # Keyed by the deployed model's numbers: renumber its segments and each
    # value moves with its segment.
    order = np.array([2, 0, 3, 1])
    kmeans.cluster_centers_ = kmeans.cluster_centers_[order]
    renumbered = _stability(
        rows, _deployed(kmeans), 4, {**params, "segment_stability": {"resamples": 20}}
    )
    assert renumbered == {new: stability[int(old)] for new, old in enumerate(order)}


def test_a_segment_no_customer_falls_in_has_no_stability_and_the_result_is_json_ready(params):
    rows = _blobs(np.random.default_rng(1)).iloc[:300]  # the first two blobs
    kmeans = KMeans(n_clusters=2, n_init=5, random_state=1).fit(rows)
    # A third centre no customer is near: a segment of none of these customers.
    kmeans.cluster_centers_ = np.vstack([kmeans.cluster_centers_, [[100.0, 100.0, 100.0]]])
    kmeans.n_clusters = 3
    stability = _stability(rows, _deployed(kmeans), 3, params)
    assert stability[2] is None
    assert 0 <= stability[0] <= 1 and 0 <= stability[1] <= 1
    assert json.loads(json.dumps(stability)) == {"0": stability[0], "1": stability[1], "2": None}


def test_same_seed_same_stability_and_at_most_the_sample_size(params, caplog):
    rng = np.random.default_rng(5)
    rows = pd.DataFrame(rng.uniform(size=(900, 2)), columns=["a", "b"])
    kmeans = KMeans(n_clusters=5, n_init=5, random_state=1).fit(rows)
    small = {**params, "stability_sample_size": 200}
    with caplog.at_level("INFO"):
        first = _stability(rows, _deployed(kmeans), 5, small)
    assert first == _stability(rows, _deployed(kmeans), 5, small)
    assert "resamples of 200 customers" in caplog.text
    assert all(0 <= value <= 1 for value in first.values())


def test_a_deployed_mixture_is_refitted_as_a_mixture(params):
    # A tight group beside a broad one: the mixture deployed separates them
    # and so does every mixture refitted; KMeans refits draw their border
    # half-way between the centres, through the broad group, and would call
    # the mixture's segments unstable.
    rng = np.random.default_rng(0)
    rows = pd.DataFrame(
        np.vstack([rng.normal(0, 2.0, (500, 2)), rng.normal([5, 0], 0.3, (100, 2))]),
        columns=["a", "b"],
    )
    mixture = fit_mixture(rows, 2, "full", 3, 1)
    choice = {"chosen": "gaussian_mixture", "gaussian_mixture": {"covariance_type": "full"}}
    as_mixture = _stability(rows, _deployed(mixture), 2, params, choice)
    as_kmeans = _stability(rows, _deployed(mixture), 2, params)
    assert min(as_mixture.values()) >= 0.95
    assert min(as_kmeans.values()) < 0.6
