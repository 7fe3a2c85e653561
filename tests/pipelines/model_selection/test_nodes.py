import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.pipelines.model_selection import create_pipeline
from customer_segmentation.pipelines.model_selection.nodes import (
    choose_k_per_criterion,
    describe_preprocessing,
    measure_feature_separation,
    select_cluster_count,
    summarise_model_selection,
)
from customer_segmentation.pipelines.model_selection.plots import (
    plot_algorithm_comparison,
    plot_criteria,
    plot_elbow,
    plot_silhouette,
    plot_silhouette_diagram,
    plot_stability,
)
from customer_segmentation.pipelines.preprocessing.nodes import (
    encode_features,
    fit_preprocessor,
    validate_customers,
)
from tests.conftest import fit, fit_model, make_customers, run_node, select

SCORE_COLUMNS = [
    "k",
    "inertia",
    "silhouette",
    "calinski_harabasz",
    "davies_bouldin",
    "stability_mean",
    "stability_std",
    "gmm_bic",
]


def _prepare(customers, features, k_max=10):
    validated = validate_customers(customers, features, k_max)
    preprocessor = fit_preprocessor(validated, features, {})
    return validated, preprocessor, encode_features(validated, preprocessor, "customer_id")


def _node(name: str, params: dict, **data):
    return run_node(create_pipeline(), name, {"model_selection": params}, **data)


def _score(encoded, id_column, params):
    """Scores k as the pipeline does: on the selection sample of the encoded rows."""
    return _node(
        "score_cluster_counts", params, selection_features=select(encoded, params, id_column)
    )


def _structure(encoded, scores, id_column, params):
    return _node(
        "assess_structure",
        params,
        selection_features=select(encoded, params, id_column),
        cluster_count_scores=scores,
    )


def _compare(selection, k, params):
    return _node("compare_algorithms", params, selection_features=selection, selected_k=k)


@pytest.fixture(scope="module")
def prepared(customers, features):
    return _prepare(customers, features)


@pytest.fixture
def small_params(model_selection_params):
    return {
        **model_selection_params,
        "k_min": 2,
        "k_max": 6,
        "n_init": 3,
        "stability_resamples": 2,
    }


def test_scores_every_k_with_every_criterion(prepared, small_params):
    scores = _score(prepared[2], "customer_id", small_params)
    assert scores["k"].tolist() == [2, 3, 4, 5, 6]
    assert list(scores.columns) == SCORE_COLUMNS
    assert scores["inertia"].is_monotonic_decreasing
    assert scores["stability_mean"].between(-1, 1).all()
    assert scores["silhouette"].between(-1, 1).all()
    assert (scores[["calinski_harabasz", "davies_bouldin"]] > 0).all().all()


def test_too_few_rows(prepared, small_params):
    with pytest.raises(ValueError, match="has 5 rows"):
        _score(prepared[2].head(5), "customer_id", small_params)


SCORES = pd.DataFrame(
    {
        "k": [2, 3, 4, 5, 6],
        "inertia": [100.0, 50.0, 20.0, 17.0, 15.0],
        "silhouette": [0.2, 0.5, 0.4, 0.6, 0.3],
        "calinski_harabasz": [10.0, 20.0, 30.0, 25.0, 5.0],
        "davies_bouldin": [0.5, 0.9, 1.0, 1.1, 1.2],
        "stability_mean": [0.99, 0.95, 0.9, 0.6, 0.5],
        "stability_std": [0.01, 0.02, 0.05, 0.2, 0.2],
        "gmm_bic": [500.0, 400.0, 450.0, 300.0, 350.0],
    }
)


def test_each_criterion_alone():
    assert choose_k_per_criterion(SCORES) == {
        "elbow": 4,
        "silhouette": 5,
        "calinski_harabasz": 4,
        "davies_bouldin": 2,
        "stability": 2,
        "gmm_bic": 5,
    }


@pytest.mark.parametrize(
    ("criterion", "expected"),
    [
        ("consensus", 3),  # best silhouette among the stable k: k=5 is unstable
        ("silhouette", 5),
        ("elbow", 4),
        ("calinski_harabasz", 4),
        ("davies_bouldin", 2),
        ("stability", 2),
        ("gmm_bic", 5),
    ],
)
def test_selection_follows_the_criterion(criterion, expected, caplog):
    assert (
        select_cluster_count(SCORES, choose_k_per_criterion(SCORES), criterion, min_stability=0.8)
        == expected
    )
    assert "criteria disagree" in caplog.text


def test_unstable_choice_is_flagged(caplog):
    assert (
        select_cluster_count(
            SCORES, choose_k_per_criterion(SCORES), "silhouette", min_stability=0.8
        )
        == 5
    )
    assert "k=5 is unstable" in caplog.text
    assert (
        select_cluster_count(SCORES, choose_k_per_criterion(SCORES), "consensus", min_stability=1.0)
        == 5
    )
    assert "No k reaches bootstrap stability" in caplog.text


@pytest.mark.parametrize("seed", [0, 1])
def test_uniform_noise_has_no_clear_structure_and_personas_do(
    seed, generation_params, features, small_params, caplog
):
    rng = np.random.default_rng(seed)
    noise = pd.DataFrame(rng.uniform(size=(800, 7)), columns=list("abcdefg"))
    noise.insert(0, "id", range(800))
    noise_scores = _score(noise, "id", small_params)
    assert _structure(noise, noise_scores, "id", small_params)["clear_structure"] is False
    assert "No clear segment structure" in caplog.text

    _, _, encoded = _prepare(make_customers(generation_params, 800, seed=seed), features)
    scores = _score(encoded, "customer_id", small_params)
    structure = _structure(encoded, scores, "customer_id", small_params)
    assert structure["clear_structure"] is True
    assert structure["best_silhouette"] > structure["reference_silhouette"] + 0.1


def test_sampled_silhouette_is_within_002_of_exact(generation_params, features, small_params):
    _, _, encoded = _prepare(make_customers(generation_params, 6000, seed=3), features)
    params = {**small_params, "k_min": 4, "k_max": 6, "stability_resamples": 0}
    exact = _score(encoded, "customer_id", {**params, "silhouette_sample_size": 10**6})
    sampled = _score(encoded, "customer_id", {**params, "silhouette_sample_size": 2000})
    np.testing.assert_allclose(sampled["silhouette"], exact["silhouette"], atol=0.02)
    assert not np.array_equal(sampled["silhouette"], exact["silhouette"])


def test_summary_is_json_ready(prepared, small_params, features):
    _, preprocessor, encoded = prepared
    scores = _score(encoded, "customer_id", small_params)
    structure = _structure(encoded, scores, "customer_id", small_params)
    model = fit_model(encoded, preprocessor, 4, small_params)
    separation = measure_feature_separation(select(encoded, small_params), model, features)
    summary = json.loads(
        json.dumps(
            summarise_model_selection(
                scores,
                choose_k_per_criterion(scores),
                4,
                "consensus",
                structure,
                separation,
                describe_preprocessing(preprocessor),
                _compare(select(encoded, small_params), 4, small_params),
                0.8,
            )
        )
    )
    assert summary["preprocessing"] == {
        "log_columns": [],
        "categorical_weight": 1.0,
        "pca_components": None,
        "pca_explained_variance": None,
    }
    assert 0 <= summary["feature_separation"]["categorical_share"] <= 1
    assert [row["algorithm"] for row in summary["algorithm_comparison"]][0] == "kmeans"
    assert summary["selected_k"] == 4
    assert summary["criterion"] == "consensus"
    assert summary["clear_structure"] is True
    assert set(summary["choice_per_criterion"]) == {
        "elbow",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "stability",
        "gmm_bic",
    }
    assert isinstance(summary["criteria_agree"], bool)
    stability_at_4 = scores.set_index("k").loc[4, "stability_mean"]
    assert summary["selected_k_stable"] is bool(stability_at_4 >= 0.8)
    assert [row["k"] for row in summary["scores"]] == [2, 3, 4, 5, 6]
    assert list(summary["scores"][0]) == SCORE_COLUMNS


def test_plots_mark_the_selected_k(prepared, small_params):
    scores = _score(prepared[2], "customer_id", small_params)
    for plot in (plot_elbow, plot_silhouette):
        figure = plot(scores, 4)
        assert isinstance(figure, Figure)
        axes = figure.axes[0]
        assert "selected k = 4" in [text.get_text() for text in axes.get_legend().get_texts()]
        assert axes.get_xlabel() == "number of segments k"


def test_final_model_scores_raw_rows_and_numbers_segments_by_size(
    prepared, small_params, customers
):
    validated, preprocessor, encoded = prepared
    model, customer_segments = fit(encoded, preprocessor, 5, small_params)
    assert isinstance(model, Pipeline)
    segments = model.predict(validated)
    sizes = np.bincount(segments)
    assert len(sizes) == 5
    assert (np.diff(sizes) <= 0).all(), "segment 0 must be the largest"
    # The segments of the fit are the model's own predictions, id by id.
    assert customer_segments["customer_id"].tolist() == validated["customer_id"].tolist()
    np.testing.assert_array_equal(segments, customer_segments["segment"])
    assert not hasattr(segmentation.clustering(model), "labels_")  # not needed to predict
    # The same customers in another order get the same segments.
    shuffled = validated.sample(frac=1, random_state=0)
    np.testing.assert_array_equal(
        model.predict(shuffled), pd.Series(segments, index=validated.index)[shuffled.index]
    )


@pytest.mark.parametrize("seed", range(10))
def test_default_settings_recover_the_planted_personas(
    seed, generation_params, features, model_selection_params
):
    """At the default settings, for 10 generator seeds, k is the number of
    personas and the segments match them (ARI >= 0.95)."""
    customers = make_customers(generation_params, generation_params["n_customers"], seed=seed)
    _, preprocessor, encoded = _prepare(customers, features)
    scores = _score(encoded, "customer_id", model_selection_params)
    selected_k = select_cluster_count(
        scores,
        choose_k_per_criterion(scores),
        model_selection_params["criterion"],
        model_selection_params["min_stability"],
    )
    assert selected_k == len(generation_params["personas"])
    _, segments = fit(encoded, preprocessor, selected_k, model_selection_params)
    ari = adjusted_rand_score(customers["persona"], segments["segment"])
    assert ari >= 0.95


def test_k_is_scored_on_a_seeded_sample_of_large_tables(prepared, small_params, caplog):
    encoded = prepared[2]
    params = {**small_params, "selection_sample_size": 300, "k_max": 4}
    sampled = _score(encoded, "customer_id", params)
    assert "sample of 300 of 600 customers" in caplog.text
    subset = encoded.drop(columns="customer_id").sample(300, random_state=params["random_seed"])
    subset.insert(0, "customer_id", range(300))
    direct = _score(subset, "customer_id", {**params, "selection_sample_size": 10**6})
    pd.testing.assert_frame_equal(sampled, direct)


def test_final_fit_on_all_rows_starts_from_the_sample_restarts(prepared, small_params):
    """With k chosen on a sample, the fit on every row matches a full restart."""
    validated, preprocessor, encoded = prepared
    warm, segments = fit(encoded, preprocessor, 5, {**small_params, "selection_sample_size": 200})
    cold = fit_model(encoded, preprocessor, 5, small_params)
    assert len(segments) == len(encoded)
    ari = adjusted_rand_score(warm.predict(validated), cold.predict(validated))
    assert ari > 0.95


def test_feature_separation_shares_sum_to_one_and_follow_the_categorical_weight(
    customers, features, small_params
):
    shares = {}
    for weight in (1.0, 0.2):
        validated = validate_customers(customers, features, 10)
        preprocessor = fit_preprocessor(validated, features, {"categorical_weight": weight})
        encoded = encode_features(validated, preprocessor, "customer_id")
        selection = select(encoded, small_params)
        model = fit_model(encoded, preprocessor, 5, small_params)
        separation = measure_feature_separation(selection, model, features)
        assert sum(separation["share_per_column"].values()) == pytest.approx(1.0, abs=1e-3)
        shares[weight] = separation["categorical_share"]
    assert shares[0.2] < shares[1.0]


def test_pca_is_described_and_has_no_categorical_share(customers, features, small_params):
    validated = validate_customers(customers, features, 10)
    preprocessor = fit_preprocessor(validated, features, {"pca_components": 3})
    encoded = encode_features(validated, preprocessor, "customer_id")
    summary = describe_preprocessing(preprocessor)
    assert summary["pca_components"] == 3
    assert len(summary["pca_explained_variance"]) == 3
    model = fit_model(encoded, preprocessor, 4, small_params)
    selection = select(encoded, small_params)
    assert measure_feature_separation(selection, model, features)["categorical_share"] is None
    assert len(set(model.predict(validated))) == 4


def test_algorithms_are_compared_on_the_same_sample(prepared, small_params):
    selection = select(prepared[2], small_params)
    comparison = _compare(selection, 5, {**small_params, "comparison_sample_size": 400})
    assert "fit_seconds" not in comparison  # timings go to the log: outputs are deterministic
    assert comparison["algorithm"].tolist() == [
        "kmeans",
        "minibatch_kmeans",
        "bisecting_kmeans",
        "gaussian_mixture",
        "ward",
        "hdbscan",
    ]
    assert (comparison["sample_size"] == 400).all()
    rows = comparison.set_index("algorithm")
    assert rows.loc["kmeans", "agreement_with_kmeans"] == pytest.approx(1.0)
    assert rows["deployed"].tolist() == [True, False, False, False, False, False]
    assert not rows.loc["ward", "scores_new_customers"]
    assert not rows.loc["hdbscan", "scores_new_customers"]
    assert rows.loc["gaussian_mixture", "scores_new_customers"]
    assert (rows.drop(index="hdbscan")["segments"] == 5).all()
    assert (rows.drop(index="hdbscan")["noise_share"] == 0).all()
    assert rows.loc["ward", "agreement_with_kmeans"] > 0.8  # the personas are clear
    figure = plot_algorithm_comparison(comparison)
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert labels[0] == "kmeans (5)"


def test_new_plots(prepared, small_params):
    _, preprocessor, encoded = prepared
    scores = _score(encoded, "customer_id", small_params)
    choices = choose_k_per_criterion(scores)
    criteria = plot_criteria(scores, choices, 4)
    assert len(criteria.axes) == 6
    assert "selected k = 4" in criteria.get_suptitle()
    stability = plot_stability(scores, 4, 0.8).axes[0]
    assert "min_stability = 0.8" in [t.get_text() for t in stability.get_legend().get_texts()]
    model = fit_model(encoded, preprocessor, 4, small_params)
    selection = select(encoded, small_params)
    diagram = plot_silhouette_diagram(selection, model, 2000, 42).axes[0]
    assert len(diagram.collections) == 4  # one blade per segment
    assert "k = 4" in diagram.get_title()
