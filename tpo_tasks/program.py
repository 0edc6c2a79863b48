"""The ``tpo`` console script: the tpo namespace without any tasks.py.

It loads ``invoke.yaml`` (or ``tpo.yaml``) from the current folder or the nearest
parent that has one, and ``INVOKE_*`` variables, as ``inv`` does, and exits 2 on a
command-line parse error where ``inv`` exits 1.
"""

import sys
from pathlib import Path

from invoke import Config, Program
from invoke.config import AmbiguousMergeError
from invoke.exceptions import ParseError, UncastableEnvVar

from . import __version__
from .errors import ExitCode

CONFIG_SUFFIXES = ("yaml", "yml", "json", "py")


def find_project_dir(start: Path) -> tuple[Path, str] | None:
    """Return the nearest folder at or above ``start`` with a config file, and prefix.

    ``invoke.*`` wins over ``tpo.*`` in the same folder.
    """
    for folder in (start, *start.parents):
        for prefix in ("invoke", "tpo"):
            for suffix in CONFIG_SUFFIXES:
                if (folder / f"{prefix}.{suffix}").is_file():
                    return folder, prefix
    return None


class TpoConfig(Config):
    """Invoke's Config, also reading a project file named ``tpo.yaml``."""

    project_file_prefix = "invoke"

    def load_project(self, merge: bool = True) -> None:
        if self.project_file_prefix == "invoke":
            super().load_project(merge=merge)
            return
        saved = self.file_prefix
        self.file_prefix = self.project_file_prefix
        try:
            super().load_project(merge=merge)
        finally:
            self.file_prefix = saved


class TpoProgram(Program):
    """Invoke's Program with the bundled namespace and project config lookup."""

    def parse_collection(self) -> None:
        found = find_project_dir(Path.cwd())
        if found is not None:
            folder, prefix = found
            TpoConfig.project_file_prefix = prefix
            self.config.set_project_location(str(folder))
            self.config.load_project()
        super().parse_collection()

    def run(self, argv: list[str] | None = None, exit: bool = True) -> None:
        try:
            super().run(argv, exit=exit)
        except UncastableEnvVar as exc:
            print(
                f"Error: {exc}; only scalar tpo keys can be set from the environment",
                file=sys.stderr,
            )
            sys.exit(ExitCode.USAGE)
        except AmbiguousMergeError as exc:
            print(
                f"Error: invalid configuration: {exc}; each tpo section "
                "(github, issues, release, deploy, checks) must be a mapping",
                file=sys.stderr,
            )
            sys.exit(ExitCode.USAGE)

    def parse_core(self, argv: list[str] | None) -> None:
        try:
            super().parse_core(argv)
        except ParseError as exc:
            self._exit_usage(exc)

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError as exc:
            self._exit_usage(exc)
        except ValueError as exc:
            # Invoke casts a flag's value to the type of its default while parsing.
            self._exit_usage(f"invalid flag value: {exc}")

    def _exit_usage(self, exc: ParseError | str) -> None:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(ExitCode.USAGE)


def main(argv: list[str] | None = None) -> None:
    """Run the ``tpo`` program."""
    from .collection import namespace

    program = TpoProgram(
        name="tpo",
        binary="tpo",
        version=__version__,
        namespace=namespace,
        config_class=TpoConfig,
    )
    program.run(argv)


if __name__ == "__main__":
    main()
