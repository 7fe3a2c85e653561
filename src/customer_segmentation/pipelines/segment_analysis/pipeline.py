"""Assign every customer a segment, describe the segments and say what to do."""

from kedro.pipeline import Node, Pipeline

from ..preprocessing.nodes import validate_customers
from .nodes import (
    assign_segments,
    measure_drift,
    plot_profile_heatmap,
    plot_segment_map,
    plot_segment_scatter,
    plot_segment_sizes,
    profile_segments,
    recommend_actions,
    select_target_customers,
)
from .report import build_segment_report


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
                inputs=[
                    "customers_to_segment",
                    "customer_segments",
                    "segmentation_model",
                    "params:features",
                    "params:segment_analysis.naming",
                ],
                outputs="segment_profiles",
                name="profile_segments",
            ),
            Node(
                recommend_actions,
                inputs=[
                    "segment_profiles",
                    "params:segment_analysis.recommendations",
                    "params:features",
                    "params:segment_analysis.naming",
                ],
                outputs="segment_recommendations",
                name="recommend_actions",
            ),
            Node(
                select_target_customers,
                inputs=[
                    "customer_segments",
                    "segment_recommendations",
                    "params:features",
                    "params:segment_analysis.targeting",
                ],
                outputs="target_customers",
                name="select_target_customers",
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
            Node(
                plot_segment_map,
                inputs=[
                    "customers_to_segment",
                    "customer_segments",
                    "segmentation_model",
                    "params:features",
                    "params:segment_analysis.scatter",
                ],
                outputs="segment_map_plot",
                name="plot_segment_map",
            ),
            Node(
                plot_profile_heatmap,
                inputs=["segment_profiles", "params:features", "params:segment_analysis.naming"],
                outputs="profile_heatmap_plot",
                name="plot_profile_heatmap",
            ),
            Node(
                plot_segment_sizes,
                inputs="segment_profiles",
                outputs="segment_sizes_plot",
                name="plot_segment_sizes",
            ),
            Node(
                measure_drift,
                inputs=[
                    "customers_to_segment",
                    "segmentation_model",
                    "segment_profiles",
                    "previous_segmentation_model",
                    "previous_segment_profiles",
                    "params:features",
                    "params:segment_analysis.drift",
                ],
                outputs="drift_report",
                name="measure_drift",
            ),
            Node(
                build_segment_report,
                inputs=[
                    "segment_profiles",
                    "segment_recommendations",
                    "model_selection_metrics",
                    "customers_to_segment",
                    "customer_segments",
                    "segmentation_model",
                    "params:features",
                    "params:segment_analysis",
                ],
                outputs="segment_report",
                name="build_segment_report",
            ),
        ]
    )
