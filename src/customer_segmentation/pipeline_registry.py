"""Project pipelines."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from customer_segmentation.pipelines import (
    data_generation,
    model_selection,
    preprocessing,
    scoring,
    segment_analysis,
)


def register_pipelines() -> dict[str, Pipeline]:
    """Registers the four training pipelines and ``scoring`` by name, plus
    ``segmentation`` (the last three training pipelines, for a user's own
    data) and ``__default__`` (all four training pipelines; scoring runs on
    its own, on a new batch).

    The pipelines are listed explicitly rather than discovered: Kedro's
    discovery only loads the pipeline named on the command line, which would
    leave the composite ``segmentation`` pipeline empty.
    """
    pipelines = {
        "data_generation": data_generation.create_pipeline(),
        "preprocessing": preprocessing.create_pipeline(),
        "model_selection": model_selection.create_pipeline(),
        "segment_analysis": segment_analysis.create_pipeline(),
        "scoring": scoring.create_pipeline(),
    }
    pipelines["segmentation"] = (
        pipelines["preprocessing"] + pipelines["model_selection"] + pipelines["segment_analysis"]
    )
    pipelines["__default__"] = pipelines["data_generation"] + pipelines["segmentation"]
    return pipelines
