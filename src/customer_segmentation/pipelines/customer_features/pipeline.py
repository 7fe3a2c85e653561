"""Clean the transaction log by counted rules, then one row of features per customer."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_customer_features, clean_transactions


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                clean_transactions,
                inputs=["transactions", "params:customer_features"],
                outputs=["clean_transactions", "transaction_rejects", "transactions_summary"],
                name="clean_transactions",
            ),
            Node(
                build_customer_features,
                inputs=["clean_transactions", "params:customer_features"],
                outputs="customer_features",
                name="build_customer_features",
            ),
        ]
    )
