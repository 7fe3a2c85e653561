"""The project's configuration loader: Kedro's ``OmegaConfigLoader``, except
that parameters come validated with every default filled in, that
credentials always include ``conf/local/credentials.yml`` (and tracking
settings ``conf/local/mlflow.yml``), and that a
configuration the user can fix is refused with a ``UserError`` that says
what to fix.

Kedro hands out parameters (``context.params``, the catalog's ``params:``
entries) as the loader returns them: passing the merged parameters (base,
environment and ``--params``) through
``customer_segmentation.parameters.validated_parameters`` here makes the
pydantic models the one home of their defaults, so that nodes index the keys
they read and keep no fallback of their own.

Kedro reads one run environment besides ``base``: with ``--env shop`` it
ignores ``conf/local``. Credentials belong in one uncommitted place whatever
the environment (``kedro configure-data`` writes a database's connection
there), so this loader adds ``conf/local``'s credentials under those of the
run environment, which win on a clash.

OmegaConf's resolvers are process-wide, yet Kedro binds ``globals`` to the
loader built last (before it has read its globals) and ``runtime_params`` to
the loader read last. ``kedro server`` builds and reads a loader per request
in threads of one process: a read could resolve through a loader another
thread was still building ("object has no attribute '_globals'") or with
another loader's globals or runtime parameters, and a credentials read under
another environment (which builds a ``conf/local`` loader) left ``globals``
bound to that one. So this loader is built and read under one process-wide
lock, and binds ``globals`` to itself before every read.

Kedro reads an ``--env`` that names no folder as an empty environment (every
parameter then looks missing), and reports a YAML syntax error with a
traceback; this loader names the missing folder with the environments that
exist, and the file, line and problem of a YAML error.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import yaml
from kedro.config import MissingConfigException, OmegaConfigLoader
from omegaconf.errors import OmegaConfBaseException

from customer_segmentation.errors import UserError
from customer_segmentation.parameters import validated_parameters


class UnknownEnvironmentError(UserError, ValueError):
    """``--env`` names a folder of ``conf/`` that does not exist."""


class ConfigFileError(UserError, ValueError):
    """A file under ``conf/`` cannot be read: YAML syntax, duplicate keys or
    an interpolation that does not resolve."""


def _shown(path: Path, conf_source: Path) -> str:
    """``path`` as the user knows it, from the folder that holds ``conf``."""
    try:
        return str(path.resolve().relative_to(conf_source.resolve().parent))
    except ValueError:
        return str(path)


def check_environment(conf_source: Path, env: str, base_env: str) -> None:
    """Raises ``UnknownEnvironmentError`` when ``conf_source/env`` is not a
    folder, listing the environments that are."""
    if (conf_source / env).is_dir():
        return
    existing = sorted(
        p.name
        for p in conf_source.iterdir()
        if p.is_dir() and p.name != base_env and not p.name.startswith((".", "_"))
    )
    raise UnknownEnvironmentError(
        f"{_shown(conf_source / env, conf_source)} does not exist: no environment '{env}'.\n"
        f"  Environments: {', '.join(existing) or 'none besides ' + base_env}\n"
        f"  Write one for your data with: kedro configure-data FILE --env {env}"
    )


_KEDRO_YAML_MESSAGE = re.compile(r"Invalid YAML or JSON file (?P<path>.+?), unable to read")


def _config_file_error(key: str, error: Exception, conf_source: Path) -> ConfigFileError:
    """The readable form of an error raised while reading the ``key`` files."""
    cause = error.__cause__
    found = _KEDRO_YAML_MESSAGE.search(str(error))
    if found and isinstance(cause, yaml.MarkedYAMLError) and cause.problem_mark is not None:
        mark = cause.problem_mark
        context = f" ({cause.context})" if cause.context else ""
        return ConfigFileError(
            f"{_shown(Path(found['path']), conf_source)} is not valid YAML: line {mark.line + 1}, "
            f"column {mark.column + 1}: {cause.problem}{context}"
        )
    return ConfigFileError(f"the {key} configuration in conf/ cannot be read: {error}")


# Held while a loader is built or read: OmegaConf's resolvers are process-wide
# and Kedro binds them to one loader (see the module docstring).
_RESOLVERS = threading.RLock()


class ProjectConfigLoader(OmegaConfigLoader):
    def __init__(self, conf_source: str, env: str | None = None, **kwargs: Any) -> None:
        with _RESOLVERS:
            super().__init__(conf_source, env=env, **kwargs)
        source = Path(conf_source)
        if env and env != self.default_run_env and source.is_dir():
            check_environment(source, env, self.base_env)

    def __getitem__(self, key: str) -> dict[str, Any]:
        with _RESOLVERS:
            # Kedro binds runtime_params on every read, globals only when built.
            self._register_globals_resolver()
            config = self._readable(key)
        return validated_parameters(config) if key == "parameters" else config

    def _readable(self, key: str) -> dict[str, Any]:
        try:
            return self._read(key)
        except (yaml.YAMLError, OmegaConfBaseException) as error:
            raise _config_file_error(key, error, Path(self.conf_source)) from error
        except ValueError as error:
            if str(error).startswith("Duplicate keys found"):
                raise _config_file_error(key, error, Path(self.conf_source)) from error
            raise

    def _read(self, key: str) -> dict[str, Any]:
        run_env = self.env or self.default_run_env
        if run_env in (self.default_run_env, self.base_env) or key not in ("credentials", TRACKING):
            return super().__getitem__(key)
        if key == TRACKING:
            return self._tracking_with_local()
        local = OmegaConfigLoader(
            conf_source=self.conf_source,
            env=self.default_run_env,
            base_env=self.base_env,
            default_run_env=self.default_run_env,
            config_patterns=self.config_patterns,
        )
        found = []
        for loader in (local, self):
            loader._register_globals_resolver()  # building `local` took it
            try:
                found.append(OmegaConfigLoader.__getitem__(loader, key))
            except MissingConfigException:
                continue
        if not found:
            return super().__getitem__(key)  # raises: no credentials anywhere
        return {key: value for config in found for key, value in config.items()}

    def _tracking_with_local(self) -> dict[str, Any]:
        """The run environment's tracking settings with ``conf/local``'s on
        top, key by key: they say where this machine's tracking server is,
        whatever environment runs (and turn tracking on for all of them)."""
        try:
            settings = super().__getitem__(TRACKING)
        except MissingConfigException:
            settings = None
        local = Path(self.conf_source) / self.default_run_env
        patterns = self.config_patterns[TRACKING]
        if not any(next(local.glob(pattern), None) for pattern in patterns):
            if settings is None:
                raise MissingConfigException(f"No {TRACKING} configuration in {self.conf_source}")
            return settings
        machine = self.load_and_merge_dir_config(str(local), patterns, TRACKING, set())
        return _soft_merged(settings or {}, machine)


# conf/<env>/mlflow.yml: experiment tracking (customer_segmentation.tracking).
TRACKING = "mlflow"


def _soft_merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _soft_merged(merged[key], value) if both else value
    return merged
