"""The ``task`` decorator every tpo task uses: validated config, one-line errors.

A :class:`~tpo_tasks.errors.TpoError` raised by a task body ends the program with
``Error: <message>`` on stderr and the error's exit code, with no traceback unless
``TPO_DEBUG=1`` is set.
"""

import functools
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from invoke import Context, Exit
from invoke import task as invoke_task

from .errors import ExitCode, TpoError
from .output import mask

if TYPE_CHECKING:
    from .config import Settings

log = logging.getLogger("tpo_tasks")


def debug_enabled() -> bool:
    """Return whether ``TPO_DEBUG`` asks for tracebacks and debug logging."""
    return os.environ.get("TPO_DEBUG", "") not in ("", "0")


def settings(c: Context) -> "Settings":
    """Return the validated typed view of ``c.config.tpo``."""
    from .config import load_settings

    return load_settings(c.config)


def _exit_for(exc: BaseException, code: int, message: str) -> Exit:
    if debug_enabled():
        traceback.print_exception(exc, file=sys.stderr)
    return Exit(f"Error: {mask(message)}", code=int(code))


def task(*args: Any, **kwargs: Any) -> Any:
    """Declare an Invoke task whose config is validated before its body runs.

    Takes the same arguments as :func:`invoke.task`.
    """

    def decorate(body: Callable[..., Any]) -> Any:
        @functools.wraps(body)
        def run_body(c: Context, *call_args: Any, **call_kwargs: Any) -> Any:
            if debug_enabled():
                logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
            try:
                settings(c)
                return body(c, *call_args, **call_kwargs)
            except TpoError as exc:
                raise _exit_for(exc, exc.code, exc.message) from None
            except KeyboardInterrupt as exc:
                raise _exit_for(exc, 130, "interrupted") from None
            except OSError as exc:
                name = exc.filename or ""
                detail = f"{name}: {exc.strerror}" if name else str(exc)
                raise _exit_for(exc, ExitCode.EXTERNAL, detail) from None

        return invoke_task(**kwargs)(run_body)

    if len(args) == 1 and callable(args[0]) and not kwargs:
        return decorate(args[0])
    return decorate
