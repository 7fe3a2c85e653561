from customer_segmentation.pipelines.model_selection import create_pipeline as model_selection
from customer_segmentation.pipelines.preprocessing import create_pipeline as preprocessing
from customer_segmentation.pipelines.segment_analysis import create_pipeline
from tests.conftest import run_in_memory


def test_pipeline_segments_profiles_recommends_and_reports(fast_parameters, customers):
    prepared = run_in_memory(preprocessing(), fast_parameters, raw_customers=customers)
    selected = run_in_memory(
        model_selection(),
        fast_parameters,
        encoded_features=prepared["encoded_features"],
        preprocessor=prepared["preprocessor"],
    )
    outputs = run_in_memory(
        create_pipeline(),
        fast_parameters,
        validated_customers=prepared["validated_customers"],
        customer_segments=selected["customer_segments"],
        segmentation_model=selected["segmentation_model"],
        model_selection_metrics=selected["model_selection_metrics"],
        previous_segmentation_model=None,
        previous_segment_profiles=None,
        segmentation_model_version=None,
        previous_segmentation_model_version=None,
        previous_segment_profiles_version=None,
        source_summary={"rows": len(customers), "sha256": "0" * 64},
    )
    k = selected["model_selection_metrics"]["selected_k"]
    assert outputs["segmented_customers"]["segment"].nunique() == k
    assert outputs["segment_profiles"]["customers"].sum() == len(customers)
    assert sorted(outputs["segment_recommendations"]["priority"]) == list(range(1, k + 1))
    assert set(outputs["target_customers"]["priority"]) == {1, 2}
    assert outputs["segmented_customers"]["segment"].tolist() == (
        selected["customer_segments"]["segment"].tolist()
    )
    assert outputs["drift_report"] == {"previous_version": None, "drifted": False}
    for plot in (
        "segment_scatter_plot",
        "segment_map_plot",
        "profile_heatmap_plot",
        "segment_sizes_plot",
    ):
        assert outputs[plot][:4] == b"\x89PNG"
    report = outputs["segment_report"]
    assert report.startswith("<!DOCTYPE html>")
    # The report shows the drift (a first run here) and the source it read.
    assert "First run: nothing to compare." in report
    assert f"{len(customers):,} rows read from the customer table" in report
