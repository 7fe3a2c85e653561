"""Score k from k_min to k_max, pick k, fit the final segmentation model and
segment every customer; then the metrics and pictures of the choice."""

from kedro.pipeline import Node, Pipeline

from customer_segmentation.engines import by_engine

from .comparison import compare_algorithms
from .final_fit import fit_segmentation_model
from .k_selection import (
    choose_k_per_criterion,
    sample_for_selection,
    score_cluster_counts,
    select_cluster_count,
)
from .mixture import choose_algorithm
from .plots import (
    plot_algorithm_comparison,
    plot_criteria,
    plot_silhouette_diagram,
)
from .segment_stability import measure_segment_stability
from .structure import assess_structure, measure_feature_separation
from .summary import describe_preprocessing, summarise_model_selection

P = "params:model_selection."
SPARK = "customer_segmentation.pipelines.model_selection.spark_nodes."


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                by_engine(sample_for_selection, SPARK + "sample_for_selection"),
                inputs={
                    "encoded_features": "encoded_features",
                    "id_column": "params:features.id_column",
                    "sample_size": P + "selection_sample_size",
                    "random_seed": P + "random_seed",
                },
                outputs="selection_features",
                name="sample_for_selection",
            ),
            Node(
                score_cluster_counts,
                inputs={
                    "selection_features": "selection_features",
                    **{
                        key: P + key
                        for key in (
                            "k_min",
                            "k_max",
                            "n_init",
                            "random_seed",
                            "silhouette_sample_size",
                            "stability_resamples",
                            "stability_sample_size",
                            "stability_n_init",
                            "bic_sample_size",
                        )
                    },
                },
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
                    P + "criterion",
                    P + "min_stability",
                    P + "min_segment_share",
                ],
                outputs=["selected_k", "k_choice"],
                name="select_cluster_count",
            ),
            Node(
                choose_algorithm,
                inputs={
                    "selection_features": "selection_features",
                    "selected_k": "selected_k",
                    **{
                        key: P + key
                        for key in (
                            "algorithm",
                            "mixture_n_init",
                            "mixture_min_bic_gain",
                            "mixture_max_silhouette_loss",
                            "n_init",
                            "silhouette_sample_size",
                            "min_stability",
                            "min_segment_share",
                            "stability_resamples",
                            "stability_sample_size",
                            "random_seed",
                        )
                    },
                },
                outputs="algorithm_choice",
                name="choose_algorithm",
            ),
            Node(
                by_engine(fit_segmentation_model, SPARK + "fit_segmentation_model"),
                inputs={
                    "encoded_features": "encoded_features",
                    "selection_features": "selection_features",
                    "preprocessor": "preprocessor",
                    "selected_k": "selected_k",
                    "algorithm_choice": "algorithm_choice",
                    "id_column": "params:features.id_column",
                    "n_init": P + "n_init",
                    "mixture_n_init": P + "mixture_n_init",
                    "random_seed": P + "random_seed",
                    "min_segment_share": P + "min_segment_share",
                },
                outputs=["segmentation_model", "customer_segments"],
                name="fit_segmentation_model",
            ),
            Node(
                assess_structure,
                inputs={
                    "selection_features": "selection_features",
                    "segmentation_model": "segmentation_model",
                    "structure_margin": P + "structure_margin",
                    "structure_dip_p_value": P + "structure_dip_p_value",
                    "silhouette_sample_size": P + "silhouette_sample_size",
                    "n_init": P + "stability_n_init",
                    "random_seed": P + "random_seed",
                },
                outputs="structure_assessment",
                name="assess_structure",
            ),
            Node(
                measure_segment_stability,
                inputs={
                    "selection_features": "selection_features",
                    "segmentation_model": "segmentation_model",
                    "selected_k": "selected_k",
                    "algorithm_choice": "algorithm_choice",
                    "resamples": P + "segment_stability.resamples",
                    "sample_size": P + "stability_sample_size",
                    "n_init": P + "n_init",
                    "mixture_n_init": P + "mixture_n_init",
                    "random_seed": P + "random_seed",
                },
                outputs="segment_stability",
                name="measure_segment_stability",
            ),
            Node(
                measure_feature_separation,
                inputs=["selection_features", "segmentation_model"],
                outputs="feature_separation",
                name="measure_feature_separation",
            ),
            Node(
                describe_preprocessing,
                inputs="preprocessor",
                outputs="preprocessing_summary",
                name="describe_preprocessing",
            ),
            Node(
                compare_algorithms,
                inputs={
                    "selection_features": "selection_features",
                    "selected_k": "selected_k",
                    "algorithm_choice": "algorithm_choice",
                    **{
                        key: P + key
                        for key in (
                            "n_init",
                            "random_seed",
                            "comparison_sample_size",
                            "silhouette_sample_size",
                            "hdbscan_min_cluster_share",
                        )
                    },
                },
                outputs="algorithm_comparison",
                name="compare_algorithms",
            ),
            Node(
                summarise_model_selection,
                inputs=[
                    "cluster_count_scores",
                    "k_per_criterion",
                    "k_choice",
                    "structure_assessment",
                    "feature_separation",
                    "preprocessing_summary",
                    "algorithm_comparison",
                    "segment_stability",
                    "algorithm_choice",
                ],
                outputs="model_selection_metrics",
                name="summarise_model_selection",
            ),
            Node(
                plot_criteria,
                inputs=[
                    "cluster_count_scores",
                    "k_per_criterion",
                    "selected_k",
                    P + "min_stability",
                ],
                outputs="criteria_plot",
                name="plot_criteria",
            ),
            Node(
                plot_silhouette_diagram,
                inputs=[
                    "selection_features",
                    "segmentation_model",
                    P + "silhouette_sample_size",
                    P + "random_seed",
                ],
                outputs="silhouette_diagram_plot",
                name="plot_silhouette_diagram",
            ),
            Node(
                plot_algorithm_comparison,
                inputs="algorithm_comparison",
                outputs="algorithm_comparison_plot",
                name="plot_algorithm_comparison",
            ),
        ]
    )
