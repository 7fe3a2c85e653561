"""Record what the batch held, screen it, assign segments with a fitted model,
and fail the run when too much of the batch was rejected."""

from kedro.pipeline import Node, Pipeline

from customer_segmentation.engines import by_engine
from customer_segmentation.sources import describe_table

from .nodes import check_reject_share, score_customers, screen_customers_to_score

SPARK = "customer_segmentation.pipelines.scoring.spark_nodes."


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                describe_table,
                inputs="customers_to_score",
                outputs="customers_to_score_summary",
                name="describe_customers_to_score",
            ),
            Node(
                by_engine(screen_customers_to_score, SPARK + "screen_customers_to_score"),
                inputs=[
                    "customers_to_score",
                    "segmentation_model",
                    "params:features",
                    "params:scoring",
                ],
                outputs=["scorable_customers", "scoring_rejects"],
                name="screen_customers_to_score",
            ),
            Node(
                by_engine(score_customers, SPARK + "score_customers"),
                inputs=[
                    "scorable_customers",
                    "segmentation_model",
                    "segmentation_model_version",
                    "segment_profiles",
                    "params:features.id_column",
                ],
                outputs="scored_customers",
                name="score_customers",
            ),
            Node(
                by_engine(check_reject_share, SPARK + "check_reject_share"),
                inputs=["scored_customers", "scoring_rejects", "params:scoring.max_reject_share"],
                outputs=None,
                name="check_reject_share",
            ),
        ]
    )
