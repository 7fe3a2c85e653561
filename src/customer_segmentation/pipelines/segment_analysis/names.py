"""The words of the segment analysis: how a column reads (``column_label``)
and the name of each segment (``name_segments``), after the features on
which it differs most from the whole customer base. A leaf module: it
imports neither engine."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from customer_segmentation import model as segmentation
from customer_segmentation.features import FeatureSpec

# Where a mixed-case name breaks into words: before an upper-case letter
# that follows a lower-case letter or a digit ("MntMeat"), and before the
# last capital of a run of capitals followed by a lower-case letter
# ("HTTPRequest": "HTTP", "Request").
_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def column_label(column: str, labels: dict) -> str:
    """The words for a column: its ``naming.labels`` entry, or else its name
    in lower-case words. A name in capitals only (with digits or
    underscores) is a shouted name, not an acronym: "AVGEXP" reads "avgexp"
    and "PURCHASES_TRX" "purchases trx". In a mixed-case name, words break
    at capitals ("MntMeatProducts" and "mnt_meat_products" both read "mnt
    meat products") and an acronym keeps its capitals ("CustomerID":
    "customer ID"). A one-letter name stays as written ("T")."""
    if column in labels:
        return labels[column]
    if len(column) == 1:
        return column
    spaced = column.replace("_", " ")
    if column.isupper():
        return " ".join(spaced.lower().split())
    words = _WORD_BREAK.sub(" ", spaced).split()
    return " ".join(word if word.isupper() and len(word) > 1 else word.lower() for word in words)


def _category_terms(profiles: pd.DataFrame, categorical: list[str], labels: dict) -> pd.DataFrame:
    """For each segment (a row) and category of the ``categorical`` columns
    (a profile column ``column=value``, as ``kernels.assemble_profiles``
    names the category shares), the z-score of the segment's share against
    the whole base's share p, ``(share - p) / sqrt(p (1 - p))`` (the z-score
    of the category's 0/1 indicator, comparable with numeric z-scores), kept
    only where the segment is mostly that category (share above one half).
    Only these share columns count: the mean of a numeric column lies
    between 0 and 1 as often as not, but is no share, so a numeric feature
    names a segment by its z-score alone. "other" and "missing" never name
    a segment."""
    weights = profiles["customers"] / profiles["customers"].sum()
    terms = {}
    for column in categorical:
        prefix = f"{column}="
        for name in profiles.columns:
            value = name[len(prefix) :]
            if not name.startswith(prefix) or value in (segmentation.OTHER, segmentation.MISSING):
                continue
            shares = profiles[name].astype(float)
            base = float((shares * weights).sum())
            if not 0 < base < 1:
                continue
            z = (shares - base) / np.sqrt(base * (1 - base))
            label = labels.get(name, f"{column_label(column, labels)} {value}")
            terms[label] = z.where(shares > 0.5)
    return pd.DataFrame(terms, index=profiles.index)


def _ranked_terms(profiles: pd.DataFrame, naming: dict, features: dict) -> dict[int, list[str]]:
    """Per segment (indexed by segment), every term that may name it ("high
    income", "marital status Single"), most different from the base first,
    each at least ``threshold`` standard deviations from it."""
    spec = FeatureSpec.parse(features)
    columns = naming["features"] or spec.model_columns
    labels = naming["labels"]
    numeric = [c for c in columns if f"{c}_z" in profiles]
    numeric_z = profiles[[f"{c}_z" for c in numeric]].astype(float).set_axis(numeric, axis=1)
    categorical = [c for c in columns if c in spec.described_categorical]
    categorical_z = _category_terms(profiles, categorical, labels)
    ranked = {}
    for segment in profiles.index:
        candidates = {
            f"{'high' if z > 0 else 'low'} {column_label(c, labels)}": abs(z)
            for c, z in numeric_z.loc[segment].items()
        }
        candidates.update(categorical_z.loc[segment].dropna().to_dict())
        ranked[segment] = sorted(
            (term for term, z in candidates.items() if z >= naming["threshold"]),
            key=lambda term: -candidates[term],
        )
    return ranked


def _sentence(terms: list[str]) -> str:
    text = ", ".join(terms) or "typical customers"
    return text[0].upper() + text[1:]


def name_segments(profiles: pd.DataFrame, naming: dict, features: dict) -> pd.Series:
    """Names each segment after the (at most ``max_terms``) naming features on
    which it differs most from the whole customer base, numeric and
    categorical alike, where that difference is at least ``threshold``
    standard deviations: "High income, low activity", "Marital status
    Single, low income". Numeric features compare on the scale the
    clustering used (their ``_z`` columns); a categorical feature names a
    segment by the category most of it has (``_category_terms``). A segment
    with no such feature is "Typical customers".

    Names are unique as sets of terms, so that two segments never read as
    the same words in another order: a segment whose terms are the same set
    as an earlier segment's takes further terms, the next most different
    feature first, until they differ; only then does it take its number."""
    ranked = _ranked_terms(profiles.set_index("segment"), naming, features)
    taken: list[frozenset[str]] = []
    names = {}
    for segment, terms in ranked.items():
        count = naming["max_terms"]
        while frozenset(terms[:count]) in taken and count < len(terms):
            count += 1
        name = _sentence(terms[:count])
        if frozenset(terms[:count]) in taken:
            name = f"{name} (segment {segment})"
        taken.append(frozenset(terms[:count]))
        names[segment] = name
    return pd.Series(names, name="name")


def percent(share: float) -> str:
    """A share as a percentage: one decimal below 9.5%, none above."""
    return f"{share:.1%}" if share < 0.095 else f"{share:.0%}"  # noqa: PLR2004 - 9.5% rounds to 10%
