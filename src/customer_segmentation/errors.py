"""Errors a user can fix, and how they are shown.

Every error whose message says what to change (bad input data, parameters,
a run that cannot start, a scoring batch with too many rejects) derives from
``UserError``. When one ends a ``kedro run``, ``ReadableErrors`` shows its
message as one short block on the terminal and in the log file, without the
Python traceback that would bury it in a cron log.
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)


class UserError(Exception):
    """An error whose message tells the user what to fix."""


def _user_error(error: BaseException | None) -> UserError | None:
    """The UserError that caused ``error`` (Kedro may wrap it), if any."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, UserError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def readable_block(error: UserError) -> str:
    return f"Error ({type(error).__name__}): {error}"


class ReadableErrors:
    """Replaces the traceback of a ``UserError`` that ends the process with
    its message: printed to standard error, and written to the log file
    handlers (``logs/info.log``). Other errors keep their traceback."""

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        if getattr(sys.excepthook, "readable_errors", False):
            return
        previous = sys.excepthook

        def excepthook(
            kind: type[BaseException], error: BaseException, trace: TracebackType | None
        ) -> None:
            found = _user_error(error)
            if found is None:
                previous(kind, error, trace)
                return
            text = readable_block(found)
            print(text, file=sys.stderr)  # noqa: T201 - the message is the whole output
            record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, text, None, None)
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.FileHandler):
                    handler.handle(record)

        excepthook.readable_errors = True  # type: ignore[attr-defined]
        sys.excepthook = excepthook
