"""Every place the project relies on scikit-learn internals, in one module.

scikit-learn may change a private method between releases without notice.
Whatever here overrides or reads one says which, and
``tests/test_sklearn_adapter.py`` pins it: the private method exists with
the signature relied on, and the results still equal scikit-learn's own. An
upgrade that changes either fails that test, with a message saying what to
check, instead of silently changing the segments.
"""

from __future__ import annotations

import numpy as np

# The private KMeans method ``BlockwiseTolerance`` overrides, its arguments
# after ``self``, and the attribute it must set (KMeans's tolerance scaled
# by the mean variance of the features, read by its Lloyd iterations).
KMEANS_CHECK_METHOD = "_check_params_vs_input"
KMEANS_CHECK_ARGUMENTS = ("X",)
KMEANS_SCALED_TOLERANCE = "_tol"


class BlockwiseTolerance:
    """A mixin for scikit-learn's ``KMeans`` (put it first among the bases)
    that measures the convergence tolerance without a copy of the data.

    KMeans scales ``tol`` by the mean variance of the features in its private
    ``_check_params_vs_input``, with ``np.var(X, axis=0)``, which holds a
    full copy of X while it runs: at ten million customers, the peak memory
    of the whole run. Here that method runs with ``tol = 0`` (so KMeans skips
    its own variance), then sets the scaled tolerance (``_tol``) from the
    variance summed ``rows_per_block`` rows at a time. The same tolerance, so
    the same iterations, centres and labels. For dense data only (the encoded
    features always are)."""

    rows_per_block: int = 262_144

    def _check_params_vs_input(self, X):  # noqa: N803 - scikit-learn's argument name
        tol = self.tol
        self.tol = 0  # KMeans then skips its own np.var(X, axis=0)
        try:
            super()._check_params_vs_input(X)
        finally:
            self.tol = tol
        self._tol = tol * float(np.mean(variances(X, self.rows_per_block))) if tol else 0.0


def variances(X: np.ndarray, rows_per_block: int) -> np.ndarray:  # noqa: N803
    """``np.var(X, axis=0)``, a block of ``rows_per_block`` rows at a time."""
    mean = X.mean(axis=0)
    squares = np.zeros(X.shape[1])
    for start in range(0, len(X), rows_per_block):
        squares += ((X[start : start + rows_per_block] - mean) ** 2).sum(axis=0)
    return squares / len(X)
