from customer_segmentation.pipelines.model_selection import create_pipeline
from customer_segmentation.pipelines.preprocessing import create_pipeline as preprocessing
from tests.conftest import run_in_memory


def test_pipeline_selects_k_and_fits_model(fast_parameters, customers):
    prepared = run_in_memory(preprocessing(), fast_parameters, raw_customers=customers)
    outputs = run_in_memory(
        create_pipeline(),
        fast_parameters,
        encoded_features=prepared["encoded_features"],
        preprocessor=prepared["preprocessor"],
    )
    metrics = outputs["model_selection_metrics"]
    assert metrics["selected_k"] == outputs["selected_k"]
    assert [row["k"] for row in metrics["scores"]] == list(range(2, 7))
    segments = outputs["segmentation_model"].predict(customers)
    assert len(set(segments)) == metrics["selected_k"]
    assert {"criteria_plot", "silhouette_diagram_plot", "algorithm_comparison_plot"} <= set(outputs)
