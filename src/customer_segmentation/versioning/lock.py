"""One run at a time per project: an exclusive file lock (``filelock``)."""

from __future__ import annotations

import logging
from pathlib import Path

from filelock import FileLock, Timeout

from customer_segmentation.errors import UserError

logger = logging.getLogger(__name__)


class RunLockTimeoutError(UserError):
    """Another run held the project's run lock for too long."""


class ProjectRunLock:
    """The exclusive lock on ``<project>/data/.run.lock``, held for a whole
    run. A second run waits up to ``timeout`` seconds, saying once that it
    waits, then refuses. The lock is the operating system's (``flock``), so a
    killed run releases it. Two instances exclude each other also within one
    process (runs in threads of ``kedro server``), so each run holds its own."""

    def __init__(self, path: Path, timeout: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.timeout = path, timeout
        self._lock = FileLock(path, thread_local=False)

    @property
    def is_locked(self) -> bool:
        return self._lock.is_locked

    def acquire(self) -> None:
        try:
            self._lock.acquire(timeout=0)
            return
        except Timeout:
            logger.warning("Another run holds %s; waiting for it to finish", self.path)
        try:
            self._lock.acquire(timeout=self.timeout)
        except Timeout:
            raise RunLockTimeoutError(
                f"Another run of this project is in progress (it holds {self.path}) and did "
                f"not finish within RUN_LOCK_TIMEOUT={self.timeout:g} s; nothing was run. "
                "Start this run again when it has finished, or set RUN_LOCK_TIMEOUT to wait "
                "longer"
            ) from None

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)
