import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.pipeline import Pipeline

from customer_segmentation import model as segmentation
from customer_segmentation.pipelines.model_selection import create_pipeline
from customer_segmentation.pipelines.model_selection.k_selection import (
    choose_k_per_criterion,
    select_cluster_count,
    silhouette,
)
from customer_segmentation.pipelines.model_selection.plots import (
    plot_algorithm_comparison,
    plot_criteria,
    plot_silhouette_diagram,
)
from customer_segmentation.pipelines.model_selection.structure import measure_feature_separation
from customer_segmentation.pipelines.model_selection.summary import (
    describe_preprocessing,
    summarise_model_selection,
)
from customer_segmentation.pipelines.preprocessing.nodes import (
    encode_features,
    fit_preprocessor,
    validate_customers,
)
from tests.conftest import base_parameters, fit, fit_model, make_customers, run_node, select

SCORE_COLUMNS = [
    "k",
    "inertia",
    "smallest_share",
    "silhouette",
    "calinski_harabasz",
    "davies_bouldin",
    "stability_mean",
    "stability_std",
    "gmm_bic",
]
# The preprocessing block of conf/base, validated, as the nodes receive it.
PREPROCESSING = base_parameters()["preprocessing"]


def _preprocessing(**values) -> dict:
    """The full preprocessing block with a test's own ``values``."""
    return {**PREPROCESSING, **values}


def _prepare(customers, features, k_max=10):
    validated = validate_customers(customers, features, k_max)
    preprocessor = fit_preprocessor(validated, features, _preprocessing())
    return validated, preprocessor, encode_features(validated, preprocessor, "customer_id")


def _node(name: str, params: dict, **data):
    return run_node(create_pipeline(), name, {"model_selection": params}, **data)


def _score(encoded, id_column, params):
    """Scores k as the pipeline does: on the selection sample of the encoded rows."""
    return _node(
        "score_cluster_counts", params, selection_features=select(encoded, params, id_column)
    )


def _structure(encoded, model, id_column, params):
    return _node(
        "assess_structure",
        params,
        selection_features=select(encoded, params, id_column),
        segmentation_model=model,
    )


def _choose(scores, params):
    return select_cluster_count(
        scores,
        choose_k_per_criterion(scores),
        params["criterion"],
        params["min_stability"],
        params["min_segment_share"],
    )


def _compare(selection, k, params, chosen="kmeans"):
    return _node(
        "compare_algorithms",
        params,
        selection_features=selection,
        selected_k=k,
        algorithm_choice={"chosen": chosen},
    )


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
        "smallest_share": [0.4, 0.2, 0.1, 0.05, 0.05],
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
    ("criterion", "expected", "rule"),
    [
        ("consensus", 3, "stable_best_silhouette"),  # k=5 is unstable
        ("silhouette", 5, "silhouette"),
        ("elbow", 4, "elbow"),
        ("calinski_harabasz", 4, "calinski_harabasz"),
        ("davies_bouldin", 2, "davies_bouldin"),
        ("stability", 2, "stability"),
        ("gmm_bic", 5, "gmm_bic"),
    ],
)
def test_selection_follows_the_criterion(criterion, expected, rule, caplog):
    k, choice = select_cluster_count(SCORES, choose_k_per_criterion(SCORES), criterion, 0.8, 0.02)
    assert (k, choice["rule"], choice["selected_k"]) == (expected, rule, expected)
    assert choice["ineligible_k"] == {}
    assert "criteria disagree" in caplog.text


def test_unstable_choice_is_flagged(caplog):
    k, choice = select_cluster_count(SCORES, choose_k_per_criterion(SCORES), "silhouette", 0.8, 0)
    assert (k, choice["stable"]) == (5, False)
    assert "k=5 is unstable" in caplog.text
    k, choice = select_cluster_count(SCORES, choose_k_per_criterion(SCORES), "consensus", 1.0, 0)
    assert (k, choice["rule"]) == (5, "best_silhouette_none_stable")
    assert "No k reaches bootstrap stability" in caplog.text


def test_k_whose_smallest_segment_is_too_small_is_never_chosen(caplog):
    """k=5 has the best silhouette but a 5% segment: with min_segment_share
    0.08 every criterion picks among k = 2, 3, 4 only."""
    choices = choose_k_per_criterion(SCORES)
    for criterion in ("silhouette", "gmm_bic", "consensus"):
        k, choice = select_cluster_count(SCORES, choices, criterion, 0.5, 0.08)
        assert k in (2, 3, 4)
        assert choice["ineligible_k"] == {5: 0.05, 6: 0.05}
        assert choice["smallest_share"] >= 0.08
    assert "k ineligible" in caplog.text
    k, choice = select_cluster_count(SCORES, choices, "consensus", 0.5, 0.5)
    assert (k, choice["rule"]) == (2, "largest_smallest_segment")
    assert "Every k from 2 to 6 has a segment under" in caplog.text


def _structure_case(frame: pd.DataFrame, params: dict, seed: int) -> dict:
    """The structure verdict on a table of numeric columns, through the
    pipeline's own nodes at default preprocessing (transforms, clipping) and
    a fast k scan."""
    features = {"id_column": None, "numeric": list(frame.columns)}
    params = {**params, "random_seed": seed}
    validated = validate_customers(frame, features, 10)
    preprocessor = fit_preprocessor(validated, features, _preprocessing())
    encoded = encode_features(validated, preprocessor, None)
    scores = _score(encoded, None, params)
    k, _ = _choose(scores, params)
    return _structure(encoded, fit_model(encoded, preprocessor, k, params, None), None, params)


def _no_structure_cases(rng, n=600, d=5):
    correlation = np.full((d, d), 0.7) + 0.3 * np.eye(d)
    return {
        "uniform noise": rng.uniform(size=(n, d)),
        "one Gaussian blob": rng.normal(size=(n, d)),
        "one log-normal blob": np.exp(rng.normal(size=(n, d))),
        "one correlated Gaussian": rng.multivariate_normal(np.zeros(d), correlation, n),
    }


def _structure_cases(rng, n=600, d=5):
    group = rng.integers(0, 2, n)
    overlapping = rng.normal(size=(n, d))
    overlapping[:, :3] += 1.6 * group[:, None]  # 2.8 SD apart in all, overlapping on each
    centres = rng.normal(0, 3, (4, d))
    blob = rng.integers(0, 4, n)
    return {
        "skewed blobs": np.exp(centres[blob] + 0.5 * rng.normal(size=(n, d))),
        "two overlapping groups": overlapping,
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_structure_check_says_no_for_blobs_and_noise_and_yes_for_groups(
    seed, structure_params, generation_params, features, caplog
):
    rng = np.random.default_rng(seed)
    for name, values in _no_structure_cases(rng).items():
        table = pd.DataFrame(values, columns=list("abcde"))
        verdict = _structure_case(table, structure_params, seed)
        assert verdict["clear_structure"] is False, (name, verdict)
    assert "No clear segment structure" in caplog.text
    for name, values in _structure_cases(rng).items():
        table = pd.DataFrame(values, columns=list("abcde"))
        verdict = _structure_case(table, structure_params, seed)
        assert verdict["clear_structure"] is True, (name, verdict)
    _, preprocessor, encoded = _prepare(make_customers(generation_params, 600, seed), features)
    model = fit_model(encoded, preprocessor, 5, structure_params)
    verdict = _structure(encoded, model, "customer_id", structure_params)
    assert verdict["clear_structure"] is True
    assert verdict["evidence"] == "groups across features"
    assert verdict["k"] == 5


def test_counts_and_ratings_are_not_taken_for_modes(structure_params):
    """Ties on a lattice: independent counts and one correlated blob of 1-5
    ratings have no clear structure."""
    rng = np.random.default_rng(0)
    correlation = np.full((5, 5), 0.6) + 0.4 * np.eye(5)
    for values in (
        rng.poisson(2, (600, 4)).astype(float),
        np.clip(np.round(3 + rng.multivariate_normal(np.zeros(5), correlation, 600)), 1, 5),
    ):
        table = pd.DataFrame(values, columns=[f"c{i}" for i in range(values.shape[1])])
        verdict = _structure_case(table, structure_params, 0)
        assert verdict["clear_structure"] is False, verdict


def test_sampled_silhouette_is_stratified_so_small_segments_count():
    """A 1% segment far from the rest: a plain sample of 200 of 5,000 rows
    sees about two of its members and its estimate swings from seed to seed;
    the stratified one sees 50 of them, weighs each by its segment's size and
    stays close to the exact silhouette."""
    rng = np.random.default_rng(0)
    values = np.vstack([rng.normal(size=(4_950, 2)), rng.normal(6, 1, size=(50, 2))])
    labels = np.r_[np.zeros(4_950, int), np.ones(50, int)]
    labels[rng.permutation(4_950)[:1_500]] = 2  # a third segment, overlapping the first
    exact = silhouette_score(values, labels)
    stratified = [silhouette(values, labels, 200, seed) for seed in range(8)]
    plain = [silhouette_score(values, labels, sample_size=200, random_state=s) for s in range(8)]
    assert abs(np.mean(stratified) - exact) < 0.02
    assert np.std(stratified) < np.std(plain)


def test_sampled_silhouette_is_within_002_of_exact(generation_params, features, small_params):
    _, _, encoded = _prepare(make_customers(generation_params, 6000, seed=3), features)
    params = {**small_params, "k_min": 4, "k_max": 6, "stability_resamples": 0}
    exact = _score(encoded, "customer_id", {**params, "silhouette_sample_size": 10**6})
    sampled = _score(encoded, "customer_id", {**params, "silhouette_sample_size": 2000})
    np.testing.assert_allclose(sampled["silhouette"], exact["silhouette"], atol=0.02)
    assert not np.array_equal(sampled["silhouette"], exact["silhouette"])


def test_summary_is_json_ready(prepared, small_params):
    _, preprocessor, encoded = prepared
    scores = _score(encoded, "customer_id", small_params)
    model = fit_model(encoded, preprocessor, 4, small_params)
    structure = _structure(encoded, model, "customer_id", small_params)
    separation = measure_feature_separation(select(encoded, small_params), model)
    _, choice = select_cluster_count(scores, choose_k_per_criterion(scores), "silhouette", 0.8, 0)
    choice = {**choice, "selected_k": 4}
    summary = json.loads(
        json.dumps(
            summarise_model_selection(
                scores,
                choose_k_per_criterion(scores),
                choice,
                structure,
                separation,
                describe_preprocessing(preprocessor),
                _compare(select(encoded, small_params), 4, small_params),
                {0: 0.97, 1: 0.55, 2: None, 3: 1.0},
                {"chosen": "kmeans", "rule": "forced by model_selection.algorithm"},
            )
        )
    )
    # JSON keys are text; the profiles read them back as segment numbers.
    assert summary["segment_stability"] == {"0": 0.97, "1": 0.55, "2": None, "3": 1.0}
    preprocessing = summary["preprocessing"]
    assert preprocessing["transforms"]["average_order_value"]["transform"] == "log1p"
    assert preprocessing["transforms"]["spending_score"]["transform"] == "none"
    assert preprocessing["categorical_weight"] == 0.5
    assert preprocessing["clip_quantile"] == 0.005
    assert summary["k_choice"]["rule"] == "silhouette"
    assert 0 <= summary["feature_separation"]["categorical_share"] <= 1
    assert [row["algorithm"] for row in summary["algorithm_comparison"]][0] == "kmeans"
    assert summary["selected_k"] == 4
    assert summary["criterion"] == "silhouette"
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
    assert [row["k"] for row in summary["scores"]] == [2, 3, 4, 5, 6]
    assert list(summary["scores"][0]) == SCORE_COLUMNS


def test_clipped_outliers_are_counted_with_their_bound_in_original_units(customers, features):
    validated = validate_customers(customers, features, 10)
    preprocessor = fit_preprocessor(validated, features, _preprocessing(clip_quantile=0.01))
    outliers = describe_preprocessing(preprocessor)["outliers"]
    income = validated["annual_income"]
    above = outliers["annual_income"]["above"]
    assert above["customers"] == int((income > above["bound"] + 1e-6).sum())
    assert above["bound"] == pytest.approx(income.quantile(0.99), rel=0.02)
    assert above["share"] == pytest.approx(0.01, abs=0.003)


def test_criteria_plot_marks_the_selected_k_and_each_criterions_own(prepared, small_params):
    scores = _score(prepared[2], "customer_id", small_params)
    choices = choose_k_per_criterion(scores)
    figure = plot_criteria(scores, choices, 4, 0.8)
    assert isinstance(figure, Figure)
    assert "selected k = 4" in figure.get_suptitle()
    elbow, silhouette, *_ = figure.axes
    for axes, criterion in ((elbow, "elbow"), (silhouette, "silhouette")):
        # the dashed line at the selected k, the circle at the criterion's own k
        assert [
            line.get_xdata()[0] for line in axes.get_lines() if line.get_linestyle() == "--"
        ] == [4]
        legend = [text.get_text() for text in axes.get_legend().get_texts()]
        assert legend == [f"best alone: k = {choices[criterion]}"]
    for axes in figure.axes[3:]:
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
    selected_k, _ = _choose(scores, model_selection_params)
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


def test_final_fit_on_all_rows_starts_from_the_sample_restarts(prepared, small_params, engine):
    """With k chosen on a sample, the fit on every row matches a full restart
    (on Spark, Lloyd's algorithm refines the sample's centres on every row)."""
    validated, preprocessor, encoded = prepared
    sampled = {**small_params, "selection_sample_size": 200}
    warm, segments = fit(engine.frame(encoded), preprocessor, 5, sampled)
    cold = fit_model(encoded, preprocessor, 5, small_params)
    assert len(engine.pandas(segments)) == len(encoded)
    ari = adjusted_rand_score(warm.predict(validated), cold.predict(validated))
    assert ari > 0.95


def test_feature_separation_by_feature_and_block_follows_the_categorical_weight(
    customers, features, small_params
):
    shares = {}
    for weight in (0.5, 1.0, 0.2):
        validated = validate_customers(customers, features, 10)
        preprocessor = fit_preprocessor(
            validated, features, _preprocessing(categorical_weight=weight)
        )
        encoded = encode_features(validated, preprocessor, "customer_id")
        model = fit_model(encoded, preprocessor, 5, small_params)
        separation = measure_feature_separation(select(encoded, small_params), model)
        per_feature = separation["share_per_feature"]
        assert set(per_feature) == {*features["numeric"], *features["categorical"]}
        assert sum(per_feature.values()) == pytest.approx(1.0, abs=1e-3)
        assert separation["numeric_share"] + separation["categorical_share"] == pytest.approx(1)
        shares[weight] = separation["categorical_share"]
    assert shares[0.2] < shares[1.0]


def test_pca_is_described_and_has_no_categorical_share(customers, features, small_params):
    validated = validate_customers(customers, features, 10)
    preprocessor = fit_preprocessor(validated, features, _preprocessing(pca_components=3))
    encoded = encode_features(validated, preprocessor, "customer_id")
    summary = describe_preprocessing(preprocessor)
    assert summary["pca_components"] == 3
    assert len(summary["pca_explained_variance"]) == 3
    model = fit_model(encoded, preprocessor, 4, small_params)
    selection = select(encoded, small_params)
    assert measure_feature_separation(selection, model)["categorical_share"] is None
    assert len(set(model.predict(validated))) == 4
    # The structure check runs in the encoded columns' space, where PCA keeps distances.
    assert _structure(encoded, model, "customer_id", small_params)["clear_structure"] is True


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
    # The algorithm choose_algorithm chose is the one marked deployed.
    mixture = _compare(
        selection, 5, {**small_params, "comparison_sample_size": 400}, "gaussian_mixture"
    )
    assert mixture["deployed"].tolist() == [False, False, False, True, False, False]
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
    criteria = plot_criteria(scores, choices, 4, 0.8)
    assert len(criteria.axes) == 6
    assert "selected k = 4" in criteria.get_suptitle()
    stability = criteria.axes[4]
    assert "min_stability = 0.8" in [t.get_text() for t in stability.get_legend().get_texts()]
    assert stability.containers  # the spread of the bootstrap agreement, as error bars
    assert stability.get_ylim()[1] == 1.05  # never above what the agreement can reach
    model = fit_model(encoded, preprocessor, 4, small_params)
    selection = select(encoded, small_params)
    diagram = plot_silhouette_diagram(selection, model, 2000, 42).axes[0]
    assert len(diagram.collections) == 4  # one blade per segment
    assert "k = 4" in diagram.get_title()
