"""Join every customer to its segment, describe the segments, say what to do,
draw them once, compare with the previous run and write the report."""

from kedro.pipeline import Node, Pipeline

from customer_segmentation.engines import by_engine

from .drift import measure_drift
from .nodes import (
    profile_segments,
    sample_segmented_customers,
    segment_customers,
    select_target_customers,
)
from .plots import (
    plot_profile_heatmap,
    plot_segment_map,
    plot_segment_scatter,
    plot_segment_sizes,
)
from .recommendations import recommend_actions
from .report import build_segment_report
from .rules import fit_segment_rules

P = "params:segment_analysis."
SPARK = "customer_segmentation.pipelines.segment_analysis.spark_nodes."


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                by_engine(segment_customers, SPARK + "segment_customers"),
                inputs=["validated_customers", "customer_segments", "params:features.id_column"],
                outputs="segmented_customers",
                name="segment_customers",
            ),
            Node(
                by_engine(sample_segmented_customers, SPARK + "sample_segmented_customers"),
                inputs=[
                    "segmented_customers",
                    P + "sample_size",
                    "params:features.id_column",
                    P + "scatter.random_seed",
                ],
                outputs="segmented_customers_sample",
                name="sample_segmented_customers",
            ),
            Node(
                by_engine(profile_segments, SPARK + "profile_segments"),
                inputs=[
                    "segmented_customers",
                    "segmentation_model",
                    "params:features",
                    P + "naming",
                    "model_selection_metrics",
                ],
                outputs="segment_profiles",
                name="profile_segments",
            ),
            Node(
                recommend_actions,
                inputs=[
                    "segment_profiles",
                    P + "recommendations",
                    "params:features",
                    P + "naming",
                    P + "targeting",
                ],
                outputs="segment_recommendations",
                name="recommend_actions",
            ),
            Node(
                by_engine(select_target_customers, SPARK + "select_target_customers"),
                inputs=[
                    "customer_segments",
                    "segment_recommendations",
                    "params:features.id_column",
                    "params:segment_analysis.targeting.min_confidence",
                ],
                outputs="target_customers",
                name="select_target_customers",
            ),
            Node(
                plot_segment_sizes,
                inputs="segment_profiles",
                outputs="segment_sizes_plot",
                name="plot_segment_sizes",
            ),
            Node(
                plot_profile_heatmap,
                inputs=["segment_profiles", "params:features", P + "naming"],
                outputs="profile_heatmap_plot",
                name="plot_profile_heatmap",
            ),
            Node(
                plot_segment_map,
                inputs=[
                    "segmented_customers_sample",
                    "segment_profiles",
                    "segmentation_model",
                    P + "scatter",
                ],
                outputs="segment_map_plot",
                name="plot_segment_map",
            ),
            Node(
                plot_segment_scatter,
                inputs=[
                    "segmented_customers_sample",
                    "segment_profiles",
                    "params:features",
                    P + "scatter",
                    P + "naming",
                ],
                outputs="segment_scatter_plot",
                name="plot_segment_scatter",
            ),
            Node(
                measure_drift,
                inputs=[
                    "segmented_customers_sample",
                    "segment_profiles",
                    "previous_segmentation_model",
                    "previous_segment_profiles",
                    "segmentation_model_version",
                    "previous_segmentation_model_version",
                    "previous_segment_profiles_version",
                    "params:features",
                    P + "drift",
                ],
                outputs="drift_report",
                name="measure_drift",
            ),
            Node(
                by_engine(fit_segment_rules, SPARK + "fit_segment_rules"),
                inputs=[
                    "segmented_customers",
                    "segmented_customers_sample",
                    "segmentation_model",
                    "segmentation_model_version",
                    "segment_profiles",
                    "params:features",
                    P + "rules",
                    P + "naming.labels",
                ],
                outputs=["segment_rules", "segment_rules_sql"],
                name="fit_segment_rules",
            ),
            Node(
                build_segment_report,
                inputs=[
                    "segment_profiles",
                    "segment_recommendations",
                    "model_selection_metrics",
                    "segmented_customers_sample",
                    "segment_sizes_plot",
                    "profile_heatmap_plot",
                    "segment_map_plot",
                    "segment_scatter_plot",
                    "drift_report",
                    "source_summary",
                    "params:features",
                    P + "naming.labels",
                    P + "report.highlight_columns",
                    "segment_rules",
                    P + "targeting.min_confidence",
                ],
                outputs="segment_report",
                name="build_segment_report",
            ),
        ]
    )
