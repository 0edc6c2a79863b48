"""Conventional Commits read from one ``git log`` pass.

:func:`since` returns the commits after a tag as :class:`Commit` values, oldest first,
with reverted pairs removed. :func:`history` reads the whole history once and splits
it at the release tags, for ``release.changelog --from-history``.

Rules:

- ``type(scope)!: description`` is conventional; ``!`` or a ``BREAKING CHANGE:`` /
  ``BREAKING-CHANGE:`` footer marks a breaking change.
- A merge commit whose subject is not conventional (``Merge branch 'x'``) is skipped
  and not counted, because the commits it merges are read on their own.
- ``Revert "feat: x"`` removes itself and the commit it names (by ``This reverts
  commit <sha>``, else by subject) when that commit is in the same range. A revert
  of an older, released commit stays as a ``revert`` change.
"""

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..git import run_git

_HEADER = re.compile(
    r"^(?P<type>[A-Za-z][A-Za-z0-9_-]*)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?:"
    r"[ \t]+(?P<description>\S.*)$"
)
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE:[ \t]*(?P<note>.*)$", re.M)
_REVERT_SUBJECT = re.compile(r'^(?:Revert|Reapply) "(?P<subject>.+)"\s*$')
_REVERTS_SHA = re.compile(r"This reverts commit (?P<sha>[0-9a-f]{7,40})")

# Record separator between commits and unit separator between fields.
_FORMAT = "%H%x1f%P%x1f%B%x1e"


@dataclass(frozen=True)
class Commit:
    """One commit: ``type`` is None for a non-conventional commit."""

    sha: str
    subject: str
    body: str
    parents: tuple[str, ...] = ()
    type: str | None = None
    scope: str | None = None
    description: str = ""
    breaking: bool = False
    breaking_note: str | None = None

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def conventional(self) -> bool:
        return self.type is not None

    @property
    def short_sha(self) -> str:
        return self.sha[:7]


def parse_message(sha: str, message: str, parents: Iterable[str] = ()) -> Commit:
    """Return the Commit for a raw commit message (subject, blank line, body)."""
    message = message.replace("\r\n", "\n").strip("\n")
    subject, _, body = message.partition("\n")
    body = body.strip("\n")
    match = _HEADER.match(subject.strip())
    if match is None:
        return Commit(sha=sha, subject=subject, body=body, parents=tuple(parents))
    footer = _BREAKING_FOOTER.search(body) if "BREAKING" in body else None
    note = None
    if footer is not None:
        note = footer.group("note").strip() or None
    return Commit(
        sha=sha, subject=subject, body=body, parents=tuple(parents),
        type=match.group("type").lower(),
        scope=(match.group("scope") or "").strip() or None,
        description=match.group("description").strip(),
        breaking=bool(match.group("bang")) or footer is not None,
        breaking_note=note,
    )


def parse_log(output: str) -> list[Commit]:
    """Parse ``git log --format=%H%x1f%P%x1f%B%x1e`` output into Commits, in order."""
    commits = []
    for record in output.split("\x1e"):
        record = record.lstrip("\n")
        if not record:
            continue
        sha, parents, message = record.split("\x1f", 2)
        commits.append(parse_message(sha, message, parents.split()))
    return commits


def cancel_reverts(commits: list[Commit]) -> list[Commit]:
    """Drop reverted commits and the reverts that name them, keeping the order.

    ``commits`` is oldest first. A revert of a revert (``Reapply "..."`` in newer
    git) brings the original back.
    """
    by_sha = {commit.sha: commit for commit in commits}
    active: dict[str, Commit] = {}
    by_subject: dict[str, str] = {}
    cancelled: dict[str, str] = {}  # revert sha -> the sha it removed
    for commit in commits:
        target = None
        if _REVERT_SUBJECT.match(commit.subject):
            target = _revert_target(commit, active, cancelled, by_subject)
        if target in active:
            active.pop(target)
            cancelled[commit.sha] = target
        elif target in cancelled:
            original = cancelled.pop(target)
            active[original] = by_sha[original]
            by_subject[by_sha[original].subject] = original
        else:
            active[commit.sha] = commit
            by_subject[commit.subject] = commit.sha
    order = {commit.sha: index for index, commit in enumerate(commits)}
    return sorted(active.values(), key=lambda item: order[item.sha])


def _revert_target(commit: Commit, active: dict[str, Commit],
                   cancelled: dict[str, str], by_subject: dict[str, str]
                   ) -> str | None:
    """Return the sha of the active commit or cancelling revert that ``commit``
    reverts, or None."""
    subject_match = _REVERT_SUBJECT.match(commit.subject)
    if subject_match is None:
        return None
    sha_match = _REVERTS_SHA.search(commit.body)
    if sha_match is not None:
        prefix = sha_match.group("sha")
        if prefix in active or prefix in cancelled:
            return prefix
        for sha in (*active, *cancelled):
            if sha.startswith(prefix):
                return sha
    target = by_subject.get(subject_match.group("subject"))
    return target if target in active or target in cancelled else None


def classify_reverts(commits: list[Commit]) -> list[Commit]:
    """Give a ``revert`` type to non-conventional ``Revert "..."`` commits left over."""
    result = []
    for commit in commits:
        match = _REVERT_SUBJECT.match(commit.subject)
        if commit.type is None and match is not None:
            commit = Commit(
                sha=commit.sha, subject=commit.subject, body=commit.body,
                parents=commit.parents, type="revert", scope=None,
                description=f"revert {match.group('subject')}",
            )
        result.append(commit)
    return result


def relevant(commits: Iterable[Commit]) -> list[Commit]:
    """Drop merge commits whose subject is not conventional."""
    return [commit for commit in commits if commit.conventional or not commit.is_merge]


def log(root: str | os.PathLike[str], revision_range: str | None) -> list[Commit]:
    """Return the commits of ``revision_range`` (all of HEAD when None), oldest first.

    Runs one ``git log`` process. Reverted pairs are removed, merges with a
    non-conventional subject skipped, leftover reverts typed ``revert``.
    """
    args = ["log", f"--format={_FORMAT}", "--reverse"]
    args.append(revision_range or "HEAD")
    output = run_git(root, *args).stdout
    commits = relevant(parse_log(output))
    return classify_reverts(cancel_reverts(commits))


def since(root: str | os.PathLike[str], tag: str | None) -> list[Commit]:
    """Return the commits after ``tag`` up to HEAD (every commit when ``tag`` is None).

    The list is oldest first and processed as :func:`log` describes.
    """
    return log(root, f"{tag}..HEAD" if tag else "HEAD")


def breaking_changes(commits: Iterable[Commit]) -> list[Commit]:
    """Return the commits that declare a breaking change."""
    return [commit for commit in commits if commit.breaking]


@dataclass(frozen=True)
class TaggedRange:
    """The commits a release added: in ``tag`` and in no lower release tag.

    ``tag`` is None for the commits after every release tag. ``commits`` are
    oldest first.
    """

    tag: str | None
    commits: tuple[Commit, ...]


def history(root: str | os.PathLike[str], tags: list[tuple[str, str]]
            ) -> list[TaggedRange]:
    """Split the history of HEAD into the commits each release tag added.

    ``tags`` lists ``(commit sha, tag name)`` from the lowest version up. Each
    commit belongs to the lowest tag whose history contains it, so the commits of
    a branch merged before a release belong to that release. One ``git log``
    process reads the whole graph; the split walks each commit once. Returns the
    ranges of the tags reachable from HEAD, highest first, after the Unreleased
    range.
    """
    output = run_git(root, "log", f"--format={_FORMAT}", "HEAD").stdout
    newest_first = parse_log(output)
    by_sha = {commit.sha: commit for commit in newest_first}
    owner: dict[str, str | None] = {}
    starts = [(sha, name) for sha, name in tags if sha in by_sha]
    if newest_first:
        starts.append((newest_first[0].sha, None))  # type: ignore[arg-type]
    for start, name in starts:
        pending = [start]
        while pending:
            sha = pending.pop()
            if sha in owner or sha not in by_sha:
                continue
            owner[sha] = name
            pending.extend(by_sha[sha].parents)
    grouped: dict[str | None, list[Commit]] = {name: [] for _, name in starts}
    for commit in reversed(newest_first):
        grouped[owner[commit.sha]].append(commit)
    ranges = []
    for _, name in reversed(starts):
        commits = relevant(grouped[name])
        ranges.append(TaggedRange(name, tuple(classify_reverts(cancel_reverts(
            commits)))))
    return ranges
