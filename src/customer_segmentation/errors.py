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
any ``after_context_created`` hook). Kedro's own error for a misspelled
``--pipelines`` name becomes an ``UnknownPipelineError`` there.

While a UserError is on its way out, Kedro logs it too: the failed node's
ERROR block and the "--from-nodes" resume hint. ``QuietConsole`` keeps those
records off the terminal (the log file keeps everything), so the readable
block is all a user sees; any other error keeps Kedro's output. It is put on
the console handlers in code, not in ``conf/logging.yml``: Kedro accepts a
filter class there only from a module listed in the
``KEDRO_LOGGING_MODULE_ALLOWLIST`` environment variable.
"""

from __future__ import annotations

import logging
import re
import sys
from difflib import get_close_matches
from types import TracebackType
from typing import TypeVar

logger = logging.getLogger(__name__)


class UserError(Exception):
    """An error whose message tells the user what to fix."""


E = TypeVar("E", bound=BaseException)


class UnknownPipelineError(UserError, ValueError):
    """``--pipelines`` names a pipeline that is not registered."""


# Kedro 1.7's message (KedroSession.run) for a name register_pipelines lacks.
_KEDRO_UNKNOWN_PIPELINE = re.compile(r"Failed to find the pipeline named '(?P<name>.*?)'\.")


def unknown_pipeline(name: str, registered: list[str]) -> UnknownPipelineError:
    """The error for a ``--pipelines`` name that is not one of
    ``registered``: the closest registered name, and every one."""
    names = sorted(n for n in registered if n != "__default__")
    close = get_close_matches(name, names, n=1, cutoff=0.6)
    suggestion = f"; did you mean '{close[0]}'?" if close else "."
    return UnknownPipelineError(
        f"no pipeline named '{name}'{suggestion}\n"
        f"  Pipelines: {', '.join(names)}\n"
        "  Without --pipelines, kedro run runs the default pipeline."
    )


def _registered_pipelines() -> list[str]:
    from kedro.framework.project import pipelines  # noqa: PLC0415 - the configured project's

    return list(pipelines.keys())


def _readable(error: BaseException | None) -> UserError | None:
    """``error`` as the UserError to show: a UserError that caused it (Kedro
    may wrap it), or Kedro's own error for an unknown pipeline name."""
    found = _user_error(error)
    if found is not None or not isinstance(error, ValueError):
        return found
    match = _KEDRO_UNKNOWN_PIPELINE.match(str(error))
    if match is None or not isinstance(error.__cause__, KeyError):
        return None
    return unknown_pipeline(match["name"], _registered_pipelines())


def cause_of_type(error: BaseException | None, kind: type[E]) -> E | None:
    """The exception of type ``kind`` that is or caused ``error`` (Kedro may
    wrap a node's error), if any."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, kind):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _user_error(error: BaseException | None) -> UserError | None:
    """The UserError that caused ``error``, if any."""
    return cause_of_type(error, UserError)


class QuietConsole(logging.Filter):
    """On a console handler, drops Kedro's records logged while a UserError
    is being handled (the failed node's ERROR block, the resume hint): the
    readable block says what to fix. Kedro logs them from inside its
    ``except`` blocks, so the error in hand is ``sys.exc_info()``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("kedro"):
            return True
        return _user_error(sys.exc_info()[1]) is None


def quiet_console() -> None:
    """Puts ``QuietConsole`` on every handler of the root logger that is not
    a file (idempotent). A logging configuration applied later replaces the
    handlers, and Kedro's output is then shown in full, as before."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            continue
        if not any(isinstance(f, QuietConsole) for f in handler.filters):
            handler.addFilter(QuietConsole())


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
    found = _readable(error)
    if found is None:
        _readable_excepthook.previous(kind, error, trace)  # type: ignore[attr-defined]
        return
    text = readable_block(found)
    print(text, file=sys.stderr)  # noqa: T201 - the message is the whole output
    write_to_log_files(logger, logging.ERROR, text)


def install_readable_errors() -> None:
    """Makes a ``UserError`` that ends the process print as one short block
    (exit code 1, no traceback), without Kedro's console lines about it
    (``quiet_console``). Idempotent; wraps whatever hook is in place
    (Kedro's rich tracebacks), which still shows every other error."""
    quiet_console()
    if sys.excepthook is _readable_excepthook:
        return
    _readable_excepthook.previous = sys.excepthook  # type: ignore[attr-defined]
    sys.excepthook = _readable_excepthook
