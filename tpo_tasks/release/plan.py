"""Release state and planning: tags, the current version, the next one, migrations.

:func:`gather` reads the repository (a fixed, small number of git processes however
long the history); :func:`decide` turns that state into a :class:`Plan` without
touching git or files. ``release.plan`` prints the plan and ``release.bump`` executes
it, so both always agree.

Functions other namespaces rely on:

- :func:`release_tags` returns the release tags reachable from HEAD, oldest first.
- :func:`latest_release_tag` returns the highest of them as a :class:`Tag`, or None.
- :func:`current_version` returns the version string of the repository.
- :func:`new_migrations` returns the migration files added since a tag.
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ReleaseSettings
from ..errors import RefusedError, TpoError
from ..git import head_sha, is_ancestor, run_git, tree_status
from ..globs import glob_to_regex
from ..output import warn
from . import version_files, versions
from .changelog import ChangelogFormatError, parse
from .commits import Commit, since
from .versions import Version

# EF Core writes these next to each migration; they are not migrations themselves.
_MIGRATION_COMPANIONS = (
    re.compile(r"\.Designer\.cs$"),
    re.compile(r"ModelSnapshot\.cs$"),
)


@dataclass(frozen=True)
class Tag:
    """A release tag: ``sha`` is the commit it points at (annotated tags peeled)."""

    name: str
    version: Version
    sha: str
    date: str


def tag_pattern(tag_format: str) -> re.Pattern[str]:
    """Return a regex matching tag names built from ``tag_format``."""
    prefix, _, suffix = tag_format.partition("{version}")
    return re.compile(f"^{re.escape(prefix)}(?P<version>.+?){re.escape(suffix)}$")


def release_tags(root: str | os.PathLike[str], settings: ReleaseSettings,
                 scheme: str | None = None, *, merged: bool = True) -> list[Tag]:
    """Return the release tags (reachable from HEAD when ``merged``), lowest first.

    A tag matching ``tpo.release.tag_format`` whose version parses under neither
    scheme is skipped with a warning on stderr. One git process; ``merged`` makes
    git test every tag's reachability, which costs about 0.3 s per 1,000 tags on a
    10,000-commit history, so the planning code passes False and tests only the
    candidates with :func:`highest_reachable`.
    """
    scheme = scheme or version_files.default_scheme(root, settings)
    args = ["for-each-ref", "--format=%(refname:strip=2)%00%(objectname)%00"
            "%(*objectname)%00%(creatordate:short)"]
    if merged:
        if head_sha(root) is None:
            return []
        args.append("--merged=HEAD")
    args.append("refs/tags")
    pattern = tag_pattern(settings.tag_format)
    tags = []
    for line in run_git(root, *args).stdout.splitlines():
        name, object_id, peeled, date = line.split("\0")
        match = pattern.match(name)
        if match is None or match.group("version")[:1] in ("v", "V"):
            # PEP 440 accepts a leading "v", so under the format "{version}" the
            # tag v5.0.0 would otherwise count as a release of the version text
            # "v5.0.0", which the tool never writes.
            continue
        version = versions.parse(match.group("version"), scheme)
        if version is None:
            warn(f"tag {name} matches {settings.tag_format} but "
                 f"{match.group('version')} is neither a PEP 440 nor a SemVer "
                 "version; skipping it")
            continue
        tags.append(Tag(name=name, version=version, sha=peeled or object_id, date=date))
    tags.sort(key=lambda tag: tag.version.sort_key())
    return tags


def highest_reachable(root: str | os.PathLike[str], tags: list[Tag],
                      head: str | None, below: Version | None = None) -> Tag | None:
    """Return the highest of ``tags`` (sorted lowest first) reachable from ``head``.

    With ``below``, only tags whose version is at most ``below`` count. Tests one
    tag at a time from the top, so a linear history needs one git process.
    """
    if head is None:
        return None
    for tag in reversed(tags):
        if below is not None and tag.version.sort_key() > below.sort_key():
            continue
        if tag.sha == head or is_ancestor(root, tag.sha, head):
            return tag
    return None


def latest_release_tag(root: str | os.PathLike[str], settings: ReleaseSettings
                       ) -> Tag | None:
    """Return the release tag with the highest version reachable from HEAD, or None."""
    tags = release_tags(root, settings, merged=False)
    return highest_reachable(root, tags, head_sha(root))


def current_version(root: str | os.PathLike[str], settings: ReleaseSettings) -> str:
    """Return the repository's version: the version files' common value, else the
    latest release tag's version, else ``0.0.0``.

    Raises RefusedError (exit 4) when the version files disagree.
    """
    found = version_files.read_all(root, settings)
    agreed = version_files.check_agree(found)
    if agreed is not None:
        return agreed
    tag = latest_release_tag(root, settings)
    return tag.version.text if tag else "0.0.0"


def match_migrations(paths: list[str], globs: tuple[str, ...] | list[str]) -> list[str]:
    """Return the ``paths`` that match a migration glob, sorted.

    ``**/`` matches any number of folders and ``*`` stays inside one; a glob
    starting with ``!`` excludes. EF Core ``*.Designer.cs`` and ``*ModelSnapshot.cs``
    files never count.
    """
    include = [glob_to_regex(item) for item in globs if not item.startswith("!")]
    exclude = [glob_to_regex(item[1:]) for item in globs if item.startswith("!")]
    found = []
    for path in paths:
        if not any(regex.match(path) for regex in include):
            continue
        if any(regex.match(path) for regex in exclude):
            continue
        if any(regex.search(path) for regex in _MIGRATION_COMPANIONS):
            continue
        found.append(path)
    return sorted(found)


def new_migrations(root: str | os.PathLike[str], settings: ReleaseSettings,
                   since_tag: str | None) -> list[str]:
    """Return the migration files (``tpo.release.migrations`` globs) added after
    ``since_tag``, as sorted paths relative to the repository root; every tracked
    migration file when ``since_tag`` is None."""
    if since_tag is None:
        output = run_git(root, "ls-files", "-z").stdout
    else:
        output = run_git(root, "diff", "--name-only", "--diff-filter=A", "-z",
                         "--no-renames", since_tag, "HEAD").stdout
    return match_migrations([path for path in output.split("\0") if path],
                            settings.migrations)


# -- state and decision -------------------------------------------------------------


@dataclass
class State:
    """Everything the plan depends on, read from the repository."""

    scheme: str
    files: list[version_files.FileVersion]
    tags: list[Tag]  # every release tag, reachable or not, lowest version first
    head: str | None
    branch: str | None
    dirty: list[str]
    changelog_error: str | None
    files_error: str | None = None
    commits: list[Commit] = field(default_factory=list)
    latest: Tag | None = None  # the highest tag reachable from HEAD
    last_tag: Tag | None = None  # the tag the changes are counted from
    migrations: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """The release plan; see ``templates/release-plan.schema.json`` for the JSON."""

    scheme: str
    current_version: str
    last_tag: str | None
    last_version: str | None
    next_version: str | None
    rule: str
    part: str | None
    tag: str | None
    commits: list[Commit]
    migrations: list[str]
    go: bool
    reasons: list[str]
    refusals: list[str]  # the reasons release.bump refuses (exit 4)
    version_problems: list[str]  # refusals that make the current version unknown
    branch: str | None
    files: list[version_files.FileVersion]

    @property
    def breaking(self) -> list[Commit]:
        return [commit for commit in self.commits if commit.breaking]

    @property
    def non_conventional(self) -> int:
        return sum(1 for commit in self.commits if not commit.conventional)

    def changes(self) -> dict[str, list[dict[str, object]]]:
        grouped: dict[str, list[dict[str, object]]] = {}
        for commit in self.commits:
            if commit.type is None:
                continue
            grouped.setdefault(commit.type, []).append({
                "sha": commit.sha, "scope": commit.scope,
                "subject": commit.description, "breaking": commit.breaking,
            })
        return grouped

    def to_json(self) -> dict[str, object]:
        return {
            "current_version": self.current_version,
            "last_tag": self.last_tag,
            "next_version": self.next_version,
            "rule": self.rule,
            "changes": self.changes(),
            "breaking": [{"sha": commit.sha,
                          "subject": commit.breaking_note or commit.description}
                         for commit in self.breaking],
            "migrations": self.migrations,
            "non_conventional": self.non_conventional,
            "go": self.go,
            "reasons": self.reasons,
        }


def gather(root: str | os.PathLike[str], settings: ReleaseSettings) -> State:
    """Read the version files, tags, commits since the last tag and migrations."""
    root = Path(root)
    scheme = version_files.default_scheme(root, settings)
    files: list[version_files.FileVersion] = []
    files_error = None
    try:
        files = version_files.read_all(root, settings)
    except TpoError as exc:
        files_error = exc.message
    tags = release_tags(root, settings, scheme, merged=False)
    changelog_error = None
    changelog_path = root / settings.changelog
    if changelog_path.is_file():
        try:
            parse(changelog_path.read_text(encoding="utf-8"), settings.changelog)
        except ChangelogFormatError as exc:
            changelog_error = exc.message
        except UnicodeDecodeError:
            changelog_error = f"{settings.changelog} is not UTF-8; save it as UTF-8"
    status = tree_status(root)
    state = State(
        scheme=scheme, files=files, tags=tags, head=status.head,
        branch=status.branch, dirty=list(status.changed),
        changelog_error=changelog_error, files_error=files_error,
    )
    state.latest = highest_reachable(root, tags, state.head)
    state.last_tag = _last_tag(root, state)
    if state.head is not None:
        name = state.last_tag.name if state.last_tag else None
        state.commits = since(root, name)
        state.migrations = new_migrations(root, settings, name)
    return state


def _file_version(state: State) -> str | None:
    values = {item.value for item in state.files}
    return values.pop() if len(values) == 1 else None


def _last_tag(root: Path, state: State) -> Tag | None:
    """Return the reachable tag of the files' version, else the highest reachable
    tag at or below it, else the highest reachable tag."""
    value = _file_version(state)
    if value is None or state.latest is None:
        return state.latest
    current = versions.parse(value, state.scheme)
    if current is None or state.latest.version.sort_key() <= current.sort_key():
        return state.latest
    found = highest_reachable(root, state.tags, state.head, below=current)
    return found or state.latest


def _current_text(state: State) -> str:
    file_value = _file_version(state)
    if file_value is not None:
        return file_value
    return state.latest.version.text if state.latest else "0.0.0"


def _version_problems(state: State) -> list[str]:
    """Return the problems that leave the current version unknown or contradicted:
    unreadable or disagreeing files, an invalid version, files behind a tag."""
    problems = []
    if state.files_error:
        problems.append(state.files_error)
    try:
        version_files.check_agree(state.files)
    except RefusedError as exc:
        problems.append(exc.message)
    file_value = _file_version(state)
    if file_value is None:
        return problems
    current = versions.parse(file_value, state.scheme)
    if current is None:
        problems.append(f"the version {file_value} in the version files is neither "
                        "PEP 440 nor SemVer; fix it by hand")
        return problems
    head_tags = [tag for tag in state.tags if tag.sha == state.head]
    for tag in head_tags:
        if tag.version.text != file_value:
            problems.append(_mismatch(state, file_value, tag, "HEAD is tagged"))
    latest = state.latest
    if latest is not None and latest not in head_tags and (
        latest.version.sort_key() > current.sort_key()
    ):
        problems.append(_mismatch(state, file_value, latest, "the newer tag"))
    return problems


def decide(state: State, settings: ReleaseSettings, *, part: str | None = None,
           pre: str | None = None, finalize: bool = False) -> Plan:
    """Return the plan for ``state``: the next version, its rule, go or no-go.

    Reads nothing from git or the disk, so ``release.plan`` and ``release.bump``
    decide the same way on the same state.
    """
    version_problems = _version_problems(state)
    refusals = list(version_problems)
    notes: list[str] = []
    if state.dirty:
        shown = ", ".join(state.dirty[:20])
        more = f" and {len(state.dirty) - 20} more" if len(state.dirty) > 20 else ""
        refusals.append(f"the working tree has uncommitted changes: {shown}{more}; "
                        "commit or stash them")
    if state.changelog_error:
        refusals.append(state.changelog_error)

    current_text = _current_text(state)
    current = versions.parse(current_text, state.scheme) or versions.parse(
        "0.0.0", state.scheme)
    assert current is not None

    bump = versions.next_version(
        current, state.scheme, part=part, pre=pre, finalize=finalize,
        breaking=any(commit.breaking for commit in state.commits),
        types={commit.type for commit in state.commits if commit.type},
    )
    tag = None
    if bump.version:
        tag = settings.tag_format.replace("{version}", bump.version)
    if bump.version is not None:
        try:
            version_files.check_representable(state.files, bump.version)
        except RefusedError as exc:
            refusals.append(exc.message)
        if any(existing.name == tag for existing in state.tags):
            refusals.append(f"tag {tag} already exists; delete it or choose another "
                            "version")
    if state.branch != settings.branch:
        notes.append(f"on branch {state.branch or '(detached HEAD)'}, not the release "
                     f"branch {settings.branch} (tpo.release.branch)")
    reasons = list(refusals) + notes
    if bump.version is None:
        reasons.append(f"nothing to release: {bump.rule}")
    return Plan(
        scheme=state.scheme, current_version=current_text,
        last_tag=state.last_tag.name if state.last_tag else None,
        last_version=state.last_tag.version.text if state.last_tag else None,
        next_version=bump.version, rule=bump.rule, part=bump.part, tag=tag,
        commits=state.commits, migrations=state.migrations,
        go=not reasons, reasons=reasons, refusals=refusals, branch=state.branch,
        version_problems=version_problems,
        files=state.files,
    )


def _mismatch(state: State, file_value: str, tag: Tag, what: str) -> str:
    labels = ", ".join(item.label for item in state.files)
    return (f"{labels} says {file_value} but {what} {tag.name} ({tag.version.text}); "
            f"set the version files to {tag.version.text} or retag")


def plan(root: str | os.PathLike[str], settings: ReleaseSettings, *,
         part: str | None = None, pre: str | None = None, finalize: bool = False
         ) -> tuple[State, Plan]:
    """Gather the state and decide; return both."""
    state = gather(root, settings)
    return state, decide(state, settings, part=part, pre=pre, finalize=finalize)


def describe(plan: Plan) -> list[str]:
    """Return the plan as lines of text for ``release.plan``."""
    files = ", ".join(item.label for item in plan.files) or "no version files"
    since = plan.last_tag or "the first commit"
    lines = [
        f"current version: {plan.current_version} ({files})",
        f"last tag:        {plan.last_tag or 'none'}",
        f"next version:    {plan.next_version or 'none'}",
        f"rule:            {plan.rule}",
        f"changes since {since}: {len(plan.commits)} commits, "
        f"{plan.non_conventional} not conventional",
    ]
    for kind, items in sorted(plan.changes().items()):
        lines.append(f"  {kind}:")
        for item in items:
            scope = f"{item['scope']}: " if item["scope"] else ""
            mark = " [breaking]" if item["breaking"] else ""
            lines.append(f"    {str(item['sha'])[:7]} {scope}{item['subject']}{mark}")
    if plan.breaking:
        lines.append("breaking changes:")
        lines += [f"  {commit.short_sha} {commit.breaking_note or commit.description}"
                  for commit in plan.breaking]
    lines.append(f"new migrations since {since}: {len(plan.migrations)}")
    lines += [f"  {path}" for path in plan.migrations]
    if plan.go:
        lines.append(f"go: release {plan.next_version} as {plan.tag}")
    else:
        lines.append("no-go:")
        lines += [f"  - {reason}" for reason in plan.reasons]
    return lines
