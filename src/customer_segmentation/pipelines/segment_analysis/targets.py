"""Which segments' customers are exported to ``target_customers``, and why:
decided on the recommendations (``choose_targets``) and read back by both
engines' export node (``targeted_segments``). A leaf module: it imports
neither engine."""

from __future__ import annotations

import logging
import math

import pandas as pd

from customer_segmentation.errors import UserError

from .names import percent

logger = logging.getLogger(__name__)

# Decimals a share may need to stay on its side of targeting.max_share, and
# how close to the cap a share counts as on it (float noise of summed shares).
_MAX_DECIMALS, _SAME = 6, 1e-9


class RecommendationError(UserError, ValueError):
    """A recommendation rule or a targeting setting that cannot be applied."""


def _listed_segments(table: pd.DataFrame, targeting: dict) -> list[int]:
    """The segments ``targeting.segments`` lists, each one of this run's."""
    listed = [int(s) for s in targeting["segments"]]
    unknown = sorted(set(listed) - set(table["segment"]))
    if unknown:
        raise RecommendationError(
            f"segment_analysis.targeting.segments names {unknown}, which are not segments of "
            f"this run (0 to {len(table) - 1})"
        )
    return listed


def stability_number(stability: float) -> str:
    """A segment's stability (bootstrap Jaccard) as text: two decimals,
    rounded down, so that the number shown is never across a threshold of
    two decimals from the number compared (0.599 reads 0.59, not 0.60)."""
    return f"{math.floor(stability * 100) / 100:.2f}"


def share_against_cap(share: float, cap: float) -> str:
    """A share of customers in a targeting sentence: as ``percent`` shows
    it, with as many more decimals as it takes for the number shown to sit
    on the same side of ``cap`` as the share itself, so that 50.4% never
    reads "50%" next to a 50% cap it is refused for crossing."""
    side = _side(share, cap)
    text = percent(share)
    for decimals in range(1, _MAX_DECIMALS + 1):
        if _side(float(text.rstrip("%")) / 100, cap) == side:
            break
        text = f"{share:.{decimals}%}"
    return text


def _side(share: float, cap: float) -> int:
    """-1 under ``cap``, 0 on it (within float noise), 1 over it."""
    return 0 if abs(share - cap) <= _SAME else (1 if share > cap else -1)


def cap_text(cap: float) -> str:
    """``targeting.max_share`` as a percent, exactly as set (0.5: "50%",
    0.125: "12.5%"): a rounded cap could contradict the shares next to it."""
    return f"{round(cap * 100, _MAX_DECIMALS):g}%"


def _unstable(row, min_stability: float) -> str:
    """Why an unstable segment is held back, with its number and the threshold."""
    return (
        f"it comes back on resampled customers at only {stability_number(row.stability)}, "
        f"under targeting.min_stability ({min_stability:g}), and may not hold up"
    )


def choose_targets(table: pd.DataFrame, targeting: dict) -> tuple[list[bool], list[str]]:
    """Which segments of ``table`` (in priority order) are exported to
    ``target_customers``, and why or why not, in one sentence each: those
    listed in ``targeting.segments``, or else the first ``top_priorities``
    whose action rests on evidence and that are not ``unstable`` (under
    ``min_stability``: such a segment is exported only when listed); in both
    cases a segment that would take the export above ``max_share`` of all
    customers is skipped."""
    listed = _listed_segments(table, targeting)
    cap = float(targeting["max_share"])
    top = int(targeting["top_priorities"])
    min_stability = float(targeting["min_stability"])
    exported, chosen, targeted, texts = 0.0, 0, [], []
    for row in table.itertuples():
        if listed and row.segment not in listed:
            refusal = "Not exported: not listed in targeting.segments."
        elif not listed and not row.evidence:
            refusal = "Not exported: its action rests on no evidence in the data."
        elif not listed and row.unstable:
            refusal = (
                f"Not exported: unstable, so not exported first: {_unstable(row, min_stability)} "
                "(list it in targeting.segments to export it anyway)."
            )
        elif not listed and chosen >= top:
            refusal = (
                f"Not exported: the targeting.top_priorities ({top}) segments with evidence "
                "are already exported."
            )
        elif exported + row.share > cap + _SAME:
            refusal = (
                f"Not exported: its {share_against_cap(row.share, cap)} of customers would "
                f"take the export to {share_against_cap(exported + row.share, cap)}, above "
                f"targeting.max_share ({cap_text(cap)})."
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
            f"Exported: listed in targeting.segments, though unstable: "
            f"{_unstable(row, min_stability)}; check it before a campaign."
            if listed and row.unstable
            else "Exported: listed in targeting.segments."
            if listed
            else f"Exported: priority {row.priority}, with evidence "
            f"({share_against_cap(row.share, cap)} of customers)."
        )
    return targeted, texts


def target_columns(id_column: str) -> list[str]:
    """The columns of ``target_customers``, in order."""
    return [id_column, "segment", "confidence", "segment_name", "action", "priority"]


def confident(confidence: pd.Series, min_confidence: float) -> pd.Series:
    """Which customers are confident enough in their segment to be exported:
    a confidence (membership probability) of at least
    ``targeting.min_confidence``; at 0 every customer, a customer without a
    confidence (a model saved before confidences) included. Logs how many
    are left out."""
    if min_confidence <= 0:
        return pd.Series(True, index=confidence.index)
    kept = confidence >= min_confidence
    if (~kept).any():
        logger.info(
            "target_customers: %d customers of the targeted segments left out, their "
            "confidence under targeting.min_confidence %.2f",
            int((~kept).sum()),
            min_confidence,
        )
    return kept


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
