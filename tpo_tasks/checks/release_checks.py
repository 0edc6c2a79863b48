"""Release checks: version files, changelog section, breaking changes, migrations.

The facts come from the release namespace's plain functions. "The last release" is
the latest release tag below the shipped version (the tag before HEAD's own tag), or,
with ``--env``, the version that environment's deploy history last recorded.
"""

from collections.abc import Iterator
from typing import Any

from .results import WARN, CheckResult, register

VERSIONS_AGREE = register(
    "release.versions-agree",
    "version files that disagree with each other or with the latest release tag",
    "set every version file to the released version (inv release.bump) and tag it",
)
CHANGELOG_SECTION = register(
    "release.changelog-section",
    "a CHANGELOG.md with no section for the version being shipped",
    "add a '## [VERSION] - YYYY-MM-DD' section (inv release.bump writes it)",
)
BREAKING_CHANGES = register(
    "release.breaking-changes",
    "breaking changes (feat!: or BREAKING CHANGE:) since the last release",
    "tell the consumers and check the major version was bumped",
    status=WARN,
)
MIGRATIONS = register(
    "release.migrations",
    "new database migration files (tpo.release.migrations globs) since the last "
    "release",
    "take a database backup before the deploy and plan the rollback of each migration",
    status=WARN,
)


def release_facts(
    root: Any, settings: Any, deployed: str | None = None
) -> dict[str, Any]:
    """Return the shipped version, its tag, the base tag to compare with, and errors."""
    from ..errors import TpoError
    from ..release import plan, version_files

    facts: dict[str, Any] = {
        "files": [],
        "files_error": None,
        "version": None,
        "tags": [],
        "base": None,
    }
    try:
        facts["files"] = version_files.read_all(root, settings.release)
    except TpoError as exc:
        facts["files_error"] = exc.message
    facts["tags"] = plan.release_tags(root, settings.release)
    values = {item.value for item in facts["files"]}
    if len(values) == 1:
        facts["version"] = values.pop()
    elif not facts["files"] and facts["tags"]:
        facts["version"] = facts["tags"][-1].version.text
    from ..git import head_sha

    head = head_sha(root)
    below = [
        tag
        for tag in facts["tags"]
        if tag.sha != head and tag.version.text != facts["version"]
    ]
    if deployed:
        facts["base"] = next(
            (
                tag.name
                for tag in facts["tags"]
                if tag.version.text == deployed or tag.name == deployed
            ),
            None,
        )
    elif below:
        facts["base"] = below[-1].name
    return facts


def check_versions(facts: dict[str, Any]) -> Iterator[CheckResult]:
    if facts["files_error"]:
        yield VERSIONS_AGREE.result(facts["files_error"])
        return
    files = facts["files"]
    if not files:
        yield VERSIONS_AGREE.skipped("no version files (tpo.release.version_files)")
        return
    values = {item.value for item in files}
    if len(values) > 1:
        listing = ", ".join(f"{item.label} = {item.value}" for item in files)
        yield VERSIONS_AGREE.result(
            f"version files disagree: {listing}", file=files[0].label
        )
        return
    version = values.pop()
    tags = facts["tags"]
    if not tags:
        yield VERSIONS_AGREE.passed(
            f"version files agree on {version}; no release tag yet"
        )
        return
    latest = tags[-1]
    if latest.version.text != version:
        yield VERSIONS_AGREE.result(
            f"version files say {version} but the latest release tag is {latest.name}",
            file=files[0].label,
            status=WARN if _newer(version, latest) else None,
            hint=f"tag the release ({version}) or set the version files to "
            f"{latest.version.text}",
        )
        return
    yield VERSIONS_AGREE.passed(
        f"version files and tag {latest.name} agree on {version}"
    )


def _newer(version: str, tag: Any) -> bool:
    """Return whether ``version`` sorts after the version of release ``tag``."""
    from ..release import versions

    parsed = versions.parse(version, tag.version.scheme)
    return parsed is not None and parsed.sort_key() > tag.version.sort_key()


def check_changelog(
    root: Any, settings: Any, facts: dict[str, Any]
) -> Iterator[CheckResult]:
    from ..errors import TpoError
    from ..release import changelog

    path = settings.release.changelog
    version = facts["version"]
    if version is None:
        yield CHANGELOG_SECTION.skipped(
            "no version to look up (no version files agree and no release tag)"
        )
        return
    try:
        text = (root / path).read_text(encoding="utf-8")
    except FileNotFoundError:
        yield CHANGELOG_SECTION.result(f"{path} not found", file=path)
        return
    try:
        log = changelog.parse(text, path)
    except TpoError as exc:
        lines = getattr(exc, "lines", ())
        yield CHANGELOG_SECTION.result(
            f"{path} is not in Keep a Changelog form: {exc.message}",
            file=path,
            line=lines[0] if lines else None,
        )
        return
    section = log.section(version)
    if section is None:
        yield CHANGELOG_SECTION.result(
            f"{path} has no section for {version}", file=path
        )
    else:
        yield CHANGELOG_SECTION.passed(
            f"{path} has a section for {version} (line {section.line})"
        )


def check_breaking(root: Any, facts: dict[str, Any]) -> Iterator[CheckResult]:
    from ..release import commits

    base = facts["base"]
    found = commits.breaking_changes(commits.since(root, base))
    since = f"since {base}" if base else "in the history (no earlier release tag)"
    if not found:
        yield BREAKING_CHANGES.passed(f"no breaking change {since}")
        return
    listed = "; ".join(
        f"{c.short_sha} {c.breaking_note or c.subject}"[:100] for c in found[:5]
    )
    yield BREAKING_CHANGES.result(f"{len(found)} breaking change(s) {since}: {listed}")


def check_migrations(
    root: Any, settings: Any, facts: dict[str, Any]
) -> Iterator[CheckResult]:
    from ..release import plan

    base = facts["base"]
    found = plan.new_migrations(root, settings.release, base)
    since = f"since {base}" if base else "(no earlier release tag)"
    if not found:
        yield MIGRATIONS.passed(f"no new migration {since}")
        return
    for path in found:
        yield MIGRATIONS.result(
            f"new migration {since}: take a backup before the "
            "deploy and plan its rollback",
            file=path,
        )
