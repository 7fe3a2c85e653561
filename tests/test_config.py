"""The project's configuration loader: credentials from conf/local under any environment."""

from __future__ import annotations

import pytest
from kedro.config import MissingConfigException

from customer_segmentation.config import ProjectConfigLoader


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
