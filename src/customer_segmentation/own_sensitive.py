"""Sensitive personal attributes of a customer table, for ``kedro
configure-data``: gender or sex, ethnicity or race, religion, nationality
(citizenship, country of birth), marital status, disability, sexual
orientation, pregnancy, political opinion, health and trade-union
membership. Segments built on them invite
unfair treatment in lending, insurance, pricing and targeting (equal-credit
and anti-discrimination laws name these, marital status included, and the
GDPR makes most of them special categories), so such a column is profiled
per segment, never clustered on, and a scoring batch need not carry it; the
printout says how to cluster on one anyway (``sensitive_lines``).

A column is sensitive by its name (``sensitive_kind``): a word of it names
the attribute (``GENDER_CD``, ``race_ethnicity``, ``CustomerGender``,
``Marital_Status``, ``CountryOfBirth``, ``health``) and every word after
that one only qualifies it (code, status, group, the customer ...) or names
one of its values (``Gender_Male``), so that ``gender_neutral_size`` or
``male_count`` stay what they are; words are whole (``Sexton_street`` holds
no ``sex``, ``healthy_snacks_spend`` no ``health``). Health is a person's
health (GDPR Art. 9): ``health``, ``health_status``, ``medical_condition``,
``diagnosis``; not a product or a business's health: ``health_ins`` (a
holding of an insurance product, which says nothing of the holder's health,
like any other policy), ``health_score`` (a customer-success score) and an
account's or customer's health (``account_health``, ``customer_health``, a
customer-success rating) stay what they are.
A text column is sensitive by its values too, whatever its name, when they
read as one attribute's values: male/female (``M``/``F``, `` Male``),
ethnic groups, marital statuses, religions or sexual orientations. Age is
no sensitive attribute here: it is an ordinary demographic feature of
marketing segmentation, as in ``conf/base``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pandas as pd

from customer_segmentation.own_names import name_words
from customer_segmentation.own_quoting import printable

if TYPE_CHECKING:
    from customer_segmentation.own_columns import Column

# The words (and runs of words) of a name that name each attribute.
_NAME_WORDS = {
    "gender": {"gender", "genders", "gndr", "sex", "male", "female"},
    "ethnicity": {"ethnicity", "ethnicities", "ethnic", "race", "racial"},
    "religion": {"religion", "religions", "religious", "faith"},
    "nationality": {
        *("nationality", "nationalities", "citizenship", "birthplace", "country of birth"),
        *("birth country", "native country", "national origin", "place of birth"),
        "foreign worker",
    },
    "marital status": {
        *("marital", "married", "marriage", "maritl", "marstat", "mstatus", "mrtl"),
        *("civil status", "family status", "personal status"),
    },
    # Not "disabled": an account or a setting is disabled far more often.
    "disability": {"disability", "disabilities", "handicap", "handicapped"},
    "sexual orientation": {"sexual", "sexuality", "lgbt", "lgbtq"},
    "pregnancy": {"pregnancy", "pregnant"},
    "political opinion": {"political", "politics"},
    "health": {
        *("health", "medical", "medication", "medications", "diagnosis", "diagnoses"),
        *("diagnosed", "illness", "illnesses", "disease", "diseases", "sickness"),
        *("health condition", "medical condition", "chronic condition", "mental health"),
    },
    # Not "union" alone: a credit union, the European Union.
    "trade-union membership": {
        *("trade union", "labor union", "labour union", "unionized", "unionised"),
        *("union membership", "union member"),
    },
}
# Runs of words ending in an attribute's word that name something else: the
# health of an account or a business relationship (customer-success ratings),
# a credit union's membership.
_OTHER_THINGS = {
    *("account health", "customer health", "client health", "relationship health"),
    *("portfolio health", "financial health", "credit health", "business health"),
    *("subscription health", "brand health", "store health", "system health"),
    *("credit union member", "credit union membership", "student union member"),
    "student union membership",
}
# Words that may follow the attribute's word in a sensitive column's name:
# they qualify it rather than make it another quantity.
_QUALIFIERS = {
    *("cd", "code", "codes", "id", "key", "flag", "ind", "indicator", "desc", "description"),
    *("status", "stat", "type", "cat", "category", "group", "grp", "origin", "background"),
    *("identity", "orientation", "affiliation", "opinion", "opinions", "view", "views"),
    *("party", "leaning"),
    *("value", "val", "txt", "text", "label", "lbl", "name", "yn", "of", "and", "or", "the"),
    *("customer", "client", "cust", "member", "applicant", "borrower", "holder", "person"),
    *("policyholder", "insured", "primary", "main", "self", "reported", "declared", "stated"),
}
# Each attribute's values, as ``_normal`` writes them, that mark a column
# holding it: ``_REQUIRED`` must hold at least one of the values found (an
# ambiguous "white" or "single" alone marks nothing), and at least two
# values must be the attribute's (for gender: a male and a female one).
_MALE = {"male", "m", "man", "men", "boy", "masculine"}
_FEMALE = {"female", "f", "woman", "women", "girl", "feminine"}
_VALUES = {
    "gender": {*_MALE, *_FEMALE, "non binary", "nonbinary", "x", "diverse", "intersex"},
    "ethnicity": {
        *("white", "black", "asian", "hispanic", "latino", "latina", "latinx", "caucasian"),
        *("african american", "black or african american", "american indian", "mixed"),
        *("alaska native", "american indian or alaska native", "native american"),
        *("native hawaiian", "pacific islander", "native hawaiian or other pacific islander"),
        *("middle eastern", "multiracial", "two or more races", "hispanic or latino"),
        *("not hispanic or latino", "non hispanic", "white british", "black british"),
    },
    "marital status": {
        *("single", "married", "divorced", "widowed", "widow", "widower", "separated"),
        *("never married", "unmarried", "not married", "civil partnership", "civil marriage"),
        *("domestic partnership", "domestic partner", "cohabiting", "together", "engaged"),
    },
    "religion": {
        *("christian", "catholic", "roman catholic", "protestant", "orthodox", "muslim"),
        *("islam", "jewish", "judaism", "hindu", "hinduism", "buddhist", "buddhism", "sikh"),
        *("atheist", "agnostic", "no religion", "mormon", "evangelical", "christianity"),
    },
    "sexual orientation": {
        *("heterosexual", "straight", "gay", "lesbian", "bisexual", "homosexual"),
        *("asexual", "pansexual", "queer"),
    },
}
_REQUIRED = {
    "gender": _MALE | _FEMALE,
    "ethnicity": _VALUES["ethnicity"] - {"white", "black", "mixed"},
    "marital status": _VALUES["marital status"] - {"single", "together", "engaged"},
    "religion": _VALUES["religion"],
    "sexual orientation": {"heterosexual", "homosexual", "bisexual", "lesbian"},
}
# Values that say nothing either way: an unknown or withheld answer.
_NEUTRAL = {
    *("unknown", "unk", "u", "other", "others", "none", "na", "n a", "not stated", "missing"),
    *("not specified", "prefer not to say", "declined", "refused", "not disclosed", ""),
}
# Of a text column's rows with a value, this share must read as the attribute's.
VALUE_SHARE = 0.9
# A text column with more values is read by its name only (as many as a
# profiled code may have, ``own_columns.MAX_PROFILE_CATEGORIES``).
MAX_SENSITIVE_VALUES = 50
_SPELLINGS = {spelling: kind for kind, spellings in _NAME_WORDS.items() for spelling in spellings}
_VALUE_WORDS = {word for values in _VALUES.values() for value in values for word in value.split()}


def _qualifies(word: str) -> bool:
    """Whether a word after the attribute's word only qualifies it: a
    ``_QUALIFIERS`` word, a value of an attribute, a letter or a number."""
    return word in _QUALIFIERS or word in _VALUE_WORDS or len(word) == 1 or word.isdigit()


def _named_kind(name: str) -> str | None:
    """The attribute a column's name names: the last run of up to three of
    its words that names one (``_NAME_WORDS``), when every word after it
    only qualifies it (``_qualifies``) and the words before it do not make
    it another thing (``_OTHER_THINGS``: ``account_health``)."""
    words = name_words(name)
    for end in range(len(words), 0, -1):
        for start in range(max(0, end - 3), end):
            if kind := _SPELLINGS.get(" ".join(words[start:end])):
                before = (" ".join(words[first:end]) for first in range(max(0, start - 2), start))
                return None if any(run in _OTHER_THINGS for run in before) else kind
        if not _qualifies(words[end - 1]):
            return None
    return None


def _normal(value: object) -> str:
    """A value as ``_VALUES`` holds it: lower case, without surrounding
    spaces, a leading "1. " or punctuation ("African-American", " Male")."""
    text = re.sub(r"^\d+\s*[.)]\s*", "", str(value).strip().lower())
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _valued_kind(values: pd.Series) -> tuple[str, list[str]] | None:
    """The attribute a text column's values read as, with those values (as
    the data has them, without surrounding spaces)."""
    counts = values.dropna().astype(str).str.strip().value_counts()
    if counts.empty or len(counts) > MAX_SENSITIVE_VALUES:
        return None
    normal = [_normal(value) for value in counts.index]
    for kind, known in _VALUES.items():
        read = [n in known or n in _NEUTRAL for n in normal]
        found = {n for n in normal if n in known}
        enough = (
            bool(found & _MALE and found & _FEMALE)
            if kind == "gender"
            else len(found) >= 2 and bool(found & _REQUIRED[kind])  # noqa: PLR2004 - two values
        )
        if enough and counts[read].sum() >= VALUE_SHARE * counts.sum():
            return kind, [v for v, n in zip(counts.index, normal, strict=True) if n in known]
    return None


def sensitive_kind(name: str, values: pd.Series) -> tuple[str, str] | None:
    """The sensitive attribute a column holds and what says so: its
    ``name``, or (a text column) its ``values: Male, Female``; None for any
    other column."""
    if kind := _named_kind(name):
        return kind, "name"
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    if found := _valued_kind(values):
        kind, shown = found
        return kind, "values: " + ", ".join(printable(v) for v in shown[:4])
    return None


def sensitive_lines(columns: list[Column], env: str) -> list[str]:
    """The printout's line on sensitive attributes, when there are any:
    that they are profile-only and why, and which key to edit to cluster on
    one anyway."""
    found = [c for c in columns if c.sensitive]
    if not found:
        return []
    shown = ", ".join(f"{printable(c.name)} ({c.sensitive})" for c in found)
    return [
        f"Sensitive attributes, profile-only: {shown}. They are described per segment, never "
        "clustered on and not needed to score a batch, as segments built on them risk unfair "
        "treatment in lending, insurance, pricing and targeting. To cluster on one anyway, "
        f"move it from features.profile_only.categorical to features.categorical in "
        f"conf/{env}/parameters.yml."
    ]
