"""The project's configuration loader: Kedro's ``OmegaConfigLoader``, except
that credentials always include ``conf/local/credentials.yml``.

Kedro reads one run environment besides ``base``: with ``--env shop`` it
ignores ``conf/local``. Credentials belong in one uncommitted place whatever
the environment (``kedro configure-data`` writes a database's connection
there), so this loader adds ``conf/local``'s credentials under those of the
run environment, which win on a clash.
"""

from __future__ import annotations

from typing import Any

from kedro.config import MissingConfigException, OmegaConfigLoader


class ProjectConfigLoader(OmegaConfigLoader):
    def __getitem__(self, key: str) -> dict[str, Any]:
        run_env = self.env or self.default_run_env
        if key != "credentials" or run_env in (self.default_run_env, self.base_env):
            return super().__getitem__(key)
        local = OmegaConfigLoader(
            conf_source=self.conf_source,
            env=self.default_run_env,
            base_env=self.base_env,
            default_run_env=self.default_run_env,
            config_patterns=self.config_patterns,
        )
        found = []
        for loader in (local, super()):
            try:
                found.append(loader.__getitem__(key))
            except MissingConfigException:
                continue
        if not found:
            return super().__getitem__(key)  # raises: no credentials anywhere
        return {key: value for config in found for key, value in config.items()}
