"""Check results, the registry of check ids, and the runner that isolates failures.

Every check has a stable id of the form ``group.rule``. A rule function yields
:class:`CheckResult` items; the runner turns an exception raised by one rule into an
``error`` result for that rule and still runs every other rule.
"""

import logging
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("tpo_tasks")

PASS = "pass"
WARN = "warn"
FAIL = "fail"
SKIP = "skip"
MANUAL = "manual"
ERROR = "error"
STATUSES = (PASS, WARN, FAIL, SKIP, MANUAL, ERROR)

# Order used when a report sorts findings: the worst first.
SEVERITY = {ERROR: 0, FAIL: 1, WARN: 2, MANUAL: 3, SKIP: 4, PASS: 5}


@dataclass
class CheckResult:
    """One outcome of one check, optionally at a file and line."""

    id: str
    status: str
    message: str
    file: str | None = None
    line: int | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "hint": self.hint,
        }

    @property
    def location(self) -> str:
        """Return ``file:line``, ``file`` or an empty string."""
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Check:
    """A registered check: its id, what it catches and how to fix a finding."""

    id: str
    catches: str
    fix: str
    default_status: str = FAIL

    @property
    def group(self) -> str:
        return self.id.split(".", 1)[0]

    def result(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        status: str | None = None,
        hint: str | None = None,
    ) -> CheckResult:
        """Return a finding of this check; status and hint default to the check's."""
        return CheckResult(
            self.id,
            status or self.default_status,
            message,
            file,
            line,
            hint if hint is not None else self.fix,
        )

    def passed(self, message: str) -> CheckResult:
        return CheckResult(self.id, PASS, message)

    def skipped(self, reason: str) -> CheckResult:
        return CheckResult(self.id, SKIP, reason)


REGISTRY: dict[str, Check] = {}


def register(check_id: str, catches: str, fix: str, *, status: str = FAIL) -> Check:
    """Declare a check id once, at import time of the module that implements it."""
    if check_id in REGISTRY:
        raise ValueError(f"check id {check_id} is registered twice")
    check = Check(check_id, catches, fix, status)
    REGISTRY[check_id] = check
    return check


def all_checks() -> list[Check]:
    """Return every registered check, loading each group's module first."""
    from . import (  # noqa: F401  (imports register the checks)
        config_files,
        debt,
        dockerfile,
        health,
        kubernetes,
        postdeploy,
        release_checks,
        repository,
        workflows,
    )

    return sorted(REGISTRY.values(), key=lambda check: check.id)


@dataclass
class Rule:
    """A unit the runner calls: it yields results for one or more check ids.

    ``checks`` lists the ids the rule may report; a rule that yields nothing for
    one of them gets a ``pass`` result with ``passed_message``.
    """

    checks: tuple[Check, ...]
    run: Callable[[], Iterable[CheckResult]]
    passed_message: str = "no findings"


def matches_skip(check_id: str, skip: Iterable[str]) -> bool:
    """Return whether a skip entry (an id, a group or group.*) names ``check_id``."""
    for entry in skip:
        entry = entry.strip()
        if entry == check_id or entry.rstrip(".*") == check_id.split(".", 1)[0]:
            return True
    return False


def run_rules(rules: Iterable[Rule], skip: Iterable[str] = ()) -> list[CheckResult]:
    """Run every rule and return the results in rule order.

    A rule that raises becomes one ``error`` result per check id it covers, with
    the exception as the cause; the following rules still run.
    """
    skip = tuple(skip)
    results: list[CheckResult] = []
    for rule in rules:
        active = [check for check in rule.checks if not matches_skip(check.id, skip)]
        for check in rule.checks:
            if check not in active:
                results.append(check.skipped("skipped by --skip or tpo.checks.skip"))
        if not active:
            continue
        active_ids = {check.id for check in active}
        try:
            produced = [item for item in rule.run() if item.id in active_ids]
        except Exception as exc:  # noqa: BLE001  (one crashing check must not stop the rest)
            log.debug("check %s raised:\n%s", rule.checks[0].id, traceback.format_exc())
            cause = f"{type(exc).__name__}: {exc}".splitlines()[0]
            for check in active:
                results.append(
                    CheckResult(
                        check.id,
                        ERROR,
                        f"the check crashed: {cause}",
                        None,
                        None,
                        "rerun with TPO_DEBUG=1 for the traceback and report it",
                    )
                )
            continue
        reported = {item.id for item in produced}
        results.extend(produced)
        for check in active:
            if check.id not in reported:
                results.append(check.passed(rule.passed_message))
    return results


def summarize(results: Iterable[CheckResult]) -> dict[str, int]:
    """Count results by status, every status present with zero by default."""
    counts = dict.fromkeys(STATUSES, 0)
    for item in results:
        counts[item.status] += 1
    return counts


def is_ok(results: Iterable[CheckResult], *, strict: bool = False) -> bool:
    """Return False when a result failed or errored (or warned, when ``strict``)."""
    bad = {FAIL, ERROR} | ({WARN} if strict else set())
    return not any(item.status in bad for item in results)


def by_group(results: Iterable[CheckResult]) -> Iterator[tuple[str, list[CheckResult]]]:
    """Yield (group, results) in first-seen group order."""
    groups: dict[str, list[CheckResult]] = {}
    for item in results:
        groups.setdefault(item.id.split(".", 1)[0], []).append(item)
    yield from groups.items()
