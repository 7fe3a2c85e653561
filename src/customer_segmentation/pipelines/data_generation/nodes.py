"""Synthetic customers drawn from configurable personas.

Each persona describes the marginal distribution of every numeric feature
(log-normal for money and counts, normal for the rest) and the mix of every
categorical column. Numeric features are tied together by one latent Gaussian
correlation structure (a Gaussian copula), so income and order value, or
purchases and weekly activity, move together as they do in real customer bases.
The persona of each customer is kept in the ``persona`` column as ground truth.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyarrow as pa

logger = logging.getLogger(__name__)

_DISTRIBUTIONS = {"lognormal", "normal"}


def _latent_correlation(feature_names: list[str], correlations: list[list]) -> np.ndarray:
    """Builds the latent correlation matrix from ``[feature_a, feature_b, rho]`` rows."""
    index = {name: position for position, name in enumerate(feature_names)}
    matrix = np.eye(len(feature_names))
    for feature_a, feature_b, rho in correlations:
        for name in (feature_a, feature_b):
            if name not in index:
                raise ValueError(
                    f"data_generation.latent_correlations names '{name}', which is "
                    f"not one of the generated numeric features {feature_names}"
                )
        if not -1 < rho < 1:
            raise ValueError(
                f"data_generation.latent_correlations: correlation of "
                f"{feature_a} and {feature_b} must be strictly between -1 and 1, "
                f"got {rho}"
            )
        matrix[index[feature_a], index[feature_b]] = rho
        matrix[index[feature_b], index[feature_a]] = rho
    if np.linalg.eigvalsh(matrix).min() <= 0:
        raise ValueError(
            "data_generation.latent_correlations do not form a valid (positive "
            "definite) correlation matrix; lower some of the correlations"
        )
    return matrix


def _parameters(spec: dict, persona: str, feature: str) -> tuple[float, float]:
    """A persona's marginal distribution of a feature as a location and a
    scale of the standard-normal latent value: median and sigma of a
    log-normal (median * exp(sigma * z)), mean and sd of a normal (mean + sd * z)."""
    distribution = spec.get("distribution", "normal")
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(
            f"data_generation.personas.{persona}.{feature}.distribution must be one "
            f"of {sorted(_DISTRIBUTIONS)}, got '{distribution}'"
        )
    if distribution == "lognormal":
        return spec["median"], spec["sigma"]
    return spec["mean"], spec["sd"]


def _customer_ids(n_customers: int) -> pd.Series:
    """ "C0000001", "C0000002", ...: the number zero-padded to at least seven
    digits after a "C", as text. Written digit by digit into Arrow buffers
    (one block per id width): ten million Python strings take seconds."""
    blocks, start, digits = [], 1, 7
    while start <= n_customers:
        stop = min(n_customers, 10**digits - 1)
        numbers = np.arange(start, stop + 1, dtype=np.int64)
        width = digits + 1
        chars = np.empty((len(numbers), width), dtype=np.uint8)
        chars[:, 0] = ord("C")
        for position in range(width - 1, 0, -1):
            chars[:, position] = ord("0") + numbers % 10
            numbers //= 10
        offsets = np.arange(0, (stop - start + 2) * width, width, dtype=np.int64)
        blocks.append(
            pa.Array.from_buffers(
                pa.large_string(),
                stop - start + 1,
                [None, pa.py_buffer(offsets), pa.py_buffer(chars.ravel())],
            )
        )
        start, digits = stop + 1, digits + 1
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    return pa.chunked_array(blocks, pa.large_string()).to_pandas(
        types_mapper={pa.large_string(): text}.get
    )


def generate_customers(
    n_customers: int,
    random_seed: int,
    personas: dict[str, dict],
    numeric_bounds: dict[str, dict],
    latent_correlations: list[list],
    city_weights: dict[str, float],
    missing_value_share: float,
) -> pd.DataFrame:
    """Draws ``n_customers`` customers from weighted personas.

    Every numeric feature named in ``numeric_bounds`` is drawn per persona through
    a shared latent correlation, clipped to its bounds and rounded where it counts
    things; ``product_category`` and ``gender`` follow each persona's mix and
    ``city`` the global ``city_weights``. A ``missing_value_share`` of numeric
    cells is blanked, as real exports have gaps that preprocessing must impute.
    """
    if n_customers < 1:
        raise ValueError(f"data_generation.n_customers must be positive, got {n_customers}")
    rng = np.random.default_rng(random_seed)
    numeric_features = list(numeric_bounds)
    persona_names = list(personas)
    weights = np.array([personas[name]["weight"] for name in persona_names], float)
    if (weights <= 0).any():
        raise ValueError("data_generation.personas: every persona weight must be positive")
    assignment = rng.choice(len(persona_names), size=n_customers, p=weights / weights.sum())

    correlation = _latent_correlation(numeric_features, latent_correlations)
    latent = rng.multivariate_normal(
        np.zeros(len(numeric_features)), correlation, size=n_customers, method="cholesky"
    )

    # Categorical columns are drawn as codes into categories shared by all
    # personas, and kept as pandas categoricals: a million strings are slow.
    categories = {
        column: list(dict.fromkeys(c for name in persona_names for c in personas[name][column]))
        for column in ("product_category", "gender")
    }
    codes = {column: np.empty(n_customers, dtype=np.int8) for column in categories}
    # Each numeric feature's distribution parameters per persona, then taken
    # per customer: one pass over the customers per feature, not per persona.
    location = np.empty((len(persona_names), len(numeric_features)))
    scale = np.empty_like(location)
    lognormal = np.zeros_like(location, dtype=bool)
    for persona_index, persona in enumerate(persona_names):
        members = assignment == persona_index
        spec = personas[persona]
        for feature_index, feature in enumerate(numeric_features):
            if feature not in spec:
                raise ValueError(
                    f"data_generation.personas.{persona} has no distribution for '{feature}'"
                )
            location[persona_index, feature_index], scale[persona_index, feature_index] = (
                _parameters(spec[feature], persona, feature)
            )
            lognormal[persona_index, feature_index] = (
                spec[feature].get("distribution") == "lognormal"
            )
        for column, shared in categories.items():
            mix = spec[column]
            probabilities = np.array(list(mix.values()), float)
            local = rng.choice(
                len(mix), size=int(members.sum()), p=probabilities / probabilities.sum()
            )
            codes[column][members] = np.array([shared.index(c) for c in mix], np.int8)[local]
    columns: dict[str, np.ndarray] = {}
    for feature_index, feature in enumerate(numeric_features):
        spread = scale[assignment, feature_index] * latent[:, feature_index]
        centre = location[assignment, feature_index]
        with np.errstate(over="ignore"):  # exp of a normal feature's spread is discarded
            columns[feature] = np.where(
                lognormal[assignment, feature_index], centre * np.exp(spread), centre + spread
            )

    for feature, bounds in numeric_bounds.items():
        values = np.clip(columns[feature], bounds["min"], bounds["max"])
        if bounds["integer"]:
            values = np.round(values)
        columns[feature] = np.round(values, bounds["decimals"])
    if {"age", "years_with_company"} <= set(columns):
        # Nobody has been a customer since before they turned 18.
        columns["years_with_company"] = np.minimum(
            columns["years_with_company"], columns["age"] - 18
        ).clip(0)

    cities = np.array(list(city_weights.values()), float)
    city = rng.choice(len(city_weights), size=n_customers, p=cities / cities.sum())
    customers = pd.DataFrame(
        {
            "customer_id": _customer_ids(n_customers),
            **columns,
            **{
                column: pd.Categorical.from_codes(codes[column], categories[column])
                for column in categories
            },
            "city": pd.Categorical.from_codes(city, list(city_weights)),
            "persona": pd.Categorical.from_codes(assignment, persona_names),
        }
    )
    if missing_value_share > 0:
        blanks = rng.random((n_customers, len(numeric_features))) < missing_value_share
        customers[numeric_features] = customers[numeric_features].mask(blanks)
    logger.info(
        "Generated %d customers from %d personas (seed %d): %s",
        n_customers,
        len(persona_names),
        random_seed,
        customers["persona"].value_counts().to_dict(),
    )
    return customers
