"""Assign every customer a segment and describe the segments."""

from kedro.pipeline import Node, Pipeline

from ..preprocessing.nodes import validate_customers
from .nodes import assign_segments, plot_segment_scatter, profile_segments


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                validate_customers,
                inputs=["raw_customers", "params:features", "params:model_selection.k_max"],
                outputs="customers_to_segment",
                name="validate_customers_to_segment",
            ),
            Node(
                assign_segments,
                inputs=["customers_to_segment", "segmentation_model", "params:features"],
                outputs="customer_segments",
                name="assign_segments",
            ),
            Node(
                profile_segments,
                inputs=["customers_to_segment", "customer_segments", "params:features"],
                outputs="segment_profiles",
                name="profile_segments",
            ),
            Node(
                plot_segment_scatter,
                inputs=[
                    "customers_to_segment",
                    "customer_segments",
                    "params:features",
                    "params:segment_analysis.scatter",
                ],
                outputs="segment_scatter_plot",
                name="plot_segment_scatter",
            ),
        ]
    )
