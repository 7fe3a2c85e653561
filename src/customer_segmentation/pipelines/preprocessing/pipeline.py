"""Record what ``raw_customers`` held, validate it once, then fit and apply one
preprocessor (``model.SegmentPreprocessor``)."""

from kedro.pipeline import Node, Pipeline

from customer_segmentation.engines import by_engine
from customer_segmentation.sources import describe_table

from .nodes import encode_features, fit_preprocessor, validate_customers

SPARK = "customer_segmentation.pipelines.preprocessing.spark_nodes."


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                describe_table,
                inputs="raw_customers",
                outputs="raw_customers_summary",
                name="describe_raw_customers",
            ),
            Node(
                by_engine(validate_customers, SPARK + "validate_customers"),
                inputs=[
                    "raw_customers",
                    "params:features",
                    "params:preprocessing.min_rows",
                    "params:preprocessing.first_line",
                ],
                outputs="validated_customers",
                name="validate_customers",
            ),
            Node(
                by_engine(fit_preprocessor, SPARK + "fit_preprocessor"),
                inputs=["validated_customers", "params:features", "params:preprocessing"],
                outputs="preprocessor",
                name="fit_preprocessor",
            ),
            Node(
                by_engine(encode_features, SPARK + "encode_features"),
                inputs=["validated_customers", "preprocessor", "params:features.id_column"],
                outputs="encoded_features",
                name="encode_features",
            ),
        ]
    )
