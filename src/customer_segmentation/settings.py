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
from customer_segmentation.tracking import ExperimentTracking
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
# ExperimentTracking wraps RunVersioning: it connects before the lock is taken
# and ends a tracked run FINISHED only after its versions are marked complete.
HOOKS = (
    RunSummary(),
    NodeTimingHook(),
    RunVersioning(),
    ExperimentTracking(),
    SourceDataGuard(),
    SparkSessionHook(),
    ParameterCheck(),
)

# No usage data leaves a scheduled job or CI, whatever starts the project (the
# committed .telemetry file covers `kedro` commands run from the project folder).
# kedro-mlflow's own hook is replaced by ExperimentTracking (which takes its
# name, so the plugin's hook is not even imported); listed here in case it is
# registered under another name.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-telemetry", "kedro_mlflow")

# An environment's parameters merge into base key by key (soft merge): an
# environment overrides one nested key, say segment_analysis.naming.labels,
# without repeating its whole block. Lists are replaced whole.
# Credentials come from conf/local/credentials.yml whatever the run environment
# (Kedro alone reads conf/local only when no --env is given).
CONFIG_LOADER_CLASS = ProjectConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "merge_strategy": {"parameters": "soft", "mlflow": "soft"},
    # conf/<env>/spark.yml: the Spark settings of an environment that runs on Spark.
    # mlflow.yml: experiment tracking (customer_segmentation.tracking).
    "config_patterns": {"spark": ["spark*", "spark*/**"], "mlflow": ["mlflow*", "mlflow*/**"]},
}
