"""The report says which columns the segments were made on and which were
only described: sensitive attributes and outcomes named apart, and the SD
of a profile-only column not claimed to be on the clustering's scale."""

import pandas as pd

from tests.pipelines.segment_analysis.test_report import FEATURES, _profiles, _report

# As on ISLP's Wage table: a money column, a plain text column and two
# sensitive attributes (one known by its name, maritl; one by its values
# only, status) described but never clustered on, and an outcome.
DESCRIBED = {
    **FEATURES,
    "profile_only": {
        "numeric": ["wage"],
        "categorical": ["region", "race", "maritl", "status", "churned"],
    },
    "outcomes": {"churned": {"kind": "churn", "positive": "Yes"}},
}


def _described_profiles() -> pd.DataFrame:
    profiles = _profiles()
    profiles["wage"] = [140.0, 90.0, 110.0]
    profiles["wage_z"] = [0.9, -0.8, 0.1]
    for column, values in {
        "region": ("North", "South"),
        "race": ("White", "Black"),
        "maritl": ("Married", "Never Married"),
        "status": ("Married", "Divorced"),
    }.items():
        profiles[f"{column}={values[0]}"] = [0.8, 0.3, 0.6]
        profiles[f"{column}={values[1]}"] = [0.2, 0.7, 0.4]
    return profiles


def _described_report(**extra) -> str:
    customers = pd.DataFrame(
        {
            "visits": [12.0, 3, 6, 7],
            "age": [40.0, 41, 39, 40],
            "wage": [140.0, 90, 110, 100],
            "status": ["Married", "Divorced", "Married", "Widowed"],
        }
    )
    return _report(features=DESCRIBED, profiles=_described_profiles(), customers=customers, **extra)


def test_the_report_says_what_the_segments_were_made_on_and_what_was_only_described():
    text = _described_report()
    made_on = text.split('<p class="made-on">')[1].split("</p>")[0]
    assert "Made on: visits, age, gender." in made_on
    assert "Described, not used to make the segments: wage, region." in made_on
    # Sensitive by name (race, maritl) or by values (status): named apart.
    assert (
        "Described only: race, maritl, status (sensitive attributes: never used to make segments)."
        in made_on
    )
    assert "Outcomes, compared between segments, not used to make them: churned." in made_on
    # It comes near the top, before the outcomes table and the cards.
    assert text.index('class="made-on"') < text.index("<h2>Outcomes by segment</h2>")


def test_one_sensitive_attribute_reads_in_the_singular_and_none_says_nothing_of_them():
    one = {**FEATURES, "profile_only": {"numeric": [], "categorical": ["Marital_Status"]}}
    profiles = _profiles().assign(
        **{"Marital_Status=Married": [0.5] * 3, "Marital_Status=Single": [0.5] * 3}
    )
    text = _report(features=one, profiles=profiles)
    assert "Described only: marital status (a sensitive attribute: never used" in text
    plain = _report()
    assert "Made on: visits, age, gender." in plain
    assert "Described" not in plain and "sensitive" not in plain and "Outcomes," not in plain


def test_a_profile_only_sd_is_not_claimed_to_be_on_the_clustering_scale():
    text = _described_report(highlight=["wage"])
    card = text.split("<h3>Segment 0: ")[1].split("</table>", maxsplit=1)[0]
    assert "<td>wage</td><td>140</td><td>110</td><td>+0.9<sup>&dagger;</sup></td>" in card
    assert "<td>visits</td><td>12</td><td>7</td><td>+1.2</td>" in card
    footnote = text.split("<sup>*</sup> SD:")[1].split("</p>")[0]
    assert "for a column the segments were made on, on the scale they were made on" in footnote
    assert "its SD is on that column's own spread among all customers" in footnote
    # Without a profile-only row on any card, the footnote explains no mark.
    assert "own spread" not in _report()


def test_the_mix_of_described_columns_is_apart_from_the_features_mix():
    text = _described_report()
    card = text.split("<h3>Segment 0: ")[1].split("<h3>Segment 1: ")[0]
    assert '<p class="muted">gender: largest group Male (50%)</p>' in card
    assert (
        '<p class="muted">Described only, not used to make the segments · region: mostly North (80%); race: mostly White (80%); '
        "maritl: mostly Married (80%); status: mostly Married (80%)</p>"
    ) in card
