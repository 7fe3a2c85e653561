from pathlib import Path

import pytest

from customer_segmentation.versioning.marks import mark_complete
from customer_segmentation.versioning.retention import main, plan_pruning

STAMPS = [f"2026-11-0{day}T10.00.00.000Z" for day in range(1, 7)]


@pytest.fixture
def data_dir(tmp_path) -> Path:
    for relative in ("01_raw/customers.parquet", "08_reporting/criteria_plot.png"):
        for stamp in STAMPS:
            version = tmp_path / relative / stamp
            version.mkdir(parents=True)
            (version / Path(relative).name).write_text(stamp)
    (tmp_path / "01_raw" / "examples").mkdir()
    (tmp_path / "01_raw" / "examples" / "marketing_campaign.csv").write_text("ID\n1\n")
    return tmp_path


def test_keeps_the_newest_and_the_pinned_versions(data_dir):
    doomed = plan_pruning(data_dir, keep=2, pinned={STAMPS[1]})
    assert sorted({p.name for p in doomed}) == [STAMPS[0], STAMPS[2], STAMPS[3]]
    assert len(doomed) == 6  # three per dataset


def test_dry_run_deletes_nothing_and_lists_everything(data_dir, capsys):
    main(["--keep", "3", "--data-dir", str(data_dir), "--dry-run"])
    output = capsys.readouterr().out
    assert output.count("would delete") == 6
    assert all((data_dir / "01_raw/customers.parquet" / s).exists() for s in STAMPS)


def test_prune_deletes_old_versions_only(data_dir):
    main(["--keep", "1", "--data-dir", str(data_dir), "--pin", STAMPS[0]])
    remaining = sorted(p.name for p in (data_dir / "08_reporting/criteria_plot.png").iterdir())
    assert remaining == [STAMPS[0], STAMPS[-1]]
    assert (data_dir / "01_raw" / "examples" / "marketing_campaign.csv").exists()


def test_keep_must_be_positive(data_dir):
    with pytest.raises(ValueError, match="at least 1"):
        plan_pruning(data_dir, keep=0, pinned=set())


def test_failed_runs_never_push_out_the_last_complete_versions(data_dir):
    model = data_dir / "06_models" / "segmentation_model.pkl"
    for stamp in STAMPS:
        (model / stamp).mkdir(parents=True)
        (model / stamp / model.name).write_text(stamp)
    for stamp in STAMPS[:3]:  # the last three runs failed
        mark_complete([model / stamp / model.name], stamp, {})
    doomed = {p.name for p in plan_pruning(data_dir, keep=2, pinned=set()) if p.parent == model}
    assert doomed == {STAMPS[0], STAMPS[3]}


def test_versions_made_from_a_pinned_version_are_kept(data_dir):
    profiles = data_dir / "08_reporting" / "segment_profiles.csv"
    (profiles / STAMPS[2]).mkdir(parents=True)
    mark_complete([profiles / STAMPS[2] / profiles.name], STAMPS[2], {"model": STAMPS[1]})
    for stamp in STAMPS[3:]:
        (profiles / stamp).mkdir()
        mark_complete([profiles / stamp / profiles.name], stamp, {"model": stamp})
    doomed = plan_pruning(data_dir, keep=1, pinned={STAMPS[1]})
    assert {p.name for p in doomed if p.parent == profiles} == {STAMPS[3], STAMPS[4]}
