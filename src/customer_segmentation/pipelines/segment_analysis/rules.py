"""The segments as rules a marketer can read and a CRM or warehouse can run
without Python: a shallow decision tree fitted to reproduce the deployed
segments from the ORIGINAL columns the model reads (numbers in their own
units, categories as their values), written as plain-words rules for the
report's cards and as one SQL ``CASE WHEN`` expression.

The tree treats a missing value as the model does: a missing number is the
model's training median (its imputer's), a missing category is the category
"missing", and a category the model does not know is none of the known
ones. Categories are read as the model reads them (``model.category_text``:
" Male" is "Male", a blank value is missing), in Python and in the SQL.
Sibling leaves of the same segment are merged and the bounds on one column
along a path are combined, so each leaf reads as one short line. The
rules' **fidelity** is the share of customers they assign to the segment
the model gave them, overall and per segment, measured in float64 exactly as
the SQL compares (the tree itself compares in float32).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from customer_segmentation import model as segmentation
from customer_segmentation.features import FeatureSpec
from customer_segmentation.figures import number_text, percent_text

from .names import column_label

logger = logging.getLogger(__name__)

# A condition of a rule: a numeric column ABOVE or AT_MOST a threshold, or a
# categorical column's value IN or NOT_IN a set of categories.
ABOVE, AT_MOST, IN, NOT_IN = ">", "<=", "in", "not in"


def fit_segment_rules(  # noqa: PLR0913 - the tables, model and settings the rules read
    segmented_customers: pd.DataFrame,
    segmented_customers_sample: pd.DataFrame,
    segmentation_model: Pipeline,
    segmentation_model_version: str | None,
    segment_profiles: pd.DataFrame,
    features: dict,
    rules: dict,
    labels: dict,
) -> tuple[dict, str]:
    """The segments as rules (``segment_rules``: per segment its rules in
    plain words, their conditions and fidelity; the overall fidelity) and
    the same rules as one SQL ``CASE WHEN`` expression (``segment_rules_sql``,
    with a header comment stating the fidelity, the model version, the
    columns it reads and the model's columns it does not need).

    The tree (depth at most ``rules.max_depth``, leaves of at least
    ``rules.min_leaf_share`` of the customers it is fitted on, segments
    weighted to count alike, seeded by ``rules.random_seed``) is fitted on ``segmented_customers_sample`` (at
    most ``segment_analysis.sample_size`` customers, seeded); its fidelity is
    measured on every customer of ``segmented_customers``."""
    return segment_rules(
        segmented_customers_sample,
        segmented_customers,
        "all customers",
        segmentation_model,
        segmentation_model_version,
        segment_profiles,
        features,
        rules,
        labels,
    )


def segment_rules(  # noqa: PLR0913 - the tables, model and settings the rules read
    fit_customers: pd.DataFrame,
    measured_customers: pd.DataFrame,
    measured_on: str,
    segmentation_model: Pipeline,
    segmentation_model_version: str | None,
    segment_profiles: pd.DataFrame,
    features: dict,
    rules: dict,
    labels: dict,
) -> tuple[dict, str]:
    """``fit_segment_rules`` on either engine: the tree fitted on
    ``fit_customers`` (pandas, with their ``segment``), the fidelity measured
    on ``measured_customers`` (``measured_on`` says which, in words)."""
    spec = FeatureSpec.parse(features)
    numeric, categorical = list(spec.numeric), list(spec.categorical)
    medians = model_medians(segmentation_model, numeric)
    known = segmentation.fitted_categories(segmentation_model)
    categories = {column: list(known.get(column, [])) for column in categorical}
    tree, table, variables = fit_tree(fit_customers, numeric, categories, medians, rules)
    leaves = tree_leaves(tree, variables, table)
    segments = measured_customers["segment"].to_numpy("int64")
    sizes = pd.Series(segments).value_counts()
    default = int(sizes.index[0]) if len(sizes) else 0
    assigned = assign_segments(measured_customers, leaves, default, medians)
    names = segment_profiles.set_index("segment")["name"].to_dict()
    numeric_codes = {
        column
        for column in categorical
        if pd.api.types.is_numeric_dtype(fit_customers[column])
        and not pd.api.types.is_bool_dtype(fit_customers[column])
    }
    read = columns_read(leaves, default, [*numeric, *categorical])
    result = _summary(
        leaves,
        segments,
        assigned,
        names,
        labels,
        default,
        {column: medians[column] for column in numeric if column in read},
        measured_on,
        len(table),
    )
    result.update(
        model_version=segmentation_model_version,
        model_fingerprint=segmentation.fingerprint(segmentation_model),
        columns=read,
        columns_not_read=[c for c in [*numeric, *categorical] if c not in read],
    )
    logger.info(
        "Segment rules (depth %d): %s of %s follow the model's segment",
        rules["max_depth"],
        percent_text(result["fidelity"]),
        measured_on,
    )
    return result, rules_sql(leaves, default, medians, numeric_codes, result, names)


def fit_tree(
    customers: pd.DataFrame,
    numeric: list[str],
    categories: dict[str, list[str]],
    medians: dict[str, float],
    rules: dict,
) -> tuple[DecisionTreeClassifier, pd.DataFrame, list[tuple[str, str | None]]]:
    """The tree that reproduces the ``segment`` of ``customers`` from what
    ``rule_table`` makes of them (returned with it and its variables): depth
    at most ``rules.max_depth``, leaves of at least ``rules.min_leaf_share``
    of the customers, segments weighted to count alike (a small segment gets
    rules of its own instead of being left to a larger neighbour's), seeded."""
    table, variables = rule_table(customers, numeric, categories, medians)
    tree = DecisionTreeClassifier(
        max_depth=rules["max_depth"],
        min_samples_leaf=max(1, math.ceil(rules["min_leaf_share"] * len(table))),
        class_weight="balanced",
        random_state=rules["random_seed"],
    ).fit(table.to_numpy(float), customers["segment"].to_numpy("int64"))
    return tree, table, variables


def model_medians(segmentation_model: Pipeline, numeric: list[str]) -> dict[str, float]:
    """The training median of each numeric feature, as the model's imputer
    fills a missing value with it."""
    fitted = segmentation.preprocessor(segmentation_model).columns_
    medians = {}
    for name, block, columns in fitted.transformers_:
        if name in segmentation.NUMERIC_BLOCKS:
            statistics = block.named_steps[segmentation.IMPUTE].statistics_
            medians.update(zip(columns, map(float, statistics), strict=True))
    return {column: medians[column] for column in numeric}


def _category_values(values: pd.Series) -> pd.Series:
    """A categorical column's values as the model's encoder reads them (text,
    a missing value as "missing")."""
    return segmentation.category_text(values).fillna(segmentation.MISSING)


def rule_table(
    customers: pd.DataFrame,
    numeric: list[str],
    categories: dict[str, list[str]],
    medians: dict[str, float],
) -> tuple[pd.DataFrame, list[tuple[str, str | None]]]:
    """What the tree reads: each numeric feature in its own units (a missing
    value as its training median), and a 0/1 column per category the model
    knows of each categorical feature; with the variable behind each column,
    ``(column, None)`` or ``(column, category)``."""
    columns, variables = {}, []
    for column in numeric:
        values = pd.to_numeric(customers[column], errors="coerce").astype(float)
        columns[column] = values.fillna(medians[column]).to_numpy()
        variables.append((column, None))
    for column, known in categories.items():
        values = _category_values(customers[column])
        for category in known:
            columns[f"{column}={category}"] = (values == category).to_numpy(float)
            variables.append((column, category))
    return pd.DataFrame(columns, index=customers.index), variables


def round_threshold(values: np.ndarray, threshold: float) -> float:
    """The roundest number that splits ``values`` as ``threshold`` does
    (at most it, or above it): between the largest value at most the
    threshold and the next value, "at most 7,000" rather than the tree's
    midpoint in float32, 7000.5 or 42.44499969482422."""
    below = values[values <= threshold]
    above = values[values > threshold]
    if below.size == 0 or above.size == 0:
        return float(threshold)
    low, high = float(below.max()), float(above.min())
    largest = max(abs(low), abs(high), 1.0)
    for exponent in range(math.floor(math.log10(largest)) + 1, -13, -1):
        decimals = max(0, -exponent)
        # round() first: 42.44 / 0.01 is 4244.000000000001, whose ceiling is 4245.
        candidate = round(math.ceil(round(low / 10**exponent, 6)) * 10**exponent, decimals)
        if low <= candidate < high:
            return float(candidate)
    return low


def tree_leaves(
    tree: DecisionTreeClassifier, variables: list[tuple[str, str | None]], table: pd.DataFrame
) -> list[dict]:
    """The leaves of a fitted tree as rules: per leaf its ``segment`` and its
    ``conditions``, with sibling leaves of the same segment merged, each
    threshold the roundest that splits the fitted customers (``table``, what
    the tree read) the same way (``round_threshold``) and the conditions on
    one column along a path combined (``_combined``)."""
    structure = tree.tree_
    classes = tree.classes_

    def collapse(node: int):
        """A leaf's segment, or (variable, threshold, left, right)."""
        left, right = structure.children_left[node], structure.children_right[node]
        if left == right:
            return int(classes[int(np.argmax(structure.value[node][0]))])
        low, high = collapse(left), collapse(right)
        if isinstance(low, int) and low == high:
            return low
        feature = int(structure.feature[node])
        threshold = float(structure.threshold[node])
        if variables[feature][1] is None:
            threshold = round_threshold(table.iloc[:, feature].to_numpy(), threshold)
        return (feature, threshold, low, high)

    leaves = []

    def walk(node, path: list[tuple]) -> None:
        if isinstance(node, int):
            leaves.append({"segment": node, "conditions": _combined(path)})
            return
        feature, threshold, low, high = node
        column, category = variables[feature]
        if category is None:
            walk(low, [*path, (column, AT_MOST, threshold)])
            walk(high, [*path, (column, ABOVE, threshold)])
        else:  # a 0/1 category column: at most 0.5 is "not this category"
            walk(low, [*path, (column, NOT_IN, category)])
            walk(high, [*path, (column, IN, category)])

    walk(collapse(0), [])
    return leaves


def _combined(path: list[tuple]) -> list[dict]:
    """A path's conditions, one or two per column in order of first use: the
    tightest lower and upper bound of a number; for a category, the one it
    must be, or else those it must not be."""
    by_column: dict[str, list[tuple]] = {}
    for column, operator, value in path:
        by_column.setdefault(column, []).append((operator, value))
    conditions = []
    for column, tests in by_column.items():
        lows = [v for op, v in tests if op == ABOVE]
        highs = [v for op, v in tests if op == AT_MOST]
        inside = [v for op, v in tests if op == IN]
        outside = sorted({v for op, v in tests if op == NOT_IN})
        if lows:
            conditions.append({"column": column, "operator": ABOVE, "value": max(lows)})
        if highs:
            conditions.append({"column": column, "operator": AT_MOST, "value": min(highs)})
        if inside:  # a customer has one category: the path's only one
            conditions.append({"column": column, "operator": IN, "values": inside[:1]})
        elif outside:
            conditions.append({"column": column, "operator": NOT_IN, "values": outside})
    return conditions


def _written_conditions(leaves: list[dict], default: int) -> list[dict]:
    """The conditions the SQL writes: those of every leaf but the
    ``default`` segment's, which the SQL leaves to ``ELSE``."""
    return [c for leaf in leaves if leaf["segment"] != default for c in leaf["conditions"]]


def columns_read(leaves: list[dict], default: int, columns: list[str]) -> list[str]:
    """The ``columns`` (in their order) that the rules read: those a
    condition the SQL writes tests (``_written_conditions``). Often fewer
    than the model reads: a shallow tree needs only the columns that tell
    the segments apart."""
    tested = {condition["column"] for condition in _written_conditions(leaves, default)}
    return [column for column in columns if column in tested]


def _holds(customers: pd.DataFrame, condition: dict, medians: dict[str, float]) -> np.ndarray:
    """Which customers meet one condition, compared as the SQL compares."""
    column = condition["column"]
    if condition["operator"] in (ABOVE, AT_MOST):
        values = pd.to_numeric(customers[column], errors="coerce").astype(float)
        values = values.fillna(medians[column]).to_numpy()
        if condition["operator"] == ABOVE:
            return values > condition["value"]
        return values <= condition["value"]
    member = _sql_category_values(customers[column]).isin(condition["values"]).to_numpy()
    return member if condition["operator"] == IN else ~member


def _sql_category_values(values: pd.Series) -> pd.Series:
    """A categorical column's values as the SQL reads them (``_sql_category``):
    a text column trimmed of surrounding spaces only (SQL's ``TRIM``; a tab or
    a non-breaking space stays, where the model strips it), a blank or
    missing value "missing"; a column of codes as the model reads it, since
    the SQL compares its numbers. So the stated fidelity is the SQL's own."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return _category_values(values)
    text = values.astype("string").str.strip(" ")
    return text.mask(text == "").fillna(segmentation.MISSING)


def assign_segments(
    customers: pd.DataFrame, leaves: list[dict], default: int, medians: dict[str, float]
) -> np.ndarray:
    """The segment the rules give each customer: the segment of the leaf
    whose conditions all hold, ``default`` where none does."""
    assigned = np.full(len(customers), default, dtype="int64")
    for leaf in leaves:
        held = np.ones(len(customers), dtype=bool)
        for condition in leaf["conditions"]:
            held &= _holds(customers, condition, medians)
        assigned[held] = leaf["segment"]
    return assigned


def _category_words(values: list[str]) -> str:
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


def condition_words(condition: dict, labels: dict) -> str:
    """One condition in plain words, with the column's label and the
    report's numbers: "grocery above 7,000", "channel is 1 or 2"."""
    label = column_label(condition["column"], labels)
    operator = condition["operator"]
    if operator == ABOVE:
        return f"{label} above {number_text(condition['value'], condition['column'])}"
    if operator == AT_MOST:
        return f"{label} at most {number_text(condition['value'], condition['column'])}"
    words = _category_words(condition["values"])
    return f"{label} {'is' if operator == IN else 'is not'} {words}"


def leaf_words(conditions: list[dict], labels: dict) -> str:
    """A leaf's conditions as one line, a column's label once for both its
    bounds ("order value above 42.44 and at most 120"); "every customer"
    without any."""
    if not conditions:
        return "Every customer"
    parts, previous = [], None
    for condition in conditions:
        words = condition_words(condition, labels)
        if condition["column"] == previous:
            words = words.removeprefix(column_label(condition["column"], labels) + " ")
        parts.append(words)
        previous = condition["column"]
    text = " and ".join(parts)
    return text[0].upper() + text[1:]


def _summary(  # noqa: PLR0913 - the rules, the measure and the words of its summary
    leaves: list[dict],
    segments: np.ndarray,
    assigned: np.ndarray,
    names: dict,
    labels: dict,
    default: int,
    medians: dict[str, float],
    measured_on: str,
    fitted_on: int,
) -> dict:
    """The ``segment_rules`` record: overall and per-segment fidelity, each
    segment's rules in words and as conditions, and how missing numbers
    (``medians``: of the numeric columns the rules read) and unmatched
    customers are treated."""
    agree = assigned == segments
    result = {
        "fidelity": round(float(agree.mean()), 4) if len(segments) else None,
        "measured_on": measured_on,
        "customers_measured": len(segments),
        "customers_fitted": fitted_on,
        "else_segment": default,
        "missing_numbers": {column: medians[column] for column in medians},
        "segments": [],
    }
    for segment in sorted(
        set(map(int, np.unique(segments))) | {leaf["segment"] for leaf in leaves}
    ):
        own = segments == segment
        mine = [leaf for leaf in leaves if leaf["segment"] == segment]
        result["segments"].append(
            {
                "segment": segment,
                "name": names.get(segment),
                "customers": int(own.sum()),
                "fidelity": round(float(agree[own].mean()), 4) if own.any() else None,
                "rules": [leaf_words(leaf["conditions"], labels) for leaf in mine],
                "conditions": [leaf["conditions"] for leaf in mine],
            }
        )
    return result


def _comment(text: str) -> str:
    """``text`` as one SQL comment line: its line breaks (and any other white
    space run) made one space, so that a column or segment name holding a
    line break cannot end the comment and be read as SQL."""
    return "-- " + " ".join(text.split())


def sql_name(column: str) -> str:
    """A column name quoted for SQL: in double quotes, embedded ones doubled."""
    return '"' + column.replace('"', '""') + '"'


def sql_text(value: str) -> str:
    """A text literal for SQL: in single quotes, embedded ones doubled."""
    return "'" + value.replace("'", "''") + "'"


def _sql_category(column: str) -> str:
    """A text category column in SQL as the model reads it
    (``model.category_text``): without surrounding spaces, a blank or
    missing value as "missing", with functions every SQL dialect has
    (TRIM, NULLIF, COALESCE)."""
    return f"COALESCE(NULLIF(TRIM({sql_name(column)}), ''), {sql_text(segmentation.MISSING)})"


def _sql_condition(condition: dict, medians: dict[str, float], numeric_codes: set[str]) -> str:
    """One condition in SQL, each value read as the model reads it: NULL a
    number's training median; a text category trimmed, blank or NULL
    "missing" (``_sql_category``); a column of number codes compared as
    numbers, so 1.0 is the category "1" as in the model, NULL "missing"."""
    column = condition["column"]
    name = sql_name(column)
    if condition["operator"] in (ABOVE, AT_MOST):
        value = repr(float(condition["value"]))
        return f"COALESCE({name}, {repr(medians[column])}) {condition['operator']} {value}"
    if column not in numeric_codes:
        test = "IN" if condition["operator"] == IN else "NOT IN"
        literals = ", ".join(map(sql_text, condition["values"]))
        return f"{_sql_category(column)} {test} ({literals})"
    literals = ", ".join(v for v in condition["values"] if v != segmentation.MISSING)
    null = segmentation.MISSING in condition["values"]
    if condition["operator"] == IN:
        member = f"{name} IN ({literals})" if literals else None
        if null:
            return f"({name} IS NULL OR {member})" if member else f"{name} IS NULL"
        return member
    excluded = f"{name} NOT IN ({literals})" if literals else None
    if null:
        return f"({name} IS NOT NULL AND {excluded})" if excluded else f"{name} IS NOT NULL"
    return f"({name} IS NULL OR {excluded})"


def rules_sql(  # noqa: PLR0913 - the rules and what its header states
    leaves: list[dict],
    default: int,
    medians: dict[str, float],
    numeric_codes: set[str],
    summary: dict,
    names: dict,
) -> str:
    """The rules as one SQL ``CASE WHEN`` expression (``SELECT <it> AS
    segment FROM customers``), after a header comment: the fidelity, the
    model version, the columns the expression reads (``summary["columns"]``,
    ``columns_read`` of these ``leaves``) and the model's columns it does
    not need (``summary["columns_not_read"]``).
    Leaves of the ``default`` segment are left to ``ELSE`` (leaves exclude
    each other)."""
    per_segment = "; ".join(
        f"{s['segment']}: {percent_text(s['fidelity'])}"
        for s in summary["segments"]
        if s["fidelity"] is not None
    )
    header = [
        "-- Customer segments as rules: SELECT <this expression> AS segment FROM customers",
        f"-- Segmentation model version {summary['model_version'] or 'unversioned'}"
        f" (fingerprint {summary['model_fingerprint']})",
        f"-- Fidelity: these rules give {percent_text(summary['fidelity'] or 0)} of "
        f"{summary['customers_measured']:,} customers ({summary['measured_on']}) the model's "
        f"segment; per segment {per_segment}",
        _comment("Reads the columns: " + ", ".join(map(sql_name, summary["columns"])))
        if summary["columns"]
        else "-- Reads no column: every customer gets the same segment",
    ]
    if summary["columns_not_read"]:
        header.append(
            _comment(
                "Not read (the model was trained on them; these rules do not need them): "
                + ", ".join(map(sql_name, summary["columns_not_read"]))
            )
        )
    header.append("-- A missing number counts as its training median, as in the model.")
    if any(
        c["operator"] in (IN, NOT_IN) and c["column"] not in numeric_codes
        for c in _written_conditions(leaves, default)
    ):
        header.append(
            "-- A category is read without surrounding spaces, a blank one as missing, as in "
            "the model; a tab or other white space around it stays (SQL's TRIM), which the "
            "fidelity above counts."
        )
    lines = ["CASE"]
    for leaf in leaves:
        if leaf["segment"] == default:
            continue
        test = " AND ".join(_sql_condition(c, medians, numeric_codes) for c in leaf["conditions"])
        name = str(names.get(leaf["segment"], "")).strip()
        comment = f"  {_comment(name)}" if name else ""
        lines.append(f"  WHEN {test or '1 = 1'} THEN {leaf['segment']}{comment}")
    lines += [f"  ELSE {default}", "END"]
    return "\n".join(header + lines) + "\n"
