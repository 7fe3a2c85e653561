"""Project settings. For the defaults and every other setting, see
https://docs.kedro.org/en/stable/configure/configuration_basics/"""

import warnings

from customer_segmentation.config import ProjectConfigLoader
from customer_segmentation.errors import install_readable_errors
from customer_segmentation.hooks import (
    NodeTimingHook,
    ParameterCheck,
    SourceDataGuard,
    SparkSessionHook,
)
from customer_segmentation.run_summary import RunSummary
from customer_segmentation.versioning import RunVersioning

# A UserError ends any `kedro` command as one short block, no traceback:
# installed now, when Kedro imports the settings, before any configuration is
# read (a YAML error in conf/ comes before any hook runs).
install_readable_errors()

# Kedro 1.7 calls OmegaConf's deprecated register_new_resolver itself; the
# warning is not actionable for users of this project.
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")

# Hooks run last-in, first-out: SourceDataGuard refuses a run before
# RunVersioning takes the project's run lock; parameters are checked when the
# context is created, before either. RunSummary prints the run's results last.
HOOKS = (
    RunSummary(),
    NodeTimingHook(),
    RunVersioning(),
    SourceDataGuard(),
    SparkSessionHook(),
    ParameterCheck(),
)

# No usage data leaves a scheduled job or CI, whatever starts the project (the
# committed .telemetry file covers `kedro` commands run from the project folder).
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-telemetry",)

# An environment's parameters merge into base key by key (soft merge): an
# environment overrides one nested key, say segment_analysis.naming.labels,
# without repeating its whole block. Lists are replaced whole.
# Credentials come from conf/local/credentials.yml whatever the run environment
# (Kedro alone reads conf/local only when no --env is given).
CONFIG_LOADER_CLASS = ProjectConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "merge_strategy": {"parameters": "soft"},
    # conf/<env>/spark.yml: the Spark settings of an environment that runs on Spark.
    "config_patterns": {"spark": ["spark*", "spark*/**"]},
}
