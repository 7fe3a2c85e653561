from customer_segmentation.pipelines.data_generation import create_pipeline
from tests.conftest import run_in_memory


def test_pipeline_writes_raw_customers(parameters, generation_params):
    outputs = run_in_memory(create_pipeline(), parameters)
    raw = outputs["raw_customers"]
    assert len(raw) == generation_params["n_customers"]
    assert set(raw["persona"]) == set(generation_params["personas"])
