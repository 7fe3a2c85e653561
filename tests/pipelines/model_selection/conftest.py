"""Fixtures shared by the model-selection tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def structure_params(model_selection_params):
    """Model-selection settings for the structure-check cases: few k, few
    restarts and resamples, the silhouette on a 600-customer sample."""
    return {
        **model_selection_params,
        "k_max": 6,
        "n_init": 2,
        "stability_resamples": 2,
        "stability_n_init": 1,
        "bic_sample_size": 300,
        "silhouette_sample_size": 600,
    }
