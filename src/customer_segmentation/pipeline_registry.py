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
    where it reads ``raw_customers``), ``scoring_from_transactions`` (the
    ``customer_features`` nodes turning ``transactions_to_score`` into
    ``features_to_score``, then ``scoring`` reading ``features_to_score``
    where it reads ``customers_to_score``) and ``__default__`` (all four
    training pipelines; scoring runs on its own, on a new batch).

    The report's ``source_summary`` is the record of what the segmented
    table came from: ``raw_customers_summary``, or ``transactions_summary``
    in ``segmentation_from_transactions``.

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
    training = pipelines["preprocessing"] + pipelines["model_selection"]
    analysis = pipelines["segment_analysis"]
    pipelines["segment_analysis"] = _with_source(analysis, "raw_customers_summary")
    pipelines["segmentation"] = training + pipelines["segment_analysis"]
    pipelines["segmentation_from_transactions"] = pipelines["customer_features"] + Pipeline(
        training + _with_source(analysis, "transactions_summary"),
        inputs={"raw_customers": "customer_features"},
    )
    pipelines["scoring_from_transactions"] = Pipeline(
        pipelines["customer_features"],
        inputs={"transactions": "transactions_to_score"},
        outputs={
            "clean_transactions": "clean_transactions_to_score",
            "transaction_rejects": "transactions_to_score_rejects",
            "transactions_summary": "transactions_to_score_summary",
            "customer_features": "features_to_score",
        },
    ) + Pipeline(pipelines["scoring"], inputs={"customers_to_score": "features_to_score"})
    pipelines["__default__"] = pipelines["data_generation"] + pipelines["segmentation"]
    return pipelines


def _with_source(analysis: Pipeline, summary: str) -> Pipeline:
    """``segment_analysis`` with the report's ``source_summary`` read from
    ``summary``."""
    return Pipeline(analysis, inputs={"source_summary": summary})
