from customer_segmentation.pipelines.preprocessing import create_pipeline as preprocessing
from customer_segmentation.pipelines.segment_analysis import create_pipeline
from tests.conftest import fit_model, run_in_memory


def test_pipeline_segments_and_profiles(parameters, customers, model_selection_params):
    prepared = run_in_memory(preprocessing(), parameters, raw_customers=customers)
    model = fit_model(
        prepared["encoded_features"], prepared["preprocessor"], 3, model_selection_params
    )
    outputs = run_in_memory(
        create_pipeline(), parameters, raw_customers=customers, segmentation_model=model
    )
    assert outputs["customer_segments"]["segment"].nunique() == 3
    assert outputs["segment_profiles"]["customers"].sum() == len(customers)
    assert outputs["segment_scatter_plot"].axes
