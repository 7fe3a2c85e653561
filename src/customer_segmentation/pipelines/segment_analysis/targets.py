"""Which segments' customers are exported to ``target_customers``, and why:
decided on the recommendations (``choose_targets``) and read back by both
engines' export node (``targeted_segments``). A leaf module: it imports
neither engine."""

from __future__ import annotations

import logging

import pandas as pd

from customer_segmentation.errors import UserError

from .names import percent

logger = logging.getLogger(__name__)


class RecommendationError(UserError, ValueError):
    """A recommendation rule or a targeting setting that cannot be applied."""


def _listed_segments(table: pd.DataFrame, targeting: dict) -> list[int]:
    """The segments ``targeting.segments`` lists, each one of this run's."""
    listed = [int(s) for s in targeting.get("segments") or []]
    unknown = sorted(set(listed) - set(table["segment"]))
    if unknown:
        raise RecommendationError(
            f"segment_analysis.targeting.segments names {unknown}, which are not segments of "
            f"this run (0 to {len(table) - 1})"
        )
    return listed


def choose_targets(table: pd.DataFrame, targeting: dict) -> tuple[list[bool], list[str]]:
    """Which segments of ``table`` (in priority order) are exported to
    ``target_customers``, and why or why not, in one sentence each: those
    listed in ``targeting.segments``, or else the first ``top_priorities``
    whose action rests on evidence; in both cases a segment that would take
    the export above ``max_share`` of all customers is skipped."""
    listed = _listed_segments(table, targeting)
    cap = float(targeting.get("max_share", 0.5))
    top = int(targeting["top_priorities"])
    exported, chosen, targeted, texts = 0.0, 0, [], []
    for row in table.itertuples():
        if listed and row.segment not in listed:
            refusal = "Not exported: not listed in targeting.segments."
        elif not listed and not row.evidence:
            refusal = "Not exported: its action rests on no evidence in the data."
        elif not listed and chosen >= top:
            refusal = (
                f"Not exported: the targeting.top_priorities ({top}) segments with evidence "
                "are already exported."
            )
        elif exported + row.share > cap + 1e-9:
            refusal = (
                f"Not exported: its {percent(row.share)} of customers would take the export "
                f"to {percent(exported + row.share)}, above targeting.max_share "
                f"({percent(cap)})."
            )
        else:
            refusal = None
        targeted.append(refusal is None)
        if refusal is not None:
            texts.append(refusal)
            continue
        exported += row.share
        chosen += 1
        texts.append(
            "Exported: listed in targeting.segments."
            if listed
            else f"Exported: priority {row.priority}, with evidence ({percent(row.share)} of "
            "customers)."
        )
    return targeted, texts


def targeted_segments(segment_recommendations: pd.DataFrame) -> tuple[list, pd.DataFrame]:
    """The segments ``recommend_actions`` marked ``targeted``, and every
    segment's name, action and priority (indexed by segment); logs why each
    segment is, or is not, exported."""
    recommendations = segment_recommendations.set_index("segment")
    chosen = recommendations.index[recommendations["targeted"].astype(bool)].tolist()
    why = "; ".join(
        f"segment {segment}: {str(text).rstrip('.')}"
        for segment, text in recommendations["targeting"].items()
    )
    if chosen:
        logger.info("target_customers: the customers of segments %s (%s)", chosen, why)
    else:
        logger.warning("target_customers is empty: no segment is exported (%s)", why)
    return chosen, recommendations[["name", "action", "priority"]]
