"""Synthetic customers with planted personas, written to ``raw_customers``."""

from kedro.pipeline import Node, Pipeline

from .nodes import generate_customers


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                generate_customers,
                inputs=[
                    "params:data_generation.n_customers",
                    "params:data_generation.random_seed",
                    "params:data_generation.personas",
                    "params:data_generation.numeric_bounds",
                    "params:data_generation.latent_correlations",
                    "params:data_generation.city_weights",
                    "params:data_generation.missing_value_share",
                ],
                outputs="raw_customers",
                name="generate_customers",
            )
        ]
    )
