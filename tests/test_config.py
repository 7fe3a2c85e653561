"""The project's configuration loader: credentials from conf/local under any
environment; parameters validated with every default filled in; the
``features`` parameter's one model and one parse."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from kedro.config import MissingConfigException
from pydantic import BaseModel

from customer_segmentation.config import ProjectConfigLoader
from customer_segmentation.features import Features, FeatureSpec, InvalidFeaturesError
from customer_segmentation.parameters import ParameterError, ProjectParameters
from tests.conftest import BASE_CONF


def _loader(conf, env):
    return ProjectConfigLoader(str(conf), env=env, base_env="base", default_run_env="local")


def test_credentials_from_conf_local_under_another_environment(tmp_path):
    for env in ("base", "local", "shop"):
        (tmp_path / env).mkdir()
    (tmp_path / "local" / "credentials.yml").write_text("shop_db:\n  con: sqlite:///a.db\n")
    assert _loader(tmp_path, "shop")["credentials"] == {"shop_db": {"con": "sqlite:///a.db"}}
    # The run environment's own credentials win on a clash.
    (tmp_path / "shop" / "credentials.yml").write_text("shop_db:\n  con: sqlite:///b.db\n")
    assert _loader(tmp_path, "shop")["credentials"] == {"shop_db": {"con": "sqlite:///b.db"}}
    assert _loader(tmp_path, None)["credentials"] == {"shop_db": {"con": "sqlite:///a.db"}}


def test_no_credentials_anywhere_is_kedros_missing_config(tmp_path):
    for env in ("base", "local", "shop"):
        (tmp_path / env).mkdir()
    with pytest.raises(MissingConfigException):
        _loader(tmp_path, "shop")["credentials"]


# --- parameters: validated, defaults filled in, one home ----------------------


def _base_conf(tmp_path, edit) -> Path:
    """A conf folder with the project's base parameters, changed by ``edit``."""
    (tmp_path / "base").mkdir()
    (tmp_path / "local").mkdir()
    merged = {}
    for path in sorted(BASE_CONF.glob("parameters*.yml")):
        merged.update(yaml.safe_load(path.read_text(encoding="utf-8")))
    edit(merged)
    (tmp_path / "base" / "parameters.yml").write_text(yaml.safe_dump(merged))
    return tmp_path


def _without_defaulted_keys(parameters: dict) -> None:
    del parameters["preprocessing"]["min_category_share"]
    del parameters["preprocessing"]["random_seed"]
    del parameters["preprocessing"]["min_rows"]
    del parameters["segment_analysis"]["targeting"]["max_share"]
    del parameters["customer_features"]["columns"]["order_id"]
    del parameters["features"]["profile_only"]


def test_the_loader_hands_out_parameters_with_every_default_filled_in(tmp_path):
    conf = _base_conf(tmp_path, _without_defaulted_keys)
    parameters = _loader(conf, None)["parameters"]
    assert parameters["preprocessing"]["min_category_share"] == 0.01
    assert parameters["preprocessing"]["random_seed"] == 42
    assert parameters["segment_analysis"]["targeting"]["max_share"] == 0.5
    assert parameters["customer_features"]["columns"]["order_id"] is None
    assert parameters["features"]["profile_only"] == {"numeric": [], "categorical": []}
    # Plain values, as from YAML: bounds are lists, not tuples.
    assert isinstance(parameters["data_generation"]["numeric_bounds"]["age"], dict)


def test_the_models_defaults_are_the_shipped_yaml_values():
    """Where conf/base sets a setting that has a default, the two agree: the
    models are the one home of defaults, and the YAML shows what runs. (Lists
    and mappings default to empty and optional names to null; base fills them
    for the example data.)"""
    merged = {}
    for path in sorted(BASE_CONF.glob("parameters*.yml")):
        merged.update(yaml.safe_load(path.read_text(encoding="utf-8")))
    disagree = []

    def walk(model, values, prefix):
        for name, field in model.model_fields.items():
            if not isinstance(values, dict) or name not in values:
                continue
            value, key = values[name], f"{prefix}{name}"
            nested = field.annotation if isinstance(field.annotation, type) else None
            if nested is not None and issubclass(nested, BaseModel):
                walk(nested, value, key + ".")
            elif isinstance(value, (list, dict)) or field.is_required():
                continue
            elif field.get_default() is not None and field.get_default() != value:
                disagree.append(key)

    walk(ProjectParameters, merged, "")
    assert disagree == []


def test_min_rows_is_k_max_unless_set(tmp_path):
    runtime = {"model_selection": {"k_max": 4}}
    conf = _base_conf(tmp_path, lambda parameters: None)
    loader = ProjectConfigLoader(
        str(conf), base_env="base", default_run_env="local", runtime_params=runtime
    )
    assert loader["parameters"]["preprocessing"]["min_rows"] == 4
    runtime["preprocessing"] = {"min_rows": 50}
    loader = ProjectConfigLoader(
        str(conf), base_env="base", default_run_env="local", runtime_params=runtime
    )
    assert loader["parameters"]["preprocessing"]["min_rows"] == 50


def test_the_loader_refuses_bad_parameters_naming_the_key(tmp_path):
    conf = _base_conf(tmp_path, lambda p: p["preprocessing"].update(min_catgory_share=0.1))
    with pytest.raises(ParameterError, match="did you mean 'min_category_share'"):
        _loader(conf, None)["parameters"]


# --- features: one model, one parse -------------------------------------------


def test_the_feature_spec_is_derived_from_the_validated_features_model():
    spec = FeatureSpec.parse(
        {
            "id_column": None,
            "numeric": ["spend", "visits"],
            "bounds": {"spend": [0, None]},
            "profile_only": {"numeric": ["churned"]},
            "roles": {"monetary": ["spend"], "frequency": ["visits"]},
            "outcomes": {"churned": {"kind": "churn", "positive": 1}},
        }
    )
    assert isinstance(spec.features, Features)
    assert spec.id_column == "row_number" and spec.numbered_rows
    assert spec.categorical == () and spec.pinned == {}
    assert spec.bounds == {"spend": (0.0, math.inf)}
    assert spec.roles == {"spend": "monetary", "visits": "frequency"}
    assert spec.outcomes == {"churned": ("churn", 1)}
    assert spec.with_role("monetary") == ["spend"]
    assert spec.described_numeric == ["spend", "visits", "churned"]


def test_the_feature_spec_refuses_what_the_parameter_check_refuses():
    # One readable UserError naming the key, not a pydantic traceback.
    with pytest.raises(InvalidFeaturesError, match="'features.nmeric': Extra inputs"):
        FeatureSpec.parse({"id_column": "id", "numeric": ["a"], "nmeric": ["b"]})
    with pytest.raises(InvalidFeaturesError, match="not a profile-only column"):
        FeatureSpec.parse(
            {
                "id_column": "id",
                "numeric": ["a"],
                "outcomes": {"a": {"kind": "churn", "positive": 1}},
            }
        )
