"""Repository checks: a clean work tree, the release ref, and the test command."""

import shlex
from collections.abc import Iterator
from typing import Any

from .confirmations import CONFIRMATIONS_FILE
from .results import MANUAL, PASS, CheckResult, register

CLEAN_TREE = register(
    "repo.clean-tree",
    "uncommitted or untracked files, so what ships is not what is committed",
    "commit or stash the changes (git status lists them)",
)
RELEASE_REF = register(
    "repo.release-ref",
    "HEAD that is neither on a release tag (tpo.release.tag_format) nor on the "
    "release branch (tpo.checks.release_branch)",
    "check out the release tag or the release branch",
)
TESTS = register(
    "repo.tests",
    "a failing test command (tpo.checks.test_command); without one, a manual item "
    "to confirm the tests are green",
    "fix the failing tests, or confirm the manual item with inv checks.confirm "
    "repo.tests",
    status=MANUAL,
)


def check_clean_tree(root: Any) -> Iterator[CheckResult]:
    from ..git import run_git

    output = run_git(root, "status", "--porcelain", "--untracked-files=all").stdout
    changed = [
        line[3:]
        for line in output.splitlines()
        if line[3:].strip('"') != CONFIRMATIONS_FILE
    ]
    if changed:
        shown = ", ".join(changed[:5]) + (
            f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        )
        yield CLEAN_TREE.result(f"{len(changed)} changed or untracked file(s): {shown}")
    else:
        yield CLEAN_TREE.passed("the work tree is clean")


def check_release_ref(root: Any, settings: Any) -> Iterator[CheckResult]:
    from ..git import current_branch, run_git
    from ..release.plan import tag_pattern

    pattern = tag_pattern(settings.release.tag_format)
    tags = [
        tag
        for tag in run_git(root, "tag", "--points-at", "HEAD").stdout.split()
        if pattern.match(tag)
    ]
    branch = current_branch(root)
    if tags:
        yield RELEASE_REF.passed(f"HEAD is on release tag {tags[0]}")
    elif branch == settings.checks.release_branch:
        yield RELEASE_REF.passed(f"HEAD is on the release branch {branch}")
    else:
        where = f"branch {branch}" if branch else "a detached HEAD"
        yield RELEASE_REF.result(
            f"HEAD is on {where}, which is neither a release tag "
            f"({settings.release.tag_format}) nor the release branch "
            f"{settings.checks.release_branch}"
        )


def check_tests(
    root: Any, settings: Any, confirmed: dict[str, Any] | None, release: str
) -> Iterator[CheckResult]:
    from ..command import run
    from ..output import info

    command = settings.checks.test_command
    if not command:
        if confirmed:
            yield CheckResult(
                TESTS.id,
                PASS,
                f"tests confirmed green for {release} by "
                f"{confirmed.get('by')} at {confirmed.get('at')}",
            )
            return
        yield TESTS.result(
            f"confirm the tests are green for {release} (no "
            "tpo.checks.test_command is set)",
            hint=f"set tpo.checks.test_command, or run inv checks.confirm "
            f"repo.tests once the tests of {release} pass",
        )
        return
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        from ..errors import ConfigError

        raise ConfigError(
            f"invalid tpo.checks.test_command {command!r}: {exc}"
        ) from None
    info(f"running the tests: {command}")
    result = run(argv, cwd=root, check=False)
    if result.ok:
        yield TESTS.passed(f"{command} passed")
        return
    tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
    yield TESTS.result(
        f"{command} exited {result.returncode}: " + " | ".join(tail),
        status="fail",
        hint="fix the failing tests, then rerun",
    )
