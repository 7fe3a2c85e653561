"""Segment assignment and per-segment profiles in the units marketers know."""

from __future__ import annotations

import hashlib
import logging
import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)


def model_fingerprint(segmentation_model: Pipeline) -> str:
    """A short, stable identifier of a fitted model (a hash of its segment
    centres), kept in segment_profiles so that scoring can tell whether the
    names it attaches were made for the model it uses."""
    centres = np.ascontiguousarray(segmentation_model.named_steps["kmeans"].cluster_centers_)
    return hashlib.sha256(centres.tobytes()).hexdigest()[:16]


def assign_segments(
    customers: pd.DataFrame, segmentation_model: Pipeline, features: dict
) -> pd.DataFrame:
    """Scores every customer with the fitted segmentation model (preprocessor and
    KMeans in one ``predict``) and returns the id with its segment number."""
    id_column = features["id_column"]
    segments = segmentation_model.predict(customers)
    return pd.DataFrame(
        {id_column: customers[id_column].to_numpy(), "segment": segments.astype("int64")}
    )


def _with_segments(
    customers: pd.DataFrame, customer_segments: pd.DataFrame, id_column: str
) -> pd.DataFrame:
    """Joins each customer to its segment by id; every customer must have one."""
    joined = customers.merge(
        customer_segments[[id_column, "segment"]], on=id_column, how="left", validate="one_to_one"
    )
    unassigned = joined["segment"].isna()
    if unassigned.any():
        raise ValueError(
            f"{int(unassigned.sum())} customers have no segment in customer_segments "
            f"(first {id_column}: {joined.loc[unassigned, id_column].iloc[0]}); "
            "run model_selection and segment_analysis on the same raw_customers"
        )
    return joined.astype({"segment": "int64"})


def profile_columns(features: dict) -> tuple[list[str], list[str]]:
    """Numeric and categorical columns to profile: the features, then the
    profile-only columns."""
    profile_only = features.get("profile_only") or {}
    numeric = list(dict.fromkeys([*features["numeric"], *(profile_only.get("numeric") or [])]))
    categorical = list(
        dict.fromkeys(
            [*(features.get("categorical") or {}), *(profile_only.get("categorical") or [])]
        )
    )
    return numeric, categorical


def column_label(column: str, labels: dict) -> str:
    return labels.get(column, column.replace("_", " "))


def name_segments(profiles: pd.DataFrame, naming: dict, features: dict) -> pd.Series:
    """Names each segment after the (at most ``max_terms``) naming features on
    which it differs most from the whole customer base, where that difference
    is at least ``threshold`` standard deviations: "High income, low activity".
    A segment with no such feature is "Typical customers". Names are unique:
    clashing names take further terms, and finally the segment number."""
    columns = [c for c in (naming.get("features") or features["numeric"]) if f"{c}_z" in profiles]
    labels = naming.get("labels") or {}
    names = {}
    for segment, row in profiles.set_index("segment").iterrows():
        z = row[[f"{c}_z" for c in columns]].astype(float)
        z.index = columns
        ranked = z[z.abs() >= naming["threshold"]].abs().sort_values(ascending=False).index
        terms = [f"{'high' if z[c] > 0 else 'low'} {column_label(c, labels)}" for c in ranked]
        names[segment] = terms

    def sentence(parts: list[str]) -> str:
        text = ", ".join(parts) or "typical customers"
        return text[0].upper() + text[1:]

    chosen: dict[int, str] = {}
    for segment, terms in names.items():
        count = naming["max_terms"]
        name = sentence(terms[:count])
        while name in chosen.values() and count < len(terms):
            count += 1
            name = sentence(terms[:count])
        if name in chosen.values():
            name = f"{name} (segment {segment})"
        chosen[segment] = name
    return pd.Series(chosen, name="name")


def profile_segments(
    customers: pd.DataFrame,
    customer_segments: pd.DataFrame,
    segmentation_model: Pipeline,
    features: dict,
    naming: dict,
) -> pd.DataFrame:
    """Describes each segment: its name, size and share of customers; the mean
    (under the column's own name), median and z-score (difference of the mean
    from the whole customer base, in standard deviations) of every numeric
    feature and profile-only column in original units; and the mix of every
    categorical column (share of the segment in each category; profile-only
    columns keep their ``max_categories`` most common values, the rest is
    "other"), with the fingerprint of the model that made the segments."""
    id_column = features["id_column"]
    numeric, categorical = profile_columns(features)
    segmented = _with_segments(
        customers[[id_column, *numeric, *categorical]], customer_segments, id_column
    )
    grouped = segmented.groupby("segment")
    profile = pd.DataFrame({"customers": grouped.size()})
    profile["share"] = profile["customers"] / len(segmented)
    means = grouped[numeric].mean()
    spread = segmented[numeric].std(ddof=0).replace(0, float("nan"))
    z_scores = ((means - segmented[numeric].mean()) / spread).fillna(0.0)
    profile = profile.join(means).join(grouped[numeric].median().add_suffix("_median"))
    profile = profile.join(z_scores.add_suffix("_z"))
    fixed = features.get("categorical") or {}
    for column in categorical:
        values = segmented[column].astype("object").fillna("missing")
        if column in fixed:
            categories = list(fixed[column])
        else:
            categories = values.value_counts().index[: naming["max_categories"]].tolist()
            values = values.where(values.isin(categories), "other")
            categories += ["other"] if (values == "other").any() else []
        mix = pd.crosstab(segmented["segment"], values, normalize="index")
        mix = mix.reindex(columns=categories, fill_value=0.0)
        profile = profile.join(mix.add_prefix(f"{column}=").rename_axis(columns=None))
    profile = profile.reset_index()
    profile.insert(1, "name", profile["segment"].map(name_segments(profile, naming, features)))
    profile["model_fingerprint"] = model_fingerprint(segmentation_model)
    return profile


_OPERATORS = {">=": float.__ge__, "<=": float.__le__, ">": float.__gt__, "<": float.__lt__}


def _condition(text: str) -> tuple[str, float]:
    for symbol in (">=", "<=", ">", "<"):
        if str(text).strip().startswith(symbol):
            return symbol, float(str(text).strip()[len(symbol) :])
    raise ValueError(
        f"segment_analysis.recommendations rule condition '{text}' must be an operator "
        "(>=, <=, >, <) and a number of standard deviations, for example '>= 0.5'"
    )


def _value_scores(profiles: pd.DataFrame, weights: dict, features: dict) -> pd.Series:
    """Customer value of each segment: the weighted sum of its z-scores on the
    value columns present in the data (all numeric features, equally, when none is)."""
    present = {c: w for c, w in weights.items() if f"{c}_z" in profiles}
    if not present:
        logger.warning(
            "None of the value columns %s is in the data; customer value is the mean "
            "z-score of all numeric features",
            list(weights),
        )
        present = {c: 1.0 / len(features["numeric"]) for c in features["numeric"]}
    return sum(profiles[f"{c}_z"] * w for c, w in present.items())


def recommend_actions(
    segment_profiles: pd.DataFrame, recommendations: dict, features: dict, naming: dict
) -> pd.DataFrame:
    """Ranks segments by customer value (``priority`` 1 = most valuable to act
    on) and gives each the action of the first rule whose conditions it meets,
    with the reason in one sentence. Conditions compare the segment's z-score
    on a column, or its ``value``, with a number of standard deviations; a rule
    that names a column the data lacks never matches."""
    profiles = segment_profiles.copy()
    profiles["value"] = _value_scores(profiles, recommendations["value_weights"], features)
    labels = naming.get("labels") or {}
    rows = []
    for _, segment in profiles.iterrows():
        for rule in recommendations["rules"]:
            conditions = rule.get("when") or {}
            details, matched = [], True
            for column, text in conditions.items():
                symbol, threshold = _condition(text)
                key = "value" if column == "value" else f"{column}_z"
                if key not in segment or not _OPERATORS[symbol](float(segment[key]), threshold):
                    matched = False
                    break
                label = "customer value" if column == "value" else column_label(column, labels)
                details.append(f"{label} {float(segment[key]):+.1f} SD")
            if matched:
                break
        else:
            raise ValueError(
                f"No segment_analysis.recommendations rule matches segment {segment['segment']}; "
                "end the rules with one that has no conditions (when: {})"
            )
        evidence = ", ".join(details) or f"customer value {segment['value']:+.1f} SD"
        rows.append(
            {
                "segment": int(segment["segment"]),
                "name": segment["name"],
                "customers": int(segment["customers"]),
                "share": float(segment["share"]),
                "value": float(segment["value"]),
                "action": rule["action"],
                "reason": f"{rule['why']} ({evidence} against all customers).",
            }
        )
    table = pd.DataFrame(rows)
    table["priority"] = table["value"].rank(ascending=False, method="first").astype(int)
    columns = ["priority", "segment", "name", "customers", "share", "value", "action", "reason"]
    return table[columns].sort_values("priority").reset_index(drop=True)


def select_target_customers(
    customer_segments: pd.DataFrame,
    segment_recommendations: pd.DataFrame,
    features: dict,
    targeting: dict,
) -> pd.DataFrame:
    """The customers of the segments chosen for a campaign, one row each, ready
    for a CRM upload: the segments listed in ``segments`` or, when that is
    empty, those with ``priority`` up to ``top_priorities``."""
    id_column = features["id_column"]
    chosen = (
        targeting.get("segments")
        or segment_recommendations.loc[
            segment_recommendations["priority"] <= targeting["top_priorities"], "segment"
        ].tolist()
    )
    unknown = set(chosen) - set(segment_recommendations["segment"])
    if unknown:
        raise ValueError(
            f"segment_analysis.targeting.segments names {sorted(unknown)}, which are not "
            f"segments of this run (0 to {len(segment_recommendations) - 1})"
        )
    details = segment_recommendations.set_index("segment")[["name", "action", "priority"]]
    targets = customer_segments[customer_segments["segment"].isin(chosen)]
    targets = targets.join(details, on="segment").rename(columns={"name": "segment_name"})
    logger.info("target_customers: %d customers of segments %s", len(targets), sorted(chosen))
    return targets[[id_column, "segment", "segment_name", "action", "priority"]].reset_index(
        drop=True
    )


def _plot_axes(customers: pd.DataFrame, features: dict, scatter: dict) -> tuple[str, str]:
    """The configured axes, or the first two numeric features when the data
    lacks them (a user's own data need not have income or order value)."""
    wanted = [scatter["x"], scatter["y"]]
    if all(column in customers.columns for column in wanted):
        return scatter["x"], scatter["y"]
    numeric = list(features["numeric"])
    fallback = (numeric + numeric)[:2]
    logger.warning(
        "segment_analysis.scatter axes %s are not in the data; plotting %s instead",
        wanted,
        fallback,
    )
    return fallback[0], fallback[1]


def plot_segment_scatter(
    customers: pd.DataFrame,
    customer_segments: pd.DataFrame,
    features: dict,
    scatter: dict,
) -> Figure:
    """Scatter of two features in original units (by default annual income
    against average order value) coloured by segment; at most ``max_points``
    customers, sampled with ``random_seed``, are drawn so large runs stay fast."""
    x, y = _plot_axes(customers, features, scatter)
    segmented = _with_segments(
        customers[list(dict.fromkeys([features["id_column"], x, y]))],
        customer_segments,
        features["id_column"],
    )
    if len(segmented) > scatter["max_points"]:
        segmented = segmented.sample(scatter["max_points"], random_state=scatter["random_seed"])
    figure = Figure(figsize=(8, 6), layout="constrained")
    axes = figure.subplots()
    sizes = customer_segments["segment"].value_counts()
    for segment, members in segmented.groupby("segment"):
        axes.scatter(
            members[x],
            members[y],
            s=12,
            alpha=0.6,
            label=f"{segment} ({sizes[segment]:,} customers)",
        )
    outside = 0
    for column, set_limits in ((x, axes.set_xlim), (y, axes.set_ylim)):
        first, third = segmented[column].quantile([0.25, 0.75])
        low = max(first - 3 * (third - first), segmented[column].min())
        high = min(third + 3 * (third - first), segmented[column].max())
        outside_column = ~segmented[column].between(low, high) & segmented[column].notna()
        if outside_column.any() and high > low:
            # A few extreme values (an income of 666,666, say) would squash everyone else.
            margin = 0.05 * (high - low)
            set_limits(low - margin, high + margin)
            outside += int(outside_column.sum())
    axes.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.set_xlabel(x.replace("_", " "))
    axes.set_ylabel(y.replace("_", " "))
    title = f"Segments by {x.replace('_', ' ')} and {y.replace('_', ' ')}"
    if len(segmented) < len(customer_segments):
        title += f" ({len(segmented):,} of {len(customer_segments):,} customers shown)"
    if outside:
        noun = "value" if outside == 1 else "values"
        title += f"\n{outside:,} extreme {noun} beyond the axes (over 3 IQR from the quartiles)"
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(title="segment", markerscale=2)
    return figure


def plot_segment_sizes(segment_profiles: pd.DataFrame) -> Figure:
    """Customers per segment, with each segment's share of the base."""
    profiles = segment_profiles.sort_values("customers")
    figure = Figure(figsize=(8, 0.6 * len(profiles) + 1.5), layout="constrained")
    axes = figure.subplots()
    bars = axes.barh(
        [f"{row.segment}: {row.name}" for row in profiles.itertuples()],
        profiles["customers"],
        color=[f"C{segment % 10}" for segment in profiles["segment"]],
    )
    axes.bar_label(
        bars,
        labels=[f"{row.customers:,} ({row.share:.0%})" for row in profiles.itertuples()],
        padding=3,
    )
    axes.set_xlim(0, profiles["customers"].max() * 1.25)
    axes.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.set_xlabel("customers")
    axes.set_title("Segment sizes")
    axes.grid(axis="x", alpha=0.3)
    return figure


def plot_profile_heatmap(segment_profiles: pd.DataFrame, features: dict, naming: dict) -> Figure:
    """How each segment (a column) differs from the whole customer base on
    every numeric column (a row): the difference of its mean in standard
    deviations (z-score), red above and blue below the base."""
    numeric, _ = profile_columns(features)
    z = segment_profiles.set_index("segment")[[f"{c}_z" for c in numeric]].to_numpy(float).T
    labels = naming.get("labels") or {}
    figure = Figure(
        figsize=(4 + 1.9 * len(segment_profiles), 2.2 + 0.42 * len(numeric)),
        layout="constrained",
    )
    axes = figure.subplots()
    limit = max(1.0, float(abs(z).max()))
    image = axes.imshow(z, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    axes.set_yticks(range(len(numeric)), [column_label(c, labels) for c in numeric])
    axes.set_xticks(
        range(len(segment_profiles)),
        [textwrap.fill(f"{row.segment}: {row.name}", 18) for row in segment_profiles.itertuples()],
        fontsize="small",
    )
    axes.xaxis.tick_top()
    for (row, column), value in np.ndenumerate(z):
        axes.text(
            column,
            row,
            f"{value:+.1f}",
            ha="center",
            va="center",
            color="white" if abs(value) > 0.6 * limit else "black",
            fontsize="small",
        )
    figure.colorbar(image, ax=axes, label="difference from all customers (SD)", shrink=0.8)
    axes.set_xlabel("Segment profiles: each column's mean against the whole customer base")
    return figure


def plot_segment_map(
    customers: pd.DataFrame,
    customer_segments: pd.DataFrame,
    segmentation_model: Pipeline,
    features: dict,
    scatter: dict,
) -> Figure:
    """All customers (at most ``max_points``, sampled) on the first two
    principal components of the model's encoded features, coloured by
    segment: a map of how the segments sit relative to one another."""
    segmented = _with_segments(customers, customer_segments, features["id_column"])
    if len(segmented) > scatter["max_points"]:
        segmented = segmented.sample(scatter["max_points"], random_state=scatter["random_seed"])
    encoded = segmentation_model.named_steps["preprocessor"].transform(segmented)
    pca = PCA(n_components=2, random_state=scatter["random_seed"]).fit(encoded)
    points = pca.transform(encoded)
    centres = pca.transform(
        pd.DataFrame(
            segmentation_model.named_steps["kmeans"].cluster_centers_, columns=encoded.columns
        )
    )
    figure = Figure(figsize=(8, 6), layout="constrained")
    axes = figure.subplots()
    for segment in sorted(segmented["segment"].unique()):
        members = (segmented["segment"] == segment).to_numpy()
        axes.scatter(
            points[members, 0],
            points[members, 1],
            s=10,
            alpha=0.5,
            color=f"C{segment % 10}",
            label=f"segment {segment}",
        )
        axes.annotate(
            str(segment),
            centres[segment],
            ha="center",
            va="center",
            fontsize=14,
            fontweight="bold",
            bbox={"boxstyle": "circle", "fc": "white", "ec": f"C{segment % 10}"},
        )
    ratio = pca.explained_variance_ratio_
    axes.set_xlabel(f"first principal component ({ratio[0]:.0%} of the variance)")
    axes.set_ylabel(f"second principal component ({ratio[1]:.0%} of the variance)")
    shown = (
        f"{len(segmented):,} of {len(customer_segments):,} customers"
        if len(segmented) < len(customer_segments)
        else f"{len(segmented):,} customers"
    )
    axes.set_title(f"Map of the segments ({shown}; numbers mark segment centres)")
    axes.grid(alpha=0.3)
    axes.legend(markerscale=2, fontsize="small")
    return figure


class DriftError(RuntimeError):
    """The segmentation moved more than the drift thresholds allow."""


def _population_stability(new: np.ndarray, old: np.ndarray) -> float:
    """Population stability index of two share vectors (0: identical; above
    0.25 is usually read as a major shift)."""
    new, old = np.clip(new, 1e-4, None), np.clip(old, 1e-4, None)
    return float(np.sum((new - old) * np.log(new / old)))


def measure_drift(
    customers: pd.DataFrame,
    segmentation_model: Pipeline,
    segment_profiles: pd.DataFrame,
    previous_segmentation_model: Pipeline | None,
    previous_segment_profiles: pd.DataFrame | None,
    features: dict,
    drift: dict,
) -> dict:
    """Compares this run's segmentation with the previous version: segments
    are matched by their profiles (means in standard deviations of the current
    customers); then the shift of segment shares (population stability index),
    the movement of each segment centre in original units, and the agreement
    (adjusted Rand index) of the old and new model on the current customers.
    Beyond the thresholds it warns, and with ``fail_on_drift`` it fails the run
    so that a scheduler can alert."""
    if previous_segmentation_model is None or previous_segment_profiles is None:
        logger.info("No previous segmentation to compare with: first run")
        return {"previous_version": None, "drifted": False}
    numeric = [c for c in features["numeric"] if c in previous_segment_profiles]
    spread = customers[numeric].std(ddof=0).replace(0, 1.0)
    new = segment_profiles.set_index("segment")
    old = previous_segment_profiles.set_index("segment")
    cost = np.linalg.norm(
        (new[numeric].to_numpy()[:, None, :] - old[numeric].to_numpy()[None, :, :])
        / spread.to_numpy(),
        axis=2,
    )
    rows, columns = linear_sum_assignment(cost)
    matches = {int(new.index[r]): int(old.index[c]) for r, c in zip(rows, columns)}
    new_shares = new["share"].to_numpy()
    old_shares = np.array(
        [old.loc[matches[s], "share"] if s in matches else 0.0 for s in new.index]
    )
    psi = _population_stability(new_shares, old_shares)
    segments = []
    for segment, previous in matches.items():
        shift = new.loc[segment, numeric] - old.loc[previous, numeric]
        segments.append(
            {
                "segment": segment,
                "previous_segment": previous,
                "share": float(new.loc[segment, "share"]),
                "previous_share": float(old.loc[previous, "share"]),
                "centre_shift": {c: round(float(v), 4) for c, v in shift.items()},
                "centre_shift_sd": float((shift.abs() / spread).max()),
            }
        )
    max_shift = max((s["centre_shift_sd"] for s in segments), default=0.0)
    try:
        ari = float(
            adjusted_rand_score(
                previous_segmentation_model.predict(customers),
                segmentation_model.predict(customers),
            )
        )
    except (KeyError, ValueError) as error:  # the feature columns changed
        logger.warning("The previous model cannot score the current customers: %s", error)
        ari = None
    breaches = []
    if psi > drift["max_psi"]:
        breaches.append(f"segment shares shifted (PSI {psi:.3f} > {drift['max_psi']})")
    if ari is None or ari < drift["min_ari"]:
        breaches.append(f"old and new models disagree (ARI {ari} < {drift['min_ari']})")
    if max_shift > drift["max_centre_shift_sd"]:
        breaches.append(
            f"a segment centre moved {max_shift:.2f} SD (> {drift['max_centre_shift_sd']})"
        )
    report = {
        "previous_version": previous_segment_profiles.attrs.get("kedro_version"),
        "model_version": getattr(segmentation_model, "kedro_version_", None),
        "previous_model_version": getattr(previous_segmentation_model, "kedro_version_", None),
        "segments_before": len(old),
        "segments_now": len(new),
        "psi": psi,
        "ari": ari,
        "max_centre_shift_sd": max_shift,
        "thresholds": {k: drift[k] for k in ("max_psi", "min_ari", "max_centre_shift_sd")},
        "drifted": bool(breaches),
        "breaches": breaches,
        "segments": segments,
    }
    if breaches:
        message = "Segmentation drift since the previous version: " + "; ".join(breaches)
        if drift["fail_on_drift"]:
            raise DriftError(message)
        logger.warning(message)
    return report
