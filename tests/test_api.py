"""The Python API (``customer_segmentation.api``) on a trained project copy:
it scores a DataFrame in the process exactly as the scoring pipeline scores
the same file, picks the newest complete model (or a pinned one) with the
profiles, recommendations and report of its run, and refuses what a run
would refuse: damaged, unfinished or missing versions, an outdated model, a
batch without its feature columns."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import pandas as pd
import pytest

from customer_segmentation import load_segmentation
from customer_segmentation.api import ModelVersionError, NotAProjectError
from customer_segmentation.features import InvalidCustomerDataError
from customer_segmentation.model import OutdatedModelError
from customer_segmentation.pipelines.scoring.kernels import TooManyRejectsError
from customer_segmentation.versioning import DamagedVersionError, NoCompleteVersionError
from customer_segmentation.versioning.marks import COMPLETE_MARK, file_checksums, lineage

from .conftest import run_session, version_file, versions

MODEL = "data/06_models/segmentation_model.pkl"
PROFILES = "data/08_reporting/segment_profiles.csv"
RECOMMENDATIONS = "data/08_reporting/segment_recommendations.csv"
REPORT = "data/08_reporting/segment_report.html"
EXAMPLE_BATCH = Path("data/01_raw/examples/customers_to_score.csv")
# A version stamp newer than any run of the tests.
LATER = "2099-01-01T00.00.00.000Z"
OLD_MODEL = Path(__file__).parent / "data" / "head_segmentation_model.pkl"


def _batch(project: Path) -> pd.DataFrame:
    """The example batch as a notebook reads it: ids as text, blank lines kept."""
    return pd.read_csv(project / EXAMPLE_BATCH, dtype={"customer_id": str}, skip_blank_lines=False)


def _files(project: Path) -> dict[str, int]:
    """Every file of a project copy with its modification time."""
    return {str(p): p.stat().st_mtime_ns for p in project.rglob("*") if p.is_file()}


def _copy_run(project: Path, version: str, new: str, with_mark: bool = True) -> None:
    """Copies what a training run wrote for the API (model, profiles,
    recommendations, report) at ``version`` as a run stamped ``new`` would
    have written it: its marks name ``new`` where they named ``version``.
    Without ``with_mark``, the model alone, left unfinished."""
    for relative in (MODEL, PROFILES, RECOMMENDATIONS, REPORT) if with_mark else (MODEL,):
        folder = project / relative
        shutil.copytree(folder / version, folder / new)
        mark = folder / new / COMPLETE_MARK
        if not with_mark:
            mark.unlink()
            continue
        record = json.loads(mark.read_text())
        record["run"] = new
        record["lineage"] = {k: new if v == version else v for k, v in record["lineage"].items()}
        mark.write_text(json.dumps(record))


def test_scores_a_dataframe_exactly_as_the_scoring_pipeline(trained_project):
    segmentation = load_segmentation(trained_project)
    batch = _batch(trained_project)
    untouched = batch.copy()
    result = segmentation.score(batch)
    pd.testing.assert_frame_equal(batch, untouched)

    run_session(trained_project, "scoring", params={})
    scored = pd.read_parquet(
        version_file(trained_project, "data/07_model_output/scored_customers.parquet")
    )
    rejects = pd.read_csv(
        version_file(trained_project, "data/08_reporting/scoring_rejects.csv"),
        dtype={"customer_id": str},
    )
    summary = json.loads(
        version_file(
            trained_project, "data/08_reporting/customers_to_score_summary.json"
        ).read_text()
    )
    pd.testing.assert_frame_equal(result.scored, scored)
    pd.testing.assert_frame_equal(result.rejects, rejects, check_dtype=False)
    assert dict(result.summary) == summary
    assert len(result.rejects) > 0 and len(result.scored) + len(result.rejects) == len(batch)
    assert set(result.scored["model_version"]) == {segmentation.version}

    # One segmentation serves concurrent requests (a service's threads) alike.
    with ThreadPoolExecutor(4) as pool:
        concurrent = list(pool.map(segmentation.score, [batch] * 8))
    for each in concurrent:
        pd.testing.assert_frame_equal(each.scored, result.scored)
        pd.testing.assert_frame_equal(each.rejects, result.rejects)

    # The pipeline's reject-share limit, when asked for; the lines, from any first line.
    with pytest.raises(
        TooManyRejectsError, match="see the rejects in this error.s result"
    ) as refused:
        segmentation.score(batch, max_reject_share=0.0)
    pd.testing.assert_frame_equal(refused.value.result.rejects, result.rejects)
    from_zero = segmentation.score(batch, first_line=0).rejects
    assert list(from_zero["line"]) == list(result.rejects["line"] - 2)

    # A batch without a feature column is refused, as the scoring run refuses it.
    with pytest.raises(InvalidCustomerDataError, match=r"lacks the columns \['age'\]"):
        segmentation.score(batch.drop(columns="age"))


def test_the_segments_come_with_the_profiles_actions_and_report_of_the_models_run(
    trained_project,
):
    before = _files(trained_project)
    segmentation = load_segmentation(trained_project)
    segmentation.score(_batch(trained_project))
    assert _files(trained_project) == before  # no run, no lock, nothing written
    model_version = versions(trained_project, MODEL)[-1]
    assert segmentation.version == model_version
    assert segmentation.versions == dict.fromkeys(
        ["segmentation_model", "segment_profiles", "segment_recommendations", "segment_report"],
        model_version,
    )
    pd.testing.assert_frame_equal(
        segmentation.profiles, pd.read_csv(version_file(trained_project, PROFILES, model_version))
    )
    assert set(segmentation.recommendations["segment"]) == set(segmentation.profiles["segment"])
    report = segmentation.report_path
    assert report == version_file(trained_project, REPORT, model_version) and report.is_file()
    assert lineage(report.parent.parent, model_version)["segmentation_model"] == model_version
    assert len(repr(segmentation).splitlines()) == 1  # no table or model dumped in a notebook


def test_newest_complete_model_or_the_pinned_one(trained_project):
    first = versions(trained_project, MODEL)[-1]
    _copy_run(trained_project, first, LATER)
    newest = load_segmentation(trained_project)
    assert newest.version == LATER
    assert newest.report_path == version_file(trained_project, REPORT, LATER)

    pinned = load_segmentation(trained_project, version=first)
    assert pinned.version == first and set(pinned.versions.values()) == {first}
    assert set(pinned.score(_batch(trained_project)).scored["model_version"]) == {first}
    with pytest.raises(
        ModelVersionError,
        match=f"no complete version 2000.*newest complete versions are {LATER}, {first}",
    ):
        load_segmentation(trained_project, version="2000-01-01T00.00.00.000Z")

    # Pruned: no report of the pinned model's run, then no profiles either.
    shutil.rmtree(trained_project / REPORT / first)
    assert load_segmentation(trained_project, version=first).report_path is None
    shutil.rmtree(trained_project / PROFILES / first)
    with pytest.raises(
        ModelVersionError,
        match=f"no complete 'segment_profiles' made with it.*segmentation_model:{first}`",
    ):
        load_segmentation(trained_project, version=first)


def test_an_unfinished_newer_model_is_never_read(trained_project):
    finished = versions(trained_project, MODEL)[-1]
    _copy_run(trained_project, finished, LATER, with_mark=False)
    assert load_segmentation(trained_project).version == finished
    with pytest.raises(ModelVersionError, match=f"no complete version {LATER}.*did not finish"):
        load_segmentation(trained_project, version=LATER)


def test_a_damaged_version_is_refused(trained_project):
    version = versions(trained_project, PROFILES)[-1]
    with version_file(trained_project, PROFILES, version).open("a") as profiles:
        profiles.write("\n")
    with pytest.raises(
        DamagedVersionError,
        match=f"'segment_profiles' version {version} is damaged: segment_profiles.csv.*restore",
    ):
        load_segmentation(trained_project)


def test_a_model_saved_by_an_older_release_is_refused(trained_project):
    version = versions(trained_project, MODEL)[-1]
    folder = trained_project / MODEL / version
    joblib.dump(joblib.load(OLD_MODEL), folder / "segmentation_model.pkl")
    record = json.loads((folder / COMPLETE_MARK).read_text())
    (folder / COMPLETE_MARK).write_text(json.dumps({**record, "sha256": file_checksums(folder)}))
    with pytest.raises(OutdatedModelError, match="older release"):
        load_segmentation(trained_project)


def test_without_a_trained_model_it_says_how_to_train_one(project_copy):
    with pytest.raises(NoCompleteVersionError, match="no complete version.*`kedro run`"):
        load_segmentation(project_copy / "notebooks")  # any folder of the project
    # The environment's own data and command, as `kedro run --env` reads them.
    with pytest.raises(
        NoCompleteVersionError, match="`kedro run --env crm_example --pipelines segmentation`"
    ):
        load_segmentation(project_copy, env="crm_example")
    with pytest.raises(NotAProjectError, match="not inside a Kedro project"):
        load_segmentation(project_copy.parent)


def test_the_package_imports_the_api_only_when_asked():
    code = (
        "import sys, customer_segmentation\n"
        "assert 'customer_segmentation.api' not in sys.modules and 'kedro' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert load_segmentation.__module__ == "customer_segmentation.api"
