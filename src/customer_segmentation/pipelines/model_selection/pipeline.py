"""Score k from k_min to k_max, pick k and fit the final segmentation model."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    assess_structure,
    choose_k_per_criterion,
    compare_algorithms,
    describe_preprocessing,
    fit_segmentation_model,
    measure_feature_separation,
    plot_algorithm_comparison,
    plot_criteria,
    plot_elbow,
    plot_silhouette,
    plot_silhouette_diagram,
    plot_stability,
    sample_for_selection,
    score_cluster_counts,
    select_cluster_count,
    summarise_model_selection,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                sample_for_selection,
                inputs=["encoded_features", "params:features.id_column", "params:model_selection"],
                outputs="selection_features",
                name="sample_for_selection",
            ),
            Node(
                score_cluster_counts,
                inputs=["selection_features", "params:model_selection"],
                outputs="cluster_count_scores",
                name="score_cluster_counts",
            ),
            Node(
                choose_k_per_criterion,
                inputs="cluster_count_scores",
                outputs="k_per_criterion",
                name="choose_k_per_criterion",
            ),
            Node(
                select_cluster_count,
                inputs=[
                    "cluster_count_scores",
                    "k_per_criterion",
                    "params:model_selection.criterion",
                    "params:model_selection.min_stability",
                ],
                outputs="selected_k",
                name="select_cluster_count",
            ),
            Node(
                assess_structure,
                inputs=["selection_features", "cluster_count_scores", "params:model_selection"],
                outputs="structure_assessment",
                name="assess_structure",
            ),
            Node(
                summarise_model_selection,
                inputs=[
                    "cluster_count_scores",
                    "k_per_criterion",
                    "selected_k",
                    "params:model_selection.criterion",
                    "structure_assessment",
                    "feature_separation",
                    "preprocessing_summary",
                    "algorithm_comparison",
                    "params:model_selection.min_stability",
                ],
                outputs="model_selection_metrics",
                name="summarise_model_selection",
            ),
            Node(
                measure_feature_separation,
                inputs=["selection_features", "segmentation_model", "params:features"],
                outputs="feature_separation",
                name="measure_feature_separation",
            ),
            Node(
                describe_preprocessing,
                inputs=["preprocessor", "params:preprocessing"],
                outputs="preprocessing_summary",
                name="describe_preprocessing",
            ),
            Node(
                compare_algorithms,
                inputs=["selection_features", "selected_k", "params:model_selection"],
                outputs="algorithm_comparison",
                name="compare_algorithms",
            ),
            Node(
                plot_algorithm_comparison,
                inputs="algorithm_comparison",
                outputs="algorithm_comparison_plot",
                name="plot_algorithm_comparison",
            ),
            Node(
                plot_criteria,
                inputs=["cluster_count_scores", "k_per_criterion", "selected_k"],
                outputs="criteria_plot",
                name="plot_criteria",
            ),
            Node(
                plot_stability,
                inputs=[
                    "cluster_count_scores",
                    "selected_k",
                    "params:model_selection.min_stability",
                ],
                outputs="stability_plot",
                name="plot_stability",
            ),
            Node(
                plot_silhouette_diagram,
                inputs=["selection_features", "segmentation_model", "params:model_selection"],
                outputs="silhouette_diagram",
                name="plot_silhouette_diagram",
            ),
            Node(
                plot_elbow,
                inputs=["cluster_count_scores", "selected_k"],
                outputs="elbow_plot",
                name="plot_elbow",
            ),
            Node(
                plot_silhouette,
                inputs=["cluster_count_scores", "selected_k"],
                outputs="silhouette_plot",
                name="plot_silhouette",
            ),
            Node(
                fit_segmentation_model,
                inputs=[
                    "encoded_features",
                    "selection_features",
                    "preprocessor",
                    "selected_k",
                    "params:features.id_column",
                    "params:model_selection",
                ],
                outputs="segmentation_model",
                name="fit_segmentation_model",
            ),
        ]
    )
