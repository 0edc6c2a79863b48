"""Exit codes and the exception types that end a task with a one-line message."""

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes shared by every task and by the ``tpo`` script."""

    OK = 0
    FAILURE = 1  # the task ran and found a failure: a failing check, a failed rollout
    USAGE = 2  # bad flag, argument or configuration value
    EXTERNAL = 3  # network, missing tool, unreachable service, unreadable file
    REFUSED = 4  # refused for safety: dirty tree, no confirmation, wrong cluster


class TpoError(Exception):
    """A failure the user can act on; the task ends with ``message`` and ``code``."""

    code = ExitCode.FAILURE

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = ExitCode(code)


class TaskFailed(TpoError):
    """The task ran to the end and found a failure."""

    code = ExitCode.FAILURE


class UsageError(TpoError):
    """An invalid argument or flag combination."""

    code = ExitCode.USAGE


class ConfigError(TpoError):
    """An invalid ``tpo.*`` configuration value."""

    code = ExitCode.USAGE


class ExternalError(TpoError):
    """A tool, service, network or file outside the task failed or is missing."""

    code = ExitCode.EXTERNAL


class RefusedError(TpoError):
    """A safety rule stopped the task before it changed anything."""

    code = ExitCode.REFUSED
