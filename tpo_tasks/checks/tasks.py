"""Invoke tasks of the ``checks`` namespace: the pre- and post-deploy checklist.

Only invoke and the light shared modules are imported here; the check modules load
inside the task bodies so ``inv --list`` stays cheap.
"""

from pathlib import Path
from typing import Any

from invoke import Collection, Context

from ..defaults import defaults
from ..task import task

SKIP_HELP = "a check id or group to skip; repeat for more (default: tpo.checks.skip)"
JSON_HELP = (
    'print {"ok", "results": [{id, status, message, file, line, hint}]} '
    "as JSON and nothing else on stdout (default: the text report)"
)
MARKDOWN_HELP = "also write the report as Markdown to this file (default: none)"
STRICT_HELP = "fail on warnings too (default: only fail and error fail)"


def _root() -> Path:
    from ..errors import ExternalError
    from ..git import repo_root

    try:
        return repo_root(Path.cwd())
    except ExternalError:
        return Path.cwd()


def _finish(
    results: list[Any], title: str, *, as_json: bool, markdown: str | None, strict: bool
) -> None:
    """Print the report, write the Markdown and GitHub outputs, set the exit code."""
    import sys

    from ..errors import TaskFailed
    from ..fileio import write_text_atomic
    from ..output import github_step_summary, in_github_actions, print_json, result
    from . import report
    from .results import is_ok, summarize

    if as_json:
        print_json(report.json_report(results, strict=strict))
    else:
        result(report.text_report(results, strict=strict))
    if markdown:
        write_text_atomic(
            markdown, report.markdown_report(results, title, strict=strict) + "\n"
        )
    if in_github_actions():
        github_step_summary(report.markdown_report(results, title, strict=strict))
        # With --json, stdout holds the JSON alone, so annotations go to stderr.
        # NOTE: that the runner acts on ::error:: lines on stderr too is common
        # practice in workflows, not checked against the runner's source.
        stream = sys.stderr if as_json else sys.stdout
        for command in report.annotations(results):
            stream.write(command + "\n")
        stream.flush()
    if not is_ok(results, strict=strict):
        counts = summarize(results)
        bad = f"{counts['fail']} failed, {counts['error']} errored"
        if strict:
            bad += f", {counts['warn']} warned (--strict)"
        raise TaskFailed(f"{title}: {bad}; see the report for each location and fix")


def _validate_skip(skip: list[str]) -> list[str]:
    from ..errors import UsageError
    from .results import all_checks

    known = {check.id for check in all_checks()}
    groups = {check.group for check in all_checks()}
    for entry in skip:
        name = entry.strip().removesuffix(".*")
        if name not in known and name not in groups:
            raise UsageError(
                f"unknown check id {entry!r} in --skip or tpo.checks.skip; "
                "inv checks.list shows the ids"
            )
    return skip


def _validate_settings(settings: Any) -> None:
    """Raise ConfigError for checks settings that only fail once a check uses them."""
    import shlex

    from ..errors import ConfigError
    from .secrets import validate_secret_keys

    validate_secret_keys(settings.checks.secret_keys)
    command = settings.checks.test_command
    if command:
        try:
            shlex.split(command)
        except ValueError as exc:
            raise ConfigError(
                f"invalid tpo.checks.test_command {command!r}: {exc}; quote it as "
                "a shell would"
            ) from None


def _deployed_version(settings: Any, env_name: str) -> str | None:
    """Return the version the environment last deployed successfully (read-only)."""
    from ..deploy.history import read_history
    from ..deploy.kubectl import Kubectl

    env = settings.deploy.environment(env_name)
    kubectl = Kubectl(env, settings.deploy)
    kubectl.check_context()
    revision = read_history(kubectl).last_successful()
    return revision.version if revision is not None else None


@task(
    iterable=["skip"],
    help={
        "env": "also compare with this environment's last deploy, read from its "
        "deploy history through its own context (default: offline, compare "
        "with the latest release tag)",
        "json": JSON_HELP,
        "markdown": MARKDOWN_HELP,
        "skip": SKIP_HELP,
        "strict": STRICT_HELP,
    },
)
def predeploy(
    c: Context,
    env: str | None = None,
    json: bool = False,
    markdown: str | None = None,
    skip: list[str] | None = None,
    strict: bool = False,
) -> None:
    """Run every pre-deploy check and report what blocks the release."""
    from ..output import info
    from ..task import settings as load
    from . import confirmations
    from .predeploy import predeploy_rules
    from .repo_files import RepoScan
    from .results import run_rules

    settings = load(c)
    skipped = _validate_skip([*settings.checks.skip, *(skip or [])])
    _validate_settings(settings)
    root = _root()
    deployed = None
    if env:
        deployed = _deployed_version(settings, env)
        info(f"{env} last deployed {deployed or 'nothing yet'}")
    scan = RepoScan(root, settings.checks.exclude)
    info(f"checking {len(scan.files)} files in {root}")
    rules = predeploy_rules(
        scan, settings, confirmations=confirmations.load(root), deployed=deployed
    )
    results = run_rules(rules, skipped)
    _finish(results, "checks.predeploy", as_json=json, markdown=markdown, strict=strict)


@task(
    positional=["env"],
    iterable=["skip"],
    help={
        "env": "the environment to check, as declared under tpo.deploy.environments",
        "json": JSON_HELP,
        "markdown": MARKDOWN_HELP,
        "skip": SKIP_HELP,
        "strict": STRICT_HELP,
        "since": "count log lines of the last N minutes (default: 10)",
    },
)
def postdeploy(
    c: Context,
    env: str | None = None,
    json: bool = False,
    markdown: str | None = None,
    skip: list[str] | None = None,
    strict: bool = False,
    since: int = 10,
) -> None:
    """Check an environment after a deploy: rollouts, pods, health and logs."""
    from ..errors import UsageError
    from ..task import settings as load
    from .postdeploy import postdeploy_rules
    from .results import run_rules

    if not env:
        raise UsageError("no environment given; pass it as ENV or --env")
    settings = load(c)
    skipped = _validate_skip([*settings.checks.skip, *(skip or [])])
    environment = settings.deploy.environment(env)
    rules = postdeploy_rules(settings, environment, since_minutes=since)
    results = run_rules(rules, skipped)
    _finish(
        results,
        f"checks.postdeploy {env}",
        as_json=json,
        markdown=markdown,
        strict=strict,
    )


@task(
    iterable=["url"],
    help={
        "url": "an http:// or https:// URL that must answer 2xx; repeat for more",
        "attempts": "requests per URL before it fails (default: 5)",
        "timeout": "seconds to wait for each answer (default: 5)",
        "json": JSON_HELP,
    },
)
def health(
    c: Context,
    url: list[str] | None = None,
    attempts: int = 5,
    timeout: float = 5.0,
    json: bool = False,
) -> None:
    """Check that HTTP health URLs return 2xx, with retries and backoff."""
    from urllib.parse import urlsplit

    from ..errors import UsageError
    from .health import RetryPolicy, check_urls, display_url

    urls = url or []
    if not urls:
        raise UsageError("no URL given; pass --url URL (repeat it for more)")
    for item in urls:
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(
                f"invalid --url {display_url(item)!r}; expected an http:// or "
                "https:// URL"
            )
    if attempts < 1 or timeout <= 0:
        raise UsageError("--attempts must be at least 1 and --timeout above 0")
    results = check_urls(urls, RetryPolicy(attempts=attempts, timeout=float(timeout)))
    _finish(results, "checks.health", as_json=json, markdown=None, strict=False)


@task(
    help={
        "json": "print a JSON array of {id, group, status, catches, fix} "
        "(default: a table)"
    }
)
def list_(c: Context, json: bool = False) -> None:
    """List every check id with what it catches."""
    from ..output import print_json, result, table
    from .results import all_checks

    checks = all_checks()
    if json:
        print_json(
            [
                {
                    "id": check.id,
                    "group": check.group,
                    "status": check.default_status,
                    "catches": check.catches,
                    "fix": check.fix,
                }
                for check in checks
            ]
        )
        return
    result(
        table(
            ((check.id, check.default_status, check.catches) for check in checks),
            headers=("ID", "FINDING", "CATCHES"),
        )
    )


@task(
    positional=["check_id"],
    help={
        "check_id": "the manual check id to confirm, such as repo.tests",
        "release": "the release the confirmation is for (default: the version the "
        "version files agree on, else the latest tag)",
        "by": "who confirms (default: git config user.name)",
    },
)
def confirm(
    c: Context,
    check_id: str | None = None,
    release: str | None = None,
    by: str | None = None,
) -> None:
    """Confirm manual checklist items for the release being shipped."""
    from ..errors import UsageError
    from ..git import run_git
    from ..output import result
    from ..task import settings as load
    from . import confirmations
    from .results import MANUAL, all_checks

    settings = load(c)
    manual = {check.id for check in all_checks() if check.default_status == MANUAL}
    if not check_id:
        raise UsageError(
            f"no check id given; manual items: {', '.join(sorted(manual))}"
        )
    if check_id not in manual:
        raise UsageError(
            f"{check_id!r} is not a manual check; manual items: "
            f"{', '.join(sorted(manual))}"
        )
    root = _root()
    if release is None:
        from .release_checks import release_facts

        release = release_facts(root, settings)["version"] or "unreleased"
    if by is None:
        by = (
            run_git(root, "config", "user.name", check=False).stdout.strip()
            or "unknown"
        )
    confirmations.confirm(root, release, [check_id], by)
    result(f"confirmed {check_id} for {release} in {confirmations.CONFIRMATIONS_FILE}")


@task(
    help={
        "markdown": "also write the list as Markdown to this file (default: none)",
        "json": "print a JSON array of {kind, file, line, text, author, date, "
        "age_days} (default: a table)",
    }
)
def debt(c: Context, markdown: str | None = None, json: bool = False) -> None:
    """List TODO, FIXME, HACK and XXX markers with author and age, oldest first."""
    from datetime import UTC, datetime

    from ..fileio import write_text_atomic
    from ..output import info, print_json, result, table
    from ..task import settings as load
    from . import debt as debt_module
    from .repo_files import RepoScan

    settings = load(c)
    root = _root()
    scan = RepoScan(root, settings.checks.exclude)
    markers = debt_module.find_markers(scan)
    if scan.in_git and markers:
        info(f"blaming {len({m.file for m in markers})} file(s)")
        debt_module.blame(root, markers)
    markers = debt_module.sort_oldest_first(markers)
    now = datetime.now(UTC)
    if markdown:
        write_text_atomic(markdown, debt_module.markdown(markers, now))
    if json:
        print_json([marker.to_dict(now) for marker in markers])
        return
    rows = []
    for marker in markers:
        age = marker.age_days(now)
        rows.append(
            (
                "" if age is None else f"{age}d",
                marker.kind,
                f"{marker.file}:{marker.line}",
                marker.author or "uncommitted",
                marker.text[:60],
            )
        )
    result(
        table(rows, headers=("AGE", "KIND", "LOCATION", "AUTHOR", "TEXT"))
        if rows
        else "no TODO, FIXME, HACK or XXX markers"
    )


list_.__name__ = "list"
ns = Collection("checks")
ns.add_task(predeploy)
ns.add_task(postdeploy)
ns.add_task(health)
ns.add_task(list_, name="list")
ns.add_task(confirm)
ns.add_task(debt)
ns.configure({"tpo": defaults()})
