"""The shape of every project parameter: the one home of their defaults.

Each top-level block of ``conf/*/parameters*.yml`` has a pydantic model here
(``features`` has its own in ``customer_segmentation.features``), and every
key its type, range, default (where it has one) and one-line meaning
(``Field(description=...)``, which the parameter reference of the manual
shows). Unknown keys are errors (a misspelled ``k_mx`` would otherwise be
ignored and the default used), and so are values of the wrong type or out of
range.

The project's configuration loader (``customer_segmentation.config``) passes
the merged parameters (base, environment and ``--params``) through
``validated_parameters`` before Kedro hands them out, so every node receives
every key, defaults filled in, and reads none of its own; bad parameters end
the run with one ``ParameterError`` naming every bad key.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from customer_segmentation.errors import UserError
from customer_segmentation.features import TRANSACTION_FEATURES, Features


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _field(description: str, default: Any = ..., **constraints: Any) -> Any:
    """A parameter key: its one-line meaning, its default (none: required) and range."""
    return Field(default, description=description, **constraints)


class NumericBound(_Block):
    """How one generated numeric feature is bounded and rounded."""

    min: float | None = _field("Lowest value (null: none).", None)
    max: float | None = _field("Highest value (null: none).", None)
    integer: bool = _field("Whole numbers.", False)
    decimals: int = _field("Decimals kept when not whole numbers.", 2, ge=0)


class DataGeneration(_Block):
    n_customers: int = _field("Number of synthetic customers.", ge=1)
    random_seed: int = _field("Seed of the synthetic draw.")
    missing_value_share: float = _field(
        "Share of numeric cells left blank, as in real exports.", ge=0, lt=1
    )
    numeric_bounds: dict[str, NumericBound] = _field(
        "Bounds and rounding of every generated numeric feature, in column order."
    )
    latent_correlations: list[list[Any]] = _field(
        "Correlations of the latent Gaussian: [feature_a, feature_b, correlation] rows."
    )
    city_weights: dict[str, float] = _field("Relative share of customers per city.")
    personas: dict[str, dict[str, Any]] = _field(
        "Each persona's weight and distribution of every feature."
    )


class Preprocessing(_Block):
    first_line: int = _field("Line of raw_customers' first data row, for messages.", ge=0)
    min_rows: int | None = _field(
        "Fewest customer rows training accepts; null: model_selection.k_max.", None, ge=2
    )
    skew_threshold: float = _field(
        "Skewness above which a numeric feature is transformed.", 1.0, ge=0
    )
    transforms: dict[str, Literal["log1p", "yeo-johnson", "none"]] = _field(
        "Per-column transform overriding the automatic choice.", {}
    )
    clip_quantile: float = _field(
        "Scaled numeric features are clipped at this quantile and its complement.",
        0.005,
        ge=0,
        lt=0.5,
    )
    min_category_share: float = _field(
        "Categories rarer than this share of rows are grouped as 'other'.", 0.01, ge=0, lt=0.5
    )
    categorical_weight: float = _field(
        "Weight of the one-hot columns against the standardised numeric ones.", 0.5, gt=0
    )
    pca_components: int | float | None = _field(
        "Principal components kept: a number, a share of variance, or null (no PCA).", None
    )
    fit_sample_size: int = _field(
        "The preprocessor is fitted on a seeded sample of at most this many rows.",
        1_000_000,
        ge=1000,
    )
    random_seed: int = _field("Seed of the fitting sample.", 42)


class TransactionColumns(_Block):
    customer_id: str = _field("The log's customer id column.")
    timestamp: str = _field("The log's date or time column.")
    amount: str | None = _field("The line's value; null: quantity times unit_price.", None)
    quantity: str | None = _field("Units on the line.", None)
    unit_price: str | None = _field("Price of one unit.", None)
    order_id: str | None = _field(
        "Lines of one order share it; null: a customer's lines with one timestamp.", None
    )
    category: str | None = _field("Product category, for spend shares.", None)
    channel: str | None = _field("Sales channel, for top_channel.", None)


class CustomerFeatures(_Block):
    columns: TransactionColumns = _field("What each column of the transaction log is.")
    date_format: str | None = _field(
        "strftime format of the timestamps; null: YYYYMMDD numbers and usual forms.", None
    )
    dayfirst: bool = _field("Read 01/02/2024 as 1 February.", False)
    snapshot_date: str | None = _field(
        "Date the features are measured at; null: the day after the last purchase.", None
    )
    cancellation_prefix: str | None = _field(
        "Order ids starting with this cancel the order whose id follows.", None
    )
    duplicates: Literal["drop", "keep"] = _field(
        "Lines identical in every column: dropped as export duplicates, or kept.", "drop"
    )
    category_top_n: int = _field("Spend shares kept for this many top categories.", 8, ge=1)
    compute: list[Literal[TRANSACTION_FEATURES]] = _field(
        "The features computed; empty: all of them.", []
    )
    first_line: int = _field("Line of the log's first data row, for rejects.", 2, ge=0)


class SegmentStability(_Block):
    """Each deployed segment's bootstrap Jaccard on resampled customers
    (``model_selection.segment_stability``)."""

    resamples: int = _field(
        "Seeded bootstrap resamples of the selection sample each segment's stability "
        "is averaged over.",
        20,
        ge=1,
    )


class ModelSelection(_Block):
    k_min: int = _field("Fewest segments compared.", ge=2)
    k_max: int = _field("Most segments compared.", ge=2)
    criterion: Literal[
        "consensus",
        "elbow",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "stability",
        "gmm_bic",
    ] = _field("How k is chosen among the eligible k.")
    stability_resamples: int = _field("Seeded resamples refitted per k for stability.", ge=1)
    stability_sample_size: int = _field("Customers per stability resample, at most.", ge=10)
    stability_n_init: int = _field("KMeans restarts per stability refit.", ge=1)
    min_stability: float = _field(
        "Adjusted Rand index below which a k is flagged unstable.", ge=-1, le=1
    )
    bic_sample_size: int = _field("Customers the gmm_bic mixture is fitted on, at most.", ge=10)
    min_segment_share: float = _field(
        "Smallest segment share a k needs to be eligible.", ge=0, lt=0.5
    )
    structure_margin: float = _field(
        "Silhouette margin over structure-free references that makes structure clear "
        "(0.8 of it on normal scores against a Gaussian copula).",
        ge=0,
    )
    structure_dip_p_value: float = _field(
        "Dip-test p-value below which several modes make structure clear.", gt=0, lt=1
    )
    n_init: int = _field("KMeans restarts per k; the best is kept.", ge=1)
    random_seed: int = _field("Seed of every sample and fit of model selection.")
    selection_sample_size: int = _field("k is chosen on a seeded sample of this size.", ge=10)
    silhouette_sample_size: int = _field(
        "Silhouette is estimated on a sample of this size beyond it.", ge=10
    )
    comparison_sample_size: int = _field(
        "Customers the algorithms are compared on, at most.", ge=10
    )
    hdbscan_min_cluster_share: float = _field(
        "HDBSCAN's smallest segment, as a share of the comparison sample.", gt=0, lt=1
    )
    segment_stability: SegmentStability = _field(
        "How each deployed segment's stability on resampled customers is measured.",
        SegmentStability(),
    )
    algorithm: Literal["auto", "kmeans", "gaussian_mixture"] = _field(
        "Deployed algorithm; auto: the Gaussian mixture when its segments are clearly not "
        "round and reproducible, else KMeans.",
        "auto",
    )
    mixture_n_init: int = _field("Gaussian-mixture starts per fit; the best is kept.", 3, ge=1)
    mixture_min_bic_gain: float = _field(
        "BIC gain per 1000 customers over round (spherical) components the mixture needs "
        "under auto.",
        10.0,
        ge=0,
    )
    mixture_max_silhouette_loss: float = _field(
        "Silhouette the mixture's segments may lose against KMeans's under auto.", 0.05, ge=0
    )

    @model_validator(mode="after")
    def _k_range(self) -> ModelSelection:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        return self


class Scatter(_Block):
    x: str | None = _field("Numeric column across; null: the most separating one.", None)
    y: str | None = _field("Numeric column up; null: the next most separating one.", None)
    max_points: int = _field("Customers drawn in a plot, at most (sampled).", ge=10)
    random_seed: int = _field("Seed of the plotted sample.")


class Naming(_Block):
    features: list[str] = _field("Features segments are named after; empty: all.", [])
    threshold: float = _field(
        "Standard deviations from the base a feature needs to name a segment.", ge=0
    )
    max_terms: int = _field("Features in a segment's name, at most.", ge=1)
    max_categories: int = _field(
        "Most common values kept per profile-only categorical column.", ge=1
    )
    labels: dict[str, str] = _field("Words for columns, or for one category as column=value.", {})


class Rule(_Block):
    action: str = _field("What to do with the segment.")
    why: str = _field("The reason given, naming only what the conditions test.")
    when: dict[str, str] = _field("Conditions that must all hold; empty: always (catch-all).", {})


class OutcomeThresholds(_Block):
    min_lift: float = _field(
        "Times the base rate a segment's outcome rate needs to be far above it.", gt=1
    )
    max_p_value: float = _field(
        "p-value of the two-proportion z-test below which a rate is far off.", gt=0, lt=1
    )
    min_excess: float = _field(
        "Or percentage points (as a share) a rate needs to be far above or below the base.",
        0.10,
        gt=0,
        lt=1,
    )


class Recommendations(_Block):
    outcomes: OutcomeThresholds = _field("When an outcome rate is far from the base rate.")
    rules: list[Rule] = _field(
        "Rules in order: each segment takes the action of the first that holds.", min_length=1
    )


class Targeting(_Block):
    segments: list[int] = _field("Segments exported for a campaign; empty: by priority.", [])
    top_priorities: int = _field(
        "With no segments listed, this many first segments by priority.", ge=0
    )
    max_share: float = _field(
        "A segment taking the export above this share of customers is skipped.", 0.5, gt=0, le=1
    )
    min_confidence: float = _field(
        "Customers whose confidence in their segment is below this are not exported.",
        0.0,
        ge=0,
        le=1,
    )
    min_stability: float = _field(
        "Segments whose stability (bootstrap Jaccard) is under this are flagged: ranked after "
        "every unflagged segment and not exported by priority; 0: none flagged.",
        0.6,
        ge=0,
        le=1,
    )


class Report(_Block):
    highlight_columns: list[str] = _field("Numeric columns shown on every segment's card.", [])


class Drift(_Block):
    max_psi: float = _field("Population stability index of segment shares tolerated.", ge=0)
    min_ari: float = _field("Agreement of the old and new model (adjusted Rand) needed.")
    max_centre_shift_sd: float = _field(
        "Largest move of a segment centre tolerated, in standard deviations.", ge=0
    )
    fail_on_drift: bool = _field("Fail the run, not only warn, beyond a threshold.")
    ari_sample_size: int = _field("Customers the old and new model are compared on.", ge=10)


class SegmentRules(_Block):
    """The segments as rules (``segment_analysis.rules``): a shallow decision
    tree on the model's own columns, in plain words and in SQL."""

    max_depth: int = _field(
        "Depth of the rules' tree: conditions per rule, at most 3 to stay readable.", 3, ge=1, le=3
    )
    min_leaf_share: float = _field(
        "Smallest share of the fitted customers a rule may describe.", 0.02, gt=0, lt=0.5
    )
    random_seed: int = _field("Seed of the tree (ties between equally good splits).", 42)


class SegmentAnalysis(_Block):
    sample_size: int = _field(
        "Pictures, drift and the report read a seeded sample of this many customers.", ge=10
    )
    scatter: Scatter = _field("The scatter plot of customers by segment.")
    naming: Naming = _field("Segment names, derived from profiles.")
    recommendations: Recommendations = _field("What to do with each segment.")
    targeting: Targeting = _field("Customers exported to target_customers for a campaign.")
    report: Report = _field("The HTML report.")
    drift: Drift = _field("Drift against the previous version.")
    rules: SegmentRules = Field(
        default_factory=SegmentRules,
        description="The segments as rules in plain words and SQL (segment_rules).",
    )


class Scoring(_Block):
    id_pattern: str | None = _field("Regular expression ids must match; null: any id.", None)
    max_abs_z: float = _field(
        "Standard deviations beyond the training range at which a value is rejected.", gt=0
    )
    max_reject_share: float = _field(
        "The run fails when more than this share of the batch is rejected.", ge=0, le=1
    )
    first_line: int = _field("Line of customers_to_score's first data row, for rejects.", ge=0)


class ProjectParameters(_Block):
    features: Features = _field("Column roles of the customer table.")
    customer_features: CustomerFeatures = _field(
        "From a transaction log to one row of features per customer."
    )
    data_generation: DataGeneration = _field("Synthetic customers for trying the product.")
    preprocessing: Preprocessing = _field("How the features are encoded.")
    model_selection: ModelSelection = _field("How the number of segments is chosen.")
    segment_analysis: SegmentAnalysis = _field("Profiles, names, actions, targets and drift.")
    scoring: Scoring = _field("Scoring new customers with the deployed model.")

    @model_validator(mode="after")
    def _min_rows(self) -> ProjectParameters:
        """``preprocessing.min_rows`` left null is ``model_selection.k_max``:
        a table needs as many customers as the most segments compared."""
        if self.preprocessing.min_rows is None:
            self.preprocessing.min_rows = self.model_selection.k_max
        return self


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


def validated_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` validated by ``ProjectParameters``, every default filled
    in, as plain values (lists, dicts, text and numbers); or a ``ParameterError`` listing every parameter that
    is unknown, missing, of the wrong type or out of range, each by its
    dotted key."""
    try:
        return ProjectParameters.model_validate(parameters).model_dump(mode="json")
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
