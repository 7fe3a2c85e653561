"""The one factory of the deployed clusterer (``kernels.fit_clusterer``),
which the final fit on both engines and the per-segment stability's refits
share, and the reason the algorithm choice records for the report."""

import numpy as np
import pandas as pd
import pytest

from customer_segmentation import model as segmentation
from customer_segmentation.pipelines.model_selection import final_fit, segment_stability
from customer_segmentation.pipelines.model_selection.kernels import (
    fit_clusterer,
    fit_mixture,
    fit_on_sample,
)
from customer_segmentation.pipelines.model_selection.mixture import RULES, _decide

MIXTURE = {"chosen": "gaussian_mixture", "gaussian_mixture": {"covariance_type": "diag"}}
KMEANS = {"chosen": "kmeans", "gaussian_mixture": {"covariance_type": "full"}}


def _rows(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [5.0, 1.0], [1.0, 6.0]])
    values = centres[rng.integers(0, 3, n)] + rng.normal(0, [1.0, 0.4], (n, 2))
    return pd.DataFrame(values, columns=["a", "b"])


def test_the_factory_fits_the_mixture_of_the_choice_as_fit_mixture_does():
    rows = _rows()
    made = fit_clusterer(MIXTURE, 3, rows, n_init=7, mixture_n_init=2, random_seed=4)
    direct = fit_mixture(rows, 3, "diag", 2, 4)
    assert isinstance(made, segmentation.SegmentGaussianMixture)
    assert made.covariance_type == "diag" and made.n_init == 2
    np.testing.assert_array_equal(made.means_, direct.means_)
    np.testing.assert_array_equal(made.predict_proba(rows), direct.predict_proba(rows))


def test_the_factory_fits_kmeans_with_its_restarts_as_fit_on_sample_does():
    rows = _rows().to_numpy()
    made = fit_clusterer(KMEANS, 3, rows, n_init=7, mixture_n_init=2, random_seed=4)
    direct = fit_on_sample(rows, 3, 7, 4)
    assert isinstance(made, segmentation.SegmentKMeans) and made.n_init == 7
    np.testing.assert_array_equal(made.cluster_centers_, direct.cluster_centers_)


@pytest.mark.parametrize("module", [final_fit, segment_stability])
def test_the_final_fit_and_the_stability_make_their_clusterer_with_the_factory(module, monkeypatch):
    calls = []

    def recording(*args, **kwargs):
        calls.append(args[0]["chosen"])
        return fit_clusterer(*args, **kwargs)

    monkeypatch.setattr(module, "fit_clusterer", recording)
    rows = _rows(200)
    if module is final_fit:
        encoded = rows.assign(customer_id=[f"C{i}" for i in range(len(rows))])
        model, segments = final_fit.fit_segmentation_model(
            encoded, rows, "passthrough", 3, MIXTURE, "customer_id", 3, 2, 0
        )
        assert segments["confidence"].between(0, 1).all()
        assert calls == ["gaussian_mixture"]
    else:
        clusterer = fit_clusterer(MIXTURE, 3, rows, 3, 2, 0)
        model = segmentation.segmentation_model("passthrough", clusterer)
        stability = segment_stability.measure_segment_stability(
            rows,
            model,
            3,
            MIXTURE,
            resamples=2,
            sample_size=200,
            n_init=3,
            mixture_n_init=2,
            random_seed=0,
        )
        assert set(stability) == {0, 1, 2}
        assert calls == ["gaussian_mixture", "gaussian_mixture"]


@pytest.mark.parametrize(
    ("algorithm", "mixture", "expected"),
    [
        ("kmeans", {}, ("kmeans", "forced")),
        ("auto", {"bic_gain_over_spherical_per_1000": 2.0}, ("kmeans", "round")),
        ("auto", {"stability": 0.5}, ("kmeans", "not_reproducible")),
        ("auto", {"smallest_share": 0.01}, ("kmeans", "small_component")),
        ("auto", {"silhouette": 0.1}, ("kmeans", "less_separated")),
        ("auto", {}, ("gaussian_mixture", "shaped")),
    ],
)
def test_the_choice_records_a_reason_the_report_can_read(algorithm, mixture, expected):
    evidence = {
        "bic_gain_over_spherical_per_1000": 50.0,
        "stability": 0.9,
        "smallest_share": 0.2,
        "silhouette": 0.4,
        **mixture,
    }
    thresholds = {
        "min_bic_gain_per_1000": 10.0,
        "min_stability": 0.8,
        "min_segment_share": 0.02,
        "max_silhouette_loss": 0.05,
    }
    assert _decide(algorithm, evidence, {"silhouette": 0.42}, thresholds) == expected
    assert expected[1] in RULES
