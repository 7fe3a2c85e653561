"""Project pipelines."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from customer_segmentation.pipelines import (
    customer_features,
    data_generation,
    model_selection,
    preprocessing,
    scoring,
    segment_analysis,
)


def register_pipelines() -> dict[str, Pipeline]:
    """Registers the four training pipelines, ``customer_features`` and
    ``scoring`` by name, plus ``segmentation`` (the last three training
    pipelines, for a user's own customer table), ``segmentation_from_transactions``
    (``customer_features``, then ``segmentation`` reading ``customer_features``
    where it reads ``raw_customers``) and ``__default__`` (all four training
    pipelines; scoring runs on its own, on a new batch).

    The pipelines are listed explicitly rather than discovered: Kedro's
    discovery only loads the pipeline named on the command line, which would
    leave the composite ``segmentation`` pipeline empty.

    Each pipeline's nodes sit in a namespace of the pipeline's name (dataset
    names are not prefixed), so ``kedro viz`` shows the pipelines as
    collapsible blocks and ``kedro airflow create --group-by namespace`` makes
    one Airflow task per pipeline. Pipelines hand over data only through
    persisted catalog entries, so each can run in a separate process.
    """
    modules = {
        "customer_features": customer_features,
        "data_generation": data_generation,
        "preprocessing": preprocessing,
        "model_selection": model_selection,
        "segment_analysis": segment_analysis,
        "scoring": scoring,
    }
    pipelines = {
        name: Pipeline(
            module.create_pipeline(), namespace=name, prefix_datasets_with_namespace=False
        )
        for name, module in modules.items()
    }
    pipelines["segmentation"] = (
        pipelines["preprocessing"] + pipelines["model_selection"] + pipelines["segment_analysis"]
    )
    pipelines["segmentation_from_transactions"] = pipelines["customer_features"] + Pipeline(
        pipelines["segmentation"], inputs={"raw_customers": "customer_features"}
    )
    pipelines["__default__"] = pipelines["data_generation"] + pipelines["segmentation"]
    return pipelines
