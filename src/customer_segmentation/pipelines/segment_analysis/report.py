"""The self-contained HTML segment report (images embedded), for marketers."""

from __future__ import annotations

import base64
import io

import pandas as pd
from jinja2 import Environment, select_autoescape
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from sklearn.pipeline import Pipeline

from .nodes import (
    column_label,
    plot_profile_heatmap,
    plot_segment_map,
    plot_segment_scatter,
    plot_segment_sizes,
    profile_columns,
)

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Customer segments</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
.warning { background: #fff4e5; border-left: 5px solid #f0a020; padding: 0.6em 1em; margin: 0.6em 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 1em; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: 0.8em 1em; border-top: 6px solid var(--colour); }
.card h3 { margin: 0.1em 0 0.3em; font-size: 1.1em; }
.card table { width: 100%; } .card th, .card td { padding: 0.2em 0.3em; }
.action { font-weight: 600; } .muted { color: #666; font-size: 0.92em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.selected { background: #eef6ff; font-weight: 600; }
</style></head><body>
<h1>Customer segments</h1>
<p class="muted">{{ "{:,}".format(total) }} customers in {{ k }} segments.</p>
{% for warning in warnings %}<div class="warning">{{ warning }}</div>{% endfor %}

<h2>Why {{ k }} segments</h2>
<p>{{ why }}</p>
<table><tr><th>k</th>{% for c in score_columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in scores %}<tr class="{{ 'selected' if row.k == k else '' }}"><td>{{ row.k }}</td>
{% for c in score_keys %}<td>{{ row[c] }}</td>{% endfor %}</tr>{% endfor %}</table>

<h2>Segments and what to do</h2>
<div class="cards">
{% for card in cards %}<div class="card" style="--colour: {{ card.colour }}">
<h3>{{ card.priority }}. {{ card.name }}</h3>
<div class="muted">Segment {{ card.segment }} · {{ "{:,}".format(card.customers) }} customers ({{ card.share }})</div>
<p><span class="action">{{ card.action }}</span><br>{{ card.reason }}</p>
<table><tr><th></th><th>segment mean</th><th>all customers</th><th>SD</th></tr>
{% for item in card.profile %}<tr><td>{{ item.label }}</td><td>{{ item.mean }}</td><td>{{ item.overall }}</td><td>{{ item.z }}</td></tr>{% endfor %}</table>
{% if card.mix %}<p class="muted">{{ card.mix }}</p>{% endif %}
</div>{% endfor %}
</div>

<h2>Pictures</h2>
{% for picture in pictures %}<h3>{{ picture.title }}</h3><p class="muted">{{ picture.caption }}</p>
<img alt="{{ picture.title }}" src="data:image/png;base64,{{ picture.data }}">{% endfor %}
</body></html>
"""


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _format(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def _warnings(metrics: dict) -> list[str]:
    """The model-selection findings a reader must not miss."""
    warnings = []
    structure = metrics.get("structure") or {}
    if metrics.get("clear_structure") is False:
        warnings.append(
            "No clear segment structure: the best silhouette "
            f"({structure.get('best_silhouette', float('nan')):.2f}) is hardly better than "
            f"on structure-free data ({structure.get('reference_silhouette', float('nan')):.2f}). "
            "The segments are useful cuts of a continuum, not separate groups of customers."
        )
    if metrics.get("selected_k_stable") is False:
        warnings.append(
            f"k = {metrics['selected_k']} is unstable: refits on resampled customers give "
            "different segments. Treat segment boundaries with caution."
        )
    share = (metrics.get("feature_separation") or {}).get("categorical_share")
    if share is not None and share > 0.5:
        warnings.append(
            f"Categorical columns carry {share:.0%} of what separates the segments, so the "
            "segments mostly follow categories (consider preprocessing.categorical_weight < 1)."
        )
    return warnings


def _why(metrics: dict) -> str:
    choices = metrics.get("choice_per_criterion") or {}
    agreeing = sorted(c for c, k in choices.items() if k == metrics["selected_k"])
    text = (
        f"k = {metrics['selected_k']} was chosen by the '{metrics['criterion']}' rule "
        "(the best silhouette among the k whose segments come back on resampled customers)"
        if metrics["criterion"] == "consensus"
        else f"k = {metrics['selected_k']} was chosen by the '{metrics['criterion']}' criterion"
    )
    if agreeing:
        text += f"; {', '.join(agreeing)} also point to it"
    others = {c: k for c, k in choices.items() if k not in (None, metrics["selected_k"])}
    if others:
        text += "; " + ", ".join(f"{c} prefers k = {k}" for c, k in sorted(others.items()))
    return text + "."


def build_segment_report(
    segment_profiles: pd.DataFrame,
    segment_recommendations: pd.DataFrame,
    model_selection_metrics: dict,
    customers: pd.DataFrame,
    customer_segments: pd.DataFrame,
    segmentation_model: Pipeline,
    features: dict,
    segment_analysis: dict,
) -> str:
    """One self-contained HTML page a marketer can open from an email: the
    chosen k and why, any model-selection warning, a card per segment (name,
    size, action, reason, and its profile against the whole base: the five
    features it differs most on, the three most different profile-only
    columns and every ``report.highlight_columns``) and the pictures,
    embedded as PNG. The pictures are drawn again here from the same tables,
    as the PNG datasets cannot be read back."""
    numeric, categorical = profile_columns(features)
    labels = segment_analysis["naming"].get("labels") or {}
    overall = customers[numeric].mean()
    cards = []
    profiles = segment_profiles.set_index("segment")
    for recommendation in segment_recommendations.itertuples():
        row = profiles.loc[recommendation.segment]
        profile_only = set((features.get("profile_only") or {}).get("numeric") or [])
        highlighted = [c for c in segment_analysis["report"]["highlight_columns"] if c in numeric]
        by_size = sorted(numeric, key=lambda c: -abs(row[f"{c}_z"]))
        shown = [c for c in by_size if c not in profile_only][:5]
        shown += [c for c in by_size if c in profile_only and c not in highlighted][:3]
        shown += [c for c in highlighted if c not in shown]
        mix = []
        for column in categorical:
            shares = row[[c for c in profiles.columns if c.startswith(f"{column}=")]]
            top = shares.astype(float).idxmax()
            mix.append(
                f"{column_label(column, labels)}: mostly {top.split('=', 1)[1]} ({shares[top]:.0%})"
            )
        cards.append(
            {
                "priority": recommendation.priority,
                "segment": recommendation.segment,
                "name": recommendation.name,
                "customers": recommendation.customers,
                "share": f"{recommendation.share:.0%}",
                "action": recommendation.action[0].upper() + recommendation.action[1:],
                "reason": recommendation.reason,
                "colour": _colour(recommendation.segment),
                "profile": [
                    {
                        "label": column_label(c, labels),
                        "mean": _format(row[c]),
                        "overall": _format(overall[c]),
                        "z": f"{row[f'{c}_z']:+.1f}",
                    }
                    for c in shown
                ],
                "mix": "; ".join(mix),
            }
        )
    score_keys = [
        key
        for key in ("silhouette", "calinski_harabasz", "davies_bouldin", "stability_mean")
        if key in model_selection_metrics["scores"][0]
    ]
    scores = [
        {"k": row["k"], **{key: f"{row[key]:,.2f}" for key in score_keys}}
        for row in model_selection_metrics["scores"]
    ]
    scatter = segment_analysis["scatter"]
    pictures = [
        ("Segment sizes", "Customers in each segment.", plot_segment_sizes(segment_profiles)),
        (
            "Segment profiles",
            "Red: above the whole customer base; blue: below; numbers are standard deviations.",
            plot_profile_heatmap(segment_profiles, features, segment_analysis["naming"]),
        ),
        (
            "Map of the segments",
            "Customers on the two directions that spread them most; close segments are similar.",
            plot_segment_map(customers, customer_segments, segmentation_model, features, scatter),
        ),
        (
            "Two features in original units",
            "Segments overlap here because they differ in all features at once.",
            plot_segment_scatter(customers, customer_segments, features, scatter),
        ),
    ]
    environment = Environment(autoescape=select_autoescape(default=True))
    return environment.from_string(_TEMPLATE).render(
        total=len(customer_segments),
        k=model_selection_metrics["selected_k"],
        warnings=_warnings(model_selection_metrics),
        why=_why(model_selection_metrics),
        score_columns=[key.replace("_", " ") for key in score_keys],
        score_keys=score_keys,
        scores=scores,
        cards=cards,
        pictures=[
            {"title": title, "caption": caption, "data": _png(figure)}
            for title, caption, figure in pictures
        ],
    )


def _colour(segment: int) -> str:
    """The hex colour the plots give the segment (matplotlib's "C0", "C1", ...)."""
    return to_hex(f"C{segment % 10}")
