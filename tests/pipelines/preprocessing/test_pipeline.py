from customer_segmentation.model import SegmentPreprocessor
from customer_segmentation.pipelines.preprocessing import create_pipeline
from tests.conftest import run_in_memory


def test_pipeline_fits_preprocessor_and_encodes(parameters, customers, features):
    outputs = run_in_memory(create_pipeline(), parameters, raw_customers=customers)
    assert isinstance(outputs["preprocessor"], SegmentPreprocessor)
    encoded = outputs["encoded_features"]
    assert len(encoded) == len(customers)
    assert encoded.columns[0] == features["id_column"]
    assert "persona" not in encoded.columns
