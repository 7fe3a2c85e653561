"""The project hooks and the parameter check, without a whole session."""

from __future__ import annotations

import copy
import logging
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline

from customer_segmentation.hooks import (
    NodeTimingHook,
    ParameterCheck,
    SourceDataGuard,
    SourceDataGuardError,
)
from customer_segmentation.parameters import ParameterError, check_parameters
from tests.conftest import BASE_CONF


@pytest.fixture
def base_parameters() -> dict:
    merged = {}
    for path in sorted(BASE_CONF.glob("parameters*.yml")):
        merged.update(yaml.safe_load(path.read_text()))
    return copy.deepcopy(merged)


def test_the_shipped_parameters_are_valid(base_parameters):
    check_parameters(base_parameters)
    ParameterCheck().after_context_created(SimpleNamespace(params=base_parameters))


def test_a_misspelled_key_is_named_with_a_suggestion(base_parameters):
    base_parameters["model_selection"]["k_mx"] = base_parameters["model_selection"].pop("k_max")
    base_parameters["segment_analysis"]["naming"]["treshold"] = 0.3
    with pytest.raises(ParameterError) as error:
        ParameterCheck().after_context_created(SimpleNamespace(params=base_parameters))
    message = str(error.value)
    assert "'model_selection.k_mx': unknown parameter; did you mean 'k_max'?" in message
    assert "'model_selection.k_max': missing" in message
    assert "'segment_analysis.naming.treshold': unknown parameter; did you mean 'threshold'?" in (
        message
    )


def test_wrong_types_and_ranges_are_named(base_parameters):
    wrong = copy.deepcopy(base_parameters)
    wrong["model_selection"]["criterion"] = "gap"
    wrong["data_generation"]["n_customers"] = "many"
    with pytest.raises(ParameterError) as error:
        check_parameters(wrong)
    message = str(error.value)
    assert "'model_selection.criterion'" in message and "'gap'" in message
    assert "'data_generation.n_customers'" in message
    base_parameters["model_selection"].update(k_min=5, k_max=3)
    with pytest.raises(ParameterError, match=r"k_min \(5\) must not exceed k_max \(3\)"):
        check_parameters(base_parameters)


def _pipeline_writing(name: str) -> Pipeline:
    return Pipeline([Node(lambda: 1, None, name, name="write")])


def test_generation_may_only_write_a_marked_raw_customers():
    guard = SourceDataGuard()
    marked = DataCatalog(
        {"raw_customers": MemoryDataset(metadata={"generated_by": "data_generation"})}
    )
    guard.before_pipeline_run({"env": "mine"}, _pipeline_writing("raw_customers"), marked)
    users = DataCatalog({"raw_customers": MemoryDataset()})
    with pytest.raises(SourceDataGuardError, match="kedro run --env mine --pipelines segmentation"):
        guard.before_pipeline_run({"env": "mine"}, _pipeline_writing("raw_customers"), users)
    guard.before_pipeline_run({"env": "mine"}, _pipeline_writing("other"), users)


def test_node_timing_logs_duration_and_rows(caplog):
    hook = NodeTimingHook()
    node = SimpleNamespace(name="segment_analysis.profile_segments")
    with caplog.at_level(logging.INFO):
        hook.before_node_run(node)
        hook.after_node_run(node, {"segment_profiles": pd.DataFrame({"a": range(1234)}), "k": 5})
    assert "Node segment_analysis.profile_segments took" in caplog.text
    assert "segment_profiles: 1,234 rows" in caplog.text
