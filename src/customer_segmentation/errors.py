"""Errors a user can fix, and how they are shown.

Every error whose message says what to change (bad input data, parameters,
configuration, a run that cannot start, a scoring batch with too many
rejects) derives from ``UserError``. When one ends a ``kedro`` command,
the handler that ``install_readable_errors`` puts in place shows its message
as one short block on the terminal and in the log file, without the Python
traceback that would bury it in a cron log, and the process exits with 1.

Kedro's CLI lets every exception of a command propagate out of ``main``, so
Python's ``sys.excepthook`` is where the process ends; ``settings.py``
installs the handler when Kedro imports it, before any configuration is
read (a YAML error in ``conf/`` happens while the context is created, before
any ``after_context_created`` hook).
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType

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


def log_files(source: logging.Logger) -> list[logging.FileHandler]:
    """The file handlers a record of ``source`` reaches (``logs/info.log``)."""
    handlers = set(logging.getLogger().handlers)
    current: logging.Logger | None = source
    while current is not None:
        handlers.update(current.handlers)
        current = current.parent if current.propagate else None
    return [handler for handler in handlers if isinstance(handler, logging.FileHandler)]


def write_to_log_files(source: logging.Logger, level: int, text: str) -> None:
    """Writes ``text`` to the log files only, for what is printed on the
    terminal as it is and must not show twice there."""
    record = source.makeRecord(source.name, level, __file__, 0, text, None, None)
    for handler in log_files(source):
        if record.levelno >= handler.level:
            handler.handle(record)


def _readable_excepthook(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """Shows a ``UserError`` (or an error it caused) as its message; hands
    any other error to the hook that was there before, with its traceback."""
    found = _user_error(error)
    if found is None:
        _readable_excepthook.previous(kind, error, trace)  # type: ignore[attr-defined]
        return
    text = readable_block(found)
    print(text, file=sys.stderr)  # noqa: T201 - the message is the whole output
    write_to_log_files(logger, logging.ERROR, text)


def install_readable_errors() -> None:
    """Makes a ``UserError`` that ends the process print as one short block
    (exit code 1, no traceback). Idempotent; wraps whatever hook is in place
    (Kedro's rich tracebacks), which still shows every other error."""
    if sys.excepthook is _readable_excepthook:
        return
    _readable_excepthook.previous = sys.excepthook  # type: ignore[attr-defined]
    sys.excepthook = _readable_excepthook
