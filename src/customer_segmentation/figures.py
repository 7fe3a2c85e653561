"""How every picture and the report write their numbers and words, so that
a marketer can trust what they read: tick labels with as many decimals as
the ticks need (a 0-1 share never reads 0, 0, 0, 1, 1), shares as percents,
titles and labels wrapped to the figure instead of cut at its edges; in the
report's tables and cards, numbers with thousands separated, years without,
0/1 flags as percents and a dash for a missing number; and one colour per
segment everywhere (``segment_colour``)."""

from __future__ import annotations

import math
import re
import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import Formatter

# The widest a character of the default sans-serif font is on average, in
# font sizes: wrapping at this width keeps a line inside its box.
_CHARACTER_WIDTH = 0.6
_MAX_DECIMALS = 6


def decimals_for(values: np.ndarray) -> int:
    """The fewest decimals that write every value of ``values`` exactly
    (tick positions are round numbers: 0.25 needs two, 1500 none)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    for decimals in range(_MAX_DECIMALS + 1):
        scaled = values * 10**decimals
        if np.allclose(scaled, np.round(scaled), rtol=0, atol=1e-6 * max(1.0, *abs(scaled))):
            return decimals
    return _MAX_DECIMALS


class ReadableNumbers(Formatter):
    """Tick labels in plain numbers with thousands separators and the
    decimals the ticks need (0.2, 0.4, ...; 1,500; never a rounded 0, 0, 1
    nor an offset or a power of ten at the axis's end); with ``percent``,
    a 0-1 share as a percent (20%, 22.5%)."""

    def __init__(self, percent: bool = False) -> None:
        self.percent = percent
        self.ticks: list[float] = []

    def set_locs(self, locs) -> None:
        """Keeps the tick positions: their spacing sets the decimals."""
        self.ticks = list(locs)

    def __call__(self, x: float, pos: int | None = None) -> str:
        scale = 100 if self.percent else 1
        ticks = np.asarray(self.ticks or [x], float) * scale
        decimals = decimals_for(ticks)
        value = x * scale
        text = f"{0.0 if abs(value) < 0.5 * 10**-decimals else value:,.{decimals}f}"
        return text + ("%" if self.percent else "")


def is_share(values) -> bool:
    """Whether a column reads best as a percent: fractions between 0 and 1
    (not only whole 0/1 flags)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return (
        len(values) > 0
        and values.min() >= 0
        and values.max() <= 1
        and not np.array_equal(values, np.round(values))
    )


def _characters(width_inches: float, fontsize: float) -> int:
    return max(20, math.floor(width_inches * 72 / (fontsize * _CHARACTER_WIDTH)))


def wrap_to(text: str, width_inches: float, fontsize: str | float = "large") -> str:
    """``text`` wrapped into lines that fit ``width_inches`` at ``fontsize``
    (a size in points or a name such as "large"); its own line breaks kept."""
    points = FontProperties(size=fontsize).get_size_in_points()
    width = _characters(width_inches, points)
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def set_title(axes, text: str, fontsize: str | float = "large") -> None:
    """Sets an axes title wrapped to the axes' share of its figure's width,
    so a long column label never pushes it past the edges."""
    figure: Figure = axes.get_figure()
    share = axes.get_position().width
    axes.set_title(wrap_to(text, figure.get_figwidth() * share, fontsize), fontsize=fontsize)


def set_suptitle(figure: Figure, text: str) -> None:
    """Sets a figure's title wrapped to its width (minus a margin)."""
    figure.suptitle(wrap_to(text, figure.get_figwidth() * 0.92, "large"))


def short_label(text: str, width: int = 28, lines: int = 2) -> str:
    """A tick or legend label of at most ``lines`` lines of ``width``
    characters: long column labels are wrapped, then shortened with "..."."""
    return "\n".join(textwrap.wrap(text, width, max_lines=lines, placeholder=" ...")) or text


# How the report writes numbers in its tables and cards.

# What a table or card shows for a number that is missing (the mean days
# between orders of a segment of one-order customers, say): never "nan".
MISSING_NUMBER = "\u2013"
_YEAR = re.compile(r"year|birth", re.I)


def number_text(value: float, column: str = "", flag: bool = False) -> str:
    """A number as a marketer reads it: thousands separated, two decimals
    below 100; a year (a column named like one) without a separator; the
    mean of a 0/1 flag as the percent of customers who have it; a dash when
    missing."""
    if pd.isna(value):
        return MISSING_NUMBER
    if flag:
        return percent_text(float(value)) if value > 0 else "0%"
    if _YEAR.search(column) and 1000 <= abs(value) < 10_000:
        return f"{value:.0f}"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def percent_text(value: float) -> str:
    """A 0-1 share as a whole percent, with one decimal below 1%."""
    return f"{value:.0%}" if value >= 0.01 else f"{value:.1%}"


def z_text(value: float) -> str:
    """A z-score as the cards show it, a dash when missing."""
    return MISSING_NUMBER if pd.isna(value) else f"{value:+.1f}"


def rate_text(value: float) -> str:
    """An outcome rate as a percent, or "unknown" when no customer of the
    segment has a known outcome."""
    return "unknown" if pd.isna(value) else percent_text(float(value))


def money_text(value: float | None) -> str:
    """An amount of money with thousands separated and cents; a dash when
    there is none (a log without amounts)."""
    return MISSING_NUMBER if value is None else f"{value:,.2f}"


def segment_colour(segment: int) -> str:
    """The colour of a segment in every picture and the report's cards:
    matplotlib's "C0", "C1", ... (ten colours, then again)."""
    return f"C{segment % 10}"
