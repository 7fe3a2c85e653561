"""The Python API: segments for a pandas DataFrame in a notebook or a
service, without a Kedro run.

    from customer_segmentation import load_segmentation

    segmentation = load_segmentation()  # the newest complete model of the project
    result = segmentation.score(customers)  # a pandas DataFrame of customers
    result.scored, result.rejects

``load_segmentation`` reads the project's configuration the Kedro way (its
settings, configuration loader and catalog, ``env`` as ``kedro run --env``),
then picks the versions a ``kedro run --pipelines scoring`` would read: the
newest complete ``segmentation_model`` (or the one pinned with ``version``)
and the ``segment_profiles`` made with it, by the marks and lineage of the
versioning layer, and checks them against the checksums recorded when their
run finished. The ``segment_recommendations`` and ``segment_report`` of the
same lineage come with them. It runs no pipeline, takes no run lock and
writes nothing, so it may load while a training run is under way: a run's
versions become visible once it has finished.

``Segmentation.score`` screens and scores a DataFrame with the scoring
pipeline's own node functions, so a row is scored, filled or rejected
exactly as ``kedro run --pipelines scoring`` would do it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.utils import find_kedro_project
from sklearn.pipeline import Pipeline

from customer_segmentation import model as contract
from customer_segmentation.errors import UserError
from customer_segmentation.pipelines.scoring import nodes as scoring
from customer_segmentation.pipelines.scoring.kernels import (
    TooManyRejectsError,
    segment_names_and_version,
)
from customer_segmentation.sources import describe_table
from customer_segmentation.versioning import kedro_adapter
from customer_segmentation.versioning.choice import choose_consistent_versions
from customer_segmentation.versioning.hooks import (
    DamagedVersionError,
    no_complete_version,  # the one home of that refusal and its command
)
from customer_segmentation.versioning.marks import (
    all_versions,
    complete_versions,
    damaged_files,
    lineage,
)

__all__ = [
    "ModelVersionError",
    "NotAProjectError",
    "ScoringResult",
    "Segmentation",
    "load_segmentation",
]

logger = logging.getLogger(__name__)

MODEL = "segmentation_model"
PROFILES = "segment_profiles"
RECOMMENDATIONS = "segment_recommendations"
REPORT = "segment_report"
# What scoring needs, and what comes with it when its run wrote it.
REQUIRED = (MODEL, PROFILES)
OPTIONAL = (RECOMMENDATIONS, REPORT)
# How many of the newest complete versions an error lists.
LISTED = 5


class NotAProjectError(UserError, LookupError):
    """``project_path`` is not inside a Kedro project."""


class ModelVersionError(UserError, LookupError):
    """The model asked for cannot be used: a pinned version that is not
    complete, a model without profiles of its own, or a catalog entry that is
    not versioned."""


@dataclass(frozen=True, eq=False)
class ScoringResult:
    """What ``Segmentation.score`` made of a DataFrame; every row is in
    ``scored`` or in ``rejects``.

    - ``scored``: one row per scored customer, as ``scored_customers``: the
      id column, ``segment``, ``confidence``, ``segment_name``,
      ``model_version`` and ``filled`` (the feature columns whose missing
      value was filled as in training; empty when none).
    - ``rejects``: one row per rejected customer, as ``scoring_rejects``:
      ``line`` (the row's position plus ``first_line``), the id column and
      ``reason``.
    - ``summary``: what the DataFrame held (``rows``, ``columns``,
      ``sha256`` of its content), as ``customers_to_score_summary``.
    """

    scored: pd.DataFrame
    rejects: pd.DataFrame
    summary: Mapping[str, Any]


@dataclass(frozen=True, eq=False)
class Segmentation:
    """A trained segmentation, loaded by ``load_segmentation``: the model and
    what its training run wrote about its segments. Read-only: ``score``
    changes nothing, so one instance serves every request of a service,
    from any number of threads.

    - ``version``: the model's version stamp (its folder under
      ``06_models/segmentation_model.pkl/``).
    - ``model``: the fitted scikit-learn ``Pipeline`` (``customer_segmentation.model``).
    - ``profiles``: ``segment_profiles`` made with this model, one row per segment.
    - ``recommendations``: ``segment_recommendations`` of the same run (one
      action per segment, by priority); None when no complete version of it
      was made from this model.
    - ``report_path``: the HTML report of the same run; None likewise.
    - ``versions``: the version of each of those datasets that was read.
    - ``parameters``: the project's parameters in this environment, validated
      (``features`` and ``scoring`` decide how a DataFrame is screened).
    """

    version: str
    model: Pipeline = field(repr=False)
    profiles: pd.DataFrame = field(repr=False)
    recommendations: pd.DataFrame | None = field(repr=False)
    report_path: Path | None
    versions: Mapping[str, str]
    parameters: Mapping[str, Any] = field(repr=False)

    def score(
        self,
        customers: pd.DataFrame,
        *,
        first_line: int | None = None,
        max_reject_share: float | None = None,
    ) -> ScoringResult:
        """Segments for ``customers`` (a DataFrame with the id and feature
        columns of ``features``), screened, filled and rejected by the scoring
        pipeline's own nodes: see ``ScoringResult``. ``customers`` is not
        changed.

        ``first_line`` is the ``line`` the first row takes in the rejects
        (default ``scoring.first_line``: 2, the first data line of a CSV
        file with a header). With ``max_reject_share``, more rejects than
        that share of the rows raise ``TooManyRejectsError``, as the scoring
        pipeline does with ``scoring.max_reject_share`` (its ``result`` holds
        the ``ScoringResult``: the rejects, for the caller to show or store);
        without it, no limit (a service scoring one customer at a time).

        A DataFrame that lacks the id or a feature column raises
        ``InvalidCustomerDataError``, as the scoring pipeline refuses such a
        batch; a model saved by an older release, ``OutdatedModelError``."""
        if not isinstance(customers, pd.DataFrame):
            raise TypeError(
                f"score takes a pandas DataFrame of customers, not {type(customers).__name__}"
            )
        features = self.parameters["features"]
        settings = dict(self.parameters["scoring"])
        if first_line is not None:
            settings["first_line"] = first_line
        summary = describe_table(customers)
        scorable, rejects = scoring.screen_customers_to_score(
            customers, self.model, features, settings
        )
        scored = scoring.score_customers(
            scorable, self.model, self.version, self.profiles, features["id_column"]
        )
        result = ScoringResult(scored=scored, rejects=rejects, summary=summary)
        if max_reject_share is not None:
            try:
                scoring.check_reject_share(scored, rejects, max_reject_share)
            except TooManyRejectsError as error:
                error.result = result  # the rejects, for the caller to show or store
                raise
        return result


def load_segmentation(
    project_path: str | Path | None = None,
    env: str | None = None,
    version: str | None = None,
) -> Segmentation:
    """The newest complete segmentation model of a project (or the one
    ``version`` pins), with the profiles, recommendations and report of its
    lineage, ready to ``score`` DataFrames.

    ``project_path``: the project folder or any folder inside it (default:
    the working directory, so a notebook in ``notebooks/`` finds its
    project). ``env``: the configuration environment, as ``kedro run
    --env`` (default: ``KEDRO_ENV``, else ``conf/local`` over
    ``conf/base``). ``version``: a version stamp of ``segmentation_model``
    that a finished run wrote.

    Errors, each with what to do: ``NoCompleteVersionError`` (no trained
    model yet: the command that trains one), ``ModelVersionError`` (a
    pinned version that is not complete, listing the newest that are),
    ``DamagedVersionError`` (files changed since their run finished),
    ``OutdatedModelError`` (a model saved by an older release),
    ``NotAProjectError`` and the configuration's own errors."""
    project = _project(Path(project_path) if project_path is not None else Path.cwd())
    with _kedro_quiet():
        bootstrap_project(project)
        with KedroSession.create(project_path=project, env=env, save_on_close=False) as session:
            context = session.load_context()
        catalog = context.catalog
        versions = _choose_versions(catalog, version, context.env)
        model = catalog.load(MODEL, version=versions[MODEL])
        contract.require_current(model)
        profiles = catalog.load(PROFILES, version=versions[PROFILES])
        # The scoring pipeline's own check that the names belong to this model.
        segment_names_and_version(model, versions[MODEL], profiles)
        recommendations = (
            catalog.load(RECOMMENDATIONS, version=versions[RECOMMENDATIONS])
            if RECOMMENDATIONS in versions
            else None
        )
    report_path = (
        kedro_adapter.versioned_path(catalog.get(REPORT), versions[REPORT])
        if REPORT in versions
        else None
    )
    logger.info(
        "Loaded segmentation_model %s with %s",
        versions[MODEL],
        ", ".join(f"{name} {v}" for name, v in versions.items() if name != MODEL),
    )
    return Segmentation(
        version=versions[MODEL],
        model=model,
        profiles=profiles,
        recommendations=recommendations,
        report_path=report_path,
        versions=versions,
        parameters=context.params,
    )


@contextlib.contextmanager
def _kedro_quiet() -> Iterator[None]:
    """Kedro's own INFO lines (a line per dataset loaded, the session's
    set-up) off while loading: in a notebook or a service's log they say
    nothing the one line of ``load_segmentation`` does not."""
    kedro_logger = logging.getLogger("kedro")
    level = kedro_logger.level
    kedro_logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        kedro_logger.setLevel(level)


def _project(start: Path) -> Path:
    """The Kedro project that holds ``start``."""
    project = find_kedro_project(start.resolve())
    if project is None:
        raise NotAProjectError(
            f"{start} is not inside a Kedro project (no pyproject.toml with a [tool.kedro] "
            "section in it or above it): pass project_path, the folder that holds conf/"
        )
    return project


def _choose_versions(catalog: Any, pinned: str | None, env: str | None) -> dict[str, str]:
    """The version of each dataset to read, as the versioning hook chooses
    a scoring run's inputs: the newest complete model and profiles that
    agree (``choose_consistent_versions``), or the profiles that agree with
    the pinned model; then the recommendations and report that agree with
    both, left out when none of them was made from this model. Every chosen
    version is checked against its recorded checksums."""
    folders = {}
    for name in (*REQUIRED, *OPTIONAL):
        dataset = catalog.get(name)
        if dataset is not None and kedro_adapter.is_versioned(dataset):
            folders[name] = kedro_adapter.version_folder(dataset)
        elif name in REQUIRED:
            raise ModelVersionError(
                f"'{name}' is not a versioned entry of this environment's catalog: the Python "
                "API reads only complete, checked versions (set versioned: true)"
            )
    complete = {name: complete_versions(folder) for name, folder in folders.items()}
    _require_complete(complete, folders, catalog, env)
    if pinned is not None and pinned not in complete[MODEL]:
        raise ModelVersionError(
            f"'{MODEL}' has no complete version {pinned} in {folders[MODEL]}"
            + (" (its run did not finish)" if pinned in all_versions(folders[MODEL]) else "")
            + f"; the newest complete versions are {_newest(complete[MODEL])}"
        )
    lineage_of = functools.cache(lambda name, version: lineage(folders[name], version))
    fixed = {MODEL: pinned} if pinned else {}
    required = {name: complete[name] for name in REQUIRED if name not in fixed}
    chosen = {**fixed, **choose_consistent_versions(required, fixed, lineage_of)}
    model_version = chosen[MODEL]
    if lineage_of(PROFILES, chosen[PROFILES]).get(MODEL, model_version) != model_version:
        option = f" --env {env}" if env else ""
        raise ModelVersionError(
            f"'{MODEL}' version {model_version} has no complete '{PROFILES}' made with it, so "
            f"its segments have no names: profile it with `kedro run{option} --pipelines "
            f"segment_analysis --load-versions {MODEL}:{model_version}`, or load another "
            f"version (the newest complete: {_newest(complete[MODEL])})"
        )
    optional = {name: complete[name] for name in OPTIONAL if complete.get(name)}
    for name, version in choose_consistent_versions(optional, chosen, lineage_of).items():
        if lineage_of(name, version).get(MODEL, model_version) == model_version:
            chosen[name] = version
    _verify(chosen, folders, complete[MODEL])
    return chosen


def _require_complete(
    complete: dict[str, list[str]], folders: dict[str, Path], catalog: Any, env: str | None
) -> None:
    """Refuses, as a scoring run does, when the model or the profiles have
    no complete version, with the command that writes them."""
    missing = {name: folders[name] for name in REQUIRED if not complete[name]}
    if missing:
        raise no_complete_version(missing, catalog, env)


def _verify(chosen: dict[str, str], folders: dict[str, Path], models: list[str]) -> None:
    """Checks every chosen version against the checksums in its mark, as a
    run checks its inputs; a damaged one raises ``DamagedVersionError``
    naming the model version to load instead."""
    unchecked = []
    for name, version in chosen.items():
        damaged = damaged_files(folders[name], version)
        if damaged is None:
            unchecked.append(f"{name} {version}")
        elif damaged:
            earlier = [v for v in models if v < chosen[MODEL]]
            remedy = (
                f"Load the model before it with load_segmentation(version={earlier[-1]!r}), "
                "or restore its files"
                if earlier
                else "There is no earlier complete model: restore its files, or train again"
            )
            raise DamagedVersionError(
                f"'{name}' version {version} is damaged: {', '.join(damaged)} in "
                f"{folders[name] / version} no longer match the checksums recorded when its "
                f"run finished. {remedy}"
            )
    if unchecked:
        logger.warning(
            "Read without a checksum check (marked complete before checksums were recorded): %s",
            ", ".join(unchecked),
        )


def _newest(versions: list[str]) -> str:
    """The newest few of ``versions`` (oldest first), newest first."""
    return ", ".join(reversed(versions[-LISTED:])) or "none"
