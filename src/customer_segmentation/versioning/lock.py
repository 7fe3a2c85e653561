"""One run at a time per project: an exclusive file lock (``filelock``)."""

from __future__ import annotations

import logging
from pathlib import Path

from filelock import FileLock, Timeout

logger = logging.getLogger(__name__)


class RunLockTimeoutError(RuntimeError):
    """Another run held the project's run lock for too long."""


class ProjectRunLock:
    """The exclusive lock on ``<project>/data/.run.lock``, held for a whole
    run. A second run waits up to ``timeout`` seconds, saying once that it
    waits, then refuses. The lock is the operating system's (``flock``), so a
    killed run releases it."""

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
                f"Another run has held {self.path} for over {self.timeout:.0f} s; refusing "
                "to start (set RUN_LOCK_TIMEOUT to wait longer)"
            ) from None

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)
