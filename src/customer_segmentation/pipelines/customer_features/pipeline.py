"""Clean the transaction log by counted rules, then one row of features per customer."""

from kedro.pipeline import Node, Pipeline

from customer_segmentation.engines import by_engine

from .nodes import build_customer_features, clean_transactions

SPARK = "customer_segmentation.pipelines.customer_features.spark_nodes."


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                by_engine(clean_transactions, SPARK + "clean_transactions"),
                inputs=["transactions", "params:customer_features"],
                outputs=["clean_transactions", "transaction_rejects", "transactions_summary"],
                name="clean_transactions",
            ),
            Node(
                by_engine(build_customer_features, SPARK + "build_customer_features"),
                inputs=["clean_transactions", "params:customer_features"],
                outputs="customer_features",
                name="build_customer_features",
            ),
        ]
    )
