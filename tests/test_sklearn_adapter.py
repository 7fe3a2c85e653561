"""What ``customer_segmentation.sklearn_adapter`` relies on in scikit-learn's
internals. When one of these fails after an upgrade of scikit-learn, read
the adapter's docstrings against the new ``sklearn/cluster/_kmeans.py``
before changing anything: the segments of every run depend on it."""

import inspect

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.cluster._kmeans import _tolerance

from customer_segmentation import model as segmentation
from customer_segmentation import sklearn_adapter as adapter

METHOD, TOLERANCE = adapter.KMEANS_CHECK_METHOD, adapter.KMEANS_SCALED_TOLERANCE
UPGRADE = (
    f"scikit-learn changed KMeans.{METHOD}, which sklearn_adapter.BlockwiseTolerance "
    f"overrides: check that it still scales tol by the features' variance into "
    f"self.{TOLERANCE}, and update the adapter"
)


def test_the_private_kmeans_method_it_overrides_exists_with_its_signature():
    method = getattr(KMeans, adapter.KMEANS_CHECK_METHOD, None)
    assert method is not None, UPGRADE
    arguments = tuple(inspect.signature(method).parameters)
    assert arguments == ("self", *adapter.KMEANS_CHECK_ARGUMENTS), UPGRADE
    # Somewhere along KMeans's bases that method sets the scaled tolerance
    # from _tolerance, which skips the variance when tol is 0.
    sources = [
        inspect.getsource(vars(base)[adapter.KMEANS_CHECK_METHOD])
        for base in KMeans.__mro__
        if adapter.KMEANS_CHECK_METHOD in vars(base)
    ]
    setter = f"self.{adapter.KMEANS_SCALED_TOLERANCE} = _tolerance(X, self.tol)"
    assert any(setter in source for source in sources), UPGRADE
    assert "if tol == 0" in inspect.getsource(_tolerance), UPGRADE


def test_segment_kmeans_is_kmeans_with_its_tolerance_measured_by_blocks_of_rows():
    """The final fit's KMeans (model.SegmentKMeans) sums the variance for its
    tolerance a block of rows at a time instead of copying the data: the
    same tolerance, centres, labels and iterations as scikit-learn's, and
    the caller's matrix is left as it was (copy_x=False centres it in place)."""
    rng = np.random.default_rng(5)
    centres = rng.normal(0, 3, (4, 6))
    values = np.vstack([c + rng.normal(0, 1.5, (700, 6)) for c in centres])  # overlapping
    start = values[rng.choice(len(values), 4, replace=False)]
    original = values.copy()
    ours = segmentation.SegmentKMeans(4, init=start, n_init=1, copy_x=False).fit(values)
    theirs = KMeans(4, init=start, n_init=1).fit(original)
    assert ours._tol == pytest.approx(_tolerance(original, 1e-4), rel=1e-12), UPGRADE
    assert adapter.variances(values, rows_per_block=512) == pytest.approx(
        np.var(original, axis=0), rel=1e-12
    )
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-12)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_ > 1, UPGRADE
    np.testing.assert_allclose(values, original, rtol=0, atol=1e-12)


def test_a_zero_tolerance_stays_zero():
    values = np.random.default_rng(0).normal(size=(200, 3))
    ours = segmentation.SegmentKMeans(3, n_init=1, tol=0, random_state=0).fit(values)
    theirs = KMeans(3, n_init=1, tol=0, random_state=0).fit(values)
    assert ours._tol == theirs._tol == 0
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
