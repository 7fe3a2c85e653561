"""The shape of every project parameter, checked once before the first node.

Each top-level block of ``conf/*/parameters*.yml`` has a pydantic model here.
Unknown keys are errors (a misspelled ``k_mx`` would otherwise be ignored and
the default used), and so are values of the wrong type or out of range. The
project's ``ParameterCheck`` hook validates the merged parameters (base,
environment and ``--params``) when a run's context is created, and raises one
``ParameterError`` naming every bad key; nodes then receive plain values.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from customer_segmentation.errors import UserError
from customer_segmentation.features import TRANSACTION_FEATURES


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfileOnly(_Block):
    numeric: list[str] = []
    categorical: list[str] = []


class Outcome(_Block):
    """One ``features.outcomes`` entry: what the column records and the value
    that means it happened."""

    kind: Literal["churn", "response"]
    positive: bool | int | float | str


class Features(_Block):
    id_column: str | None
    numeric: list[str] = Field(min_length=1)
    categorical: list[str] = []
    categories: dict[str, list[Any]] = {}
    bounds: dict[str, tuple[float | None, float | None]] = {}
    profile_only: ProfileOnly = ProfileOnly()
    roles: dict[
        Literal["monetary", "frequency", "recency", "tenure", "demographic"], list[str]
    ] = {}
    outcomes: dict[str, Outcome] = {}

    @model_validator(mode="after")
    def _known_columns(self) -> Features:
        for column in self.categories:
            if column not in self.categorical:
                raise ValueError(f"categories names '{column}', which is not in categorical")
        numeric = {*self.numeric, *self.profile_only.numeric}
        for column, (low, high) in self.bounds.items():
            if column not in numeric:
                raise ValueError(f"bounds names '{column}', which is not a numeric column")
            if low is not None and high is not None and low > high:
                raise ValueError(f"bounds of '{column}': {low} is above {high}")
        seen: dict[str, str] = {}
        for role, columns in self.roles.items():
            for column in columns:
                if column not in numeric:
                    raise ValueError(
                        f"roles.{role} names '{column}', which is not a numeric feature or "
                        "profile-only numeric column (environments merge with conf/base role "
                        f"by role: set {role}: [] to clear the base's list)"
                    )
                if column in seen:
                    raise ValueError(f"'{column}' has two roles: {seen[column]} and {role}")
                seen[column] = role
        profiled = {*self.profile_only.numeric, *self.profile_only.categorical}
        for column in self.outcomes:
            if column not in profiled:
                raise ValueError(
                    f"outcomes names '{column}', which is not a profile-only column: list it "
                    "under profile_only.numeric (a 0/1 number) or profile_only.categorical "
                    "(text), so that it is profiled but never clustered on"
                )
        return self


class DataGeneration(_Block):
    n_customers: int = Field(ge=1)
    random_seed: int
    missing_value_share: float = Field(ge=0, lt=1)
    numeric_bounds: dict[str, dict[str, Any]]
    latent_correlations: list[list[Any]]
    city_weights: dict[str, float]
    personas: dict[str, dict[str, Any]]


class Preprocessing(_Block):
    first_line: int = Field(ge=0)
    skew_threshold: float = Field(default=1.0, ge=0)
    transforms: dict[str, Literal["log1p", "yeo-johnson", "none"]] = {}
    clip_quantile: float = Field(default=0.005, ge=0, lt=0.5)
    min_category_share: float = Field(default=0.01, ge=0, lt=0.5)
    categorical_weight: float = Field(default=0.5, gt=0)
    pca_components: int | float | None = None
    fit_sample_size: int = Field(default=1_000_000, ge=1000)
    random_seed: int = 0


class TransactionColumns(_Block):
    customer_id: str
    timestamp: str
    amount: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    order_id: str | None = None
    category: str | None = None
    channel: str | None = None


class CustomerFeatures(_Block):
    columns: TransactionColumns
    date_format: str | None = None
    dayfirst: bool = False
    snapshot_date: str | None = None
    cancellation_prefix: str | None = None
    duplicates: Literal["drop", "keep"] = "drop"
    category_top_n: int = Field(default=8, ge=1)
    compute: list[Literal[TRANSACTION_FEATURES]] = []
    first_line: int = Field(default=2, ge=0)


class ModelSelection(_Block):
    k_min: int = Field(ge=2)
    k_max: int = Field(ge=2)
    criterion: Literal[
        "consensus",
        "elbow",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "stability",
        "gmm_bic",
    ]
    stability_resamples: int = Field(ge=1)
    stability_sample_size: int = Field(ge=10)
    stability_n_init: int = Field(ge=1)
    min_stability: float = Field(ge=-1, le=1)
    bic_sample_size: int = Field(ge=10)
    min_segment_share: float = Field(ge=0, lt=0.5)
    structure_margin: float = Field(ge=0)
    structure_dip_p_value: float = Field(gt=0, lt=1)
    n_init: int = Field(ge=1)
    random_seed: int
    selection_sample_size: int = Field(ge=10)
    silhouette_sample_size: int = Field(ge=10)
    comparison_sample_size: int = Field(ge=10)
    hdbscan_min_cluster_share: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _k_range(self) -> ModelSelection:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        return self


class Scatter(_Block):
    x: str | None = None
    y: str | None = None
    max_points: int = Field(ge=10)
    random_seed: int


class Naming(_Block):
    features: list[str] = []
    threshold: float = Field(ge=0)
    max_terms: int = Field(ge=1)
    max_categories: int = Field(ge=1)
    labels: dict[str, str] = {}


class Rule(_Block):
    action: str
    why: str
    when: dict[str, str] = {}


class OutcomeThresholds(_Block):
    min_lift: float = Field(gt=1)
    max_p_value: float = Field(gt=0, lt=1)


class Recommendations(_Block):
    outcomes: OutcomeThresholds
    rules: list[Rule] = Field(min_length=1)


class Targeting(_Block):
    segments: list[int] = []
    top_priorities: int = Field(ge=0)
    max_share: float = Field(default=0.5, gt=0, le=1)


class Report(_Block):
    highlight_columns: list[str] = []


class Drift(_Block):
    max_psi: float = Field(ge=0)
    min_ari: float
    max_centre_shift_sd: float = Field(ge=0)
    fail_on_drift: bool
    ari_sample_size: int = Field(ge=10)


class SegmentAnalysis(_Block):
    sample_size: int = Field(ge=10)
    scatter: Scatter
    naming: Naming
    recommendations: Recommendations
    targeting: Targeting
    report: Report
    drift: Drift


class Scoring(_Block):
    id_pattern: str | None = None
    max_abs_z: float = Field(gt=0)
    max_reject_share: float = Field(ge=0, le=1)
    first_line: int = Field(ge=0)


class ProjectParameters(_Block):
    features: Features
    customer_features: CustomerFeatures
    data_generation: DataGeneration
    preprocessing: Preprocessing
    model_selection: ModelSelection
    segment_analysis: SegmentAnalysis
    scoring: Scoring


class ParameterError(UserError, ValueError):
    """Parameters that do not fit ``ProjectParameters``; names every bad key."""


def _known_keys(model: type[BaseModel], path: tuple) -> list[str]:
    """The keys allowed where ``path`` (without its last part) points."""
    for part in path[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        inner = getattr(annotation, "__args__", None) or (annotation,)
        found = next((t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)), None)
        if found is None:
            return []
        model = found
    return list(model.model_fields)


def check_parameters(parameters: dict[str, Any]) -> None:
    """Raises ``ParameterError`` listing every parameter that is unknown,
    missing, of the wrong type or out of range, each by its dotted key."""
    try:
        ProjectParameters.model_validate(parameters)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            key = ".".join(str(part) for part in item["loc"])
            if item["type"] == "extra_forbidden":
                close = difflib.get_close_matches(
                    str(item["loc"][-1]), _known_keys(ProjectParameters, item["loc"]), n=1
                )
                hint = f"; did you mean '{close[0]}'?" if close else ""
                problems.append(f"'{key}': unknown parameter{hint}")
            elif item["type"] == "missing":
                problems.append(f"'{key}': missing")
            else:
                problems.append(f"'{key}': {item['msg']} (got {item.get('input')!r})")
        raise ParameterError(
            "Invalid parameters (conf/<env>/parameters*.yml or --params):\n  - "
            + "\n  - ".join(problems)
        ) from None
