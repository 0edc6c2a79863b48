"""Keep a Changelog 1.1.0 files: parse, add entries, cut a release, render from history.

:func:`parse` returns a :class:`Changelog` whose sections carry 1-based line numbers.
It raises :class:`ChangelogFormatError` (exit 4, the file is left alone) for a file
that is not in Keep a Changelog form; two ``Unreleased`` sections are reported with
both line numbers. Edits splice lines, so every line outside the changed sections
keeps its bytes. :func:`check_release` and :func:`check_released_kept` re-parse the
result to prove that no released entry was lost.

The checks namespace relies on :func:`parse` and :meth:`Changelog.section`.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..errors import RefusedError, UsageError
from .commits import Commit

HEADINGS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
TYPE_HEADINGS = {
    "feat": "Added",
    "fix": "Fixed",
    "perf": "Changed",
    "revert": "Removed",
    "deprecate": "Deprecated",
    "deprecated": "Deprecated",
    "remove": "Removed",
    "removed": "Removed",
    "security": "Security",
    "sec": "Security",
}
SECTION_TEMPLATE = "CHANGELOG-section.md.j2"
HEADER_TEMPLATE = "CHANGELOG-header.md.j2"

_SECTION = re.compile(
    r"^##\s+\[?(?P<title>[^\]\s]+)\]?(?:\s+-\s+(?P<date>\d{4}-\d{2}-\d{2}))?"
    r"(?P<rest>.*)$"
)
_GROUP = re.compile(r"^###\s+(?P<heading>.+?)\s*$")
_LINK = re.compile(r"^\[(?P<label>[^\]]+)\]:\s*(?P<url>\S+)\s*$")
_ENTRY = re.compile(r"^[-*+]\s+")
_FENCE = re.compile(r"^\s*(```|~~~)")
# A one-line HTML comment, such as a markdownlint directive, among the links.
_COMMENT = re.compile(r"^\s*<!--.*-->\s*$")


class ChangelogFormatError(RefusedError):
    """The changelog is not in Keep a Changelog form; it is reported, not rewritten."""

    def __init__(self, message: str, lines: Sequence[int] = ()) -> None:
        super().__init__(message)
        self.lines = tuple(lines)


@dataclass
class Group:
    """A ``### Heading`` block: entries keep their original lines."""

    heading: str
    entries: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    """A ``## [title] - date`` section; ``start``/``end`` index ``Changelog.lines``."""

    title: str
    date: str | None
    line: int  # 1-based line number of the heading
    start: int
    end: int
    heading: str

    @property
    def is_unreleased(self) -> bool:
        return self.title.lower() == "unreleased"


@dataclass
class Changelog:
    """A parsed changelog; ``lines`` have no line endings."""

    lines: list[str]
    newline: str
    sections: list[Section]
    links: dict[str, str]
    link_start: int
    has_bom: bool = False

    @property
    def unreleased(self) -> Section | None:
        return next((item for item in self.sections if item.is_unreleased), None)

    @property
    def released(self) -> list[Section]:
        return [item for item in self.sections if not item.is_unreleased]

    def section(self, version: str) -> Section | None:
        """Return the section titled ``version`` (or ``Unreleased``), or None."""
        for item in self.sections:
            if item.title == version or (item.is_unreleased and
                                         version.lower() == "unreleased"):
                return item
        return None

    def body(self, section: Section) -> list[str]:
        """Return the lines of ``section`` after its heading, outer blank lines cut."""
        lines = self.lines[section.start + 1:section.end]
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        return lines

    def groups(self, section: Section) -> tuple[list[str], list[Group]]:
        """Return the section's free text before its first group, and its groups."""
        return split_groups(self.body(section))

    @property
    def header(self) -> list[str]:
        first = self.sections[0].start if self.sections else self.link_start
        return self.lines[:first]


# -- parsing --------------------------------------------------------------------


def decode(data: bytes, path: str = "CHANGELOG.md") -> str:
    """Return the changelog bytes as text; raise ChangelogFormatError unless UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ChangelogFormatError(f"{path} is not UTF-8; save it as UTF-8") from None


def parse(text: str, path: str = "CHANGELOG.md") -> Changelog:
    """Parse a Keep a Changelog file; raise ChangelogFormatError for any other form.

    Sections are ``## [Unreleased]`` and ``## [VERSION] - YYYY-MM-DD`` (brackets and
    the date optional, a trailing ``[YANKED]`` allowed). Link references are the
    ``[label]: url`` lines at the end of the file; one-line HTML comments among or
    after them belong to that block.
    """
    from .versions import parse as parse_version

    has_bom = text.startswith("\ufeff")
    if has_bom:
        text = text[1:]
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(newline)
    if lines and lines[-1] == "":
        lines.pop()

    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].startswith("# "):
        where = f"line {first + 1}" if first is not None else "the file is empty and"
        raise ChangelogFormatError(
            f"{path} is not a Keep a Changelog file: {where} has no '# Changelog' "
            "title; add the title or move the file away"
        )

    link_start = len(lines)
    for index in range(len(lines) - 1, -1, -1):
        if _LINK.match(lines[index]):
            link_start = index
        elif lines[index].strip() and not _COMMENT.match(lines[index]):
            break
    links = {}
    for line in lines[link_start:]:
        match = _LINK.match(line)
        if match:
            links[match.group("label")] = match.group("url")

    headings: list[tuple[int, str, str | None]] = []
    in_fence = False
    for index, line in enumerate(lines[:link_start]):
        if _FENCE.match(line):
            in_fence = not in_fence
        if in_fence or not line.startswith("## "):
            continue
        match = _SECTION.match(line)
        title = match.group("title") if match else ""
        rest = match.group("rest").strip() if match else ""
        valid = match is not None and (
            title.lower() == "unreleased" or parse_version(title, "semver") is not None
        ) and rest in ("", "[YANKED]")
        if not valid:
            raise ChangelogFormatError(
                f"{path} line {index + 1}: {line.strip()!r} is not a Keep a Changelog "
                "heading ('## [Unreleased]' or '## [1.2.3] - YYYY-MM-DD'); fix the "
                "heading", [index + 1],
            )
        headings.append((index, title, match.group("date") if match else None))

    sections = []
    for position, (index, title, date) in enumerate(headings):
        end = headings[position + 1][0] if position + 1 < len(headings) else link_start
        sections.append(Section(title=title, date=date, line=index + 1, start=index,
                                end=end, heading=lines[index]))

    unreleased = [item.line for item in sections if item.is_unreleased]
    if len(unreleased) > 1:
        numbers = " and ".join(str(number) for number in unreleased)
        raise ChangelogFormatError(
            f"{path} has {len(unreleased)} Unreleased sections, at lines {numbers}; "
            "merge them into one", unreleased,
        )
    seen: dict[str, int] = {}
    for item in sections:
        if item.title in seen:
            raise ChangelogFormatError(
                f"{path} has two sections for {item.title}, at lines "
                f"{seen[item.title]} and {item.line}; remove one",
                [seen[item.title], item.line],
            )
        seen[item.title] = item.line
    return Changelog(lines=lines, newline=newline, sections=sections, links=links,
                     link_start=link_start, has_bom=has_bom)


def split_groups(body: list[str]) -> tuple[list[str], list[Group]]:
    """Split section body lines into free text and ``### Heading`` groups of entries.

    An entry starts at a ``-``, ``*`` or ``+`` bullet and runs until a blank line,
    the next bullet or the next heading. Its lines are kept as written.
    """
    preamble: list[str] = []
    groups: list[Group] = []
    current: Group | None = None
    entry: list[str] | None = None
    for line in body:
        heading = _GROUP.match(line)
        if heading:
            current = Group(heading.group("heading"))
            groups.append(current)
            entry = None
            continue
        if current is None:
            preamble.append(line)
            continue
        if _ENTRY.match(line):
            entry = [line]
            current.entries.append("")
        elif not line.strip():
            entry = None
            continue
        elif entry is None:
            entry = [line]
            current.entries.append("")
        else:
            entry.append(line)
        current.entries[-1] = "\n".join(entry)
    while preamble and not preamble[-1].strip():
        preamble.pop()
    return preamble, groups


def entry_key(entry: str) -> str:
    """Return the comparison key of an entry: its first line without the bullet."""
    first = entry.strip().splitlines()[0] if entry.strip() else ""
    first = _ENTRY.sub("", first)
    return re.sub(r"\s+", " ", first).strip().lower()


# -- entries from commits ------------------------------------------------------------


def heading_for(commit: Commit) -> str | None:
    """Return the Keep a Changelog heading for a commit, or None to leave it out."""
    if commit.type is None:
        return None
    if commit.scope and commit.scope.lower() == "security" and commit.type == "fix":
        return "Security"
    heading = TYPE_HEADINGS.get(commit.type)
    if heading is None and commit.breaking:
        return "Changed"
    return heading


def entry_for(commit: Commit) -> str:
    """Return the Markdown list item for a commit."""
    text = commit.description
    if commit.scope and heading_for(commit) != commit.scope.capitalize():
        text = f"**{commit.scope}:** {text}"
    if commit.breaking:
        text = f"**Breaking:** {text}"
        if commit.breaking_note and commit.breaking_note != commit.description:
            text += f"\n  {commit.breaking_note}"
    return f"- {text}"


def entries_from(commits: Iterable[Commit]) -> list[Group]:
    """Group commit entries under the Keep a Changelog headings, in standard order."""
    grouped: dict[str, list[str]] = {}
    for commit in commits:
        heading = heading_for(commit)
        if heading is not None:
            grouped.setdefault(heading, []).append(entry_for(commit))
    return [Group(heading, grouped[heading]) for heading in HEADINGS
            if heading in grouped]


def merge_groups(existing: list[Group], new: list[Group]) -> tuple[list[Group], int]:
    """Return ``existing`` plus the new entries it lacks, and how many were added.

    Groups come out in the standard heading order; unknown headings keep their
    place after the standard ones.
    """
    merged = [Group(group.heading, list(group.entries)) for group in existing]
    known = {entry_key(entry) for group in merged for entry in group.entries}
    added = 0
    for group in new:
        target = next((item for item in merged if item.heading == group.heading), None)
        for entry in group.entries:
            key = entry_key(entry)
            if key in known:
                continue
            known.add(key)
            if target is None:
                target = Group(group.heading)
                merged.append(target)
            target.entries.append(entry)
            added += 1

    def order(group: Group) -> int:
        return HEADINGS.index(group.heading) if group.heading in HEADINGS else len(
            HEADINGS)

    merged = [group for group in merged if group.entries or group.heading]
    return sorted(merged, key=order), added


# -- rendering ------------------------------------------------------------------


def render_section(title: str, date: str | None, groups: list[Group],
                   preamble: Sequence[str] = ()) -> list[str]:
    """Render a section from ``templates/CHANGELOG-section.md.j2``; return its lines."""
    from ..templates import render

    text = render(SECTION_TEMPLATE, {
        "title": title,
        "date": date,
        "preamble": "\n".join(preamble),
        "groups": [{"heading": group.heading, "entries": group.entries}
                   for group in groups],
    })
    return text.rstrip("\n").split("\n")


def render_header(scheme: str) -> list[str]:
    """Return the standard Keep a Changelog header lines for a new file."""
    from ..templates import render

    return render(HEADER_TEMPLATE, {"scheme": scheme}).rstrip("\n").split("\n")


def _join(lines: list[str], newline: str, has_bom: bool) -> str:
    text = newline.join(line.replace("\n", newline) for line in lines) + newline
    return ("\ufeff" if has_bom else "") + text


def _strip_blank_edges(lines: list[str]) -> list[str]:
    lines = list(lines)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def new_changelog_text(scheme: str) -> str:
    """Return the text of a new changelog: the header and an empty Unreleased."""
    return _join([*render_header(scheme), "", "## [Unreleased]"], "\n", False)


def add_unreleased(log: Changelog, new: list[Group]) -> tuple[str, int]:
    """Return the file text with ``new`` entries added to Unreleased, and the count.

    Entries already present anywhere in Unreleased are skipped, so a second run
    adds nothing. The text is unchanged when nothing is added.
    """
    section = log.unreleased
    existing_preamble: list[str] = []
    existing: list[Group] = []
    if section is not None:
        existing_preamble, existing = log.groups(section)
    merged, added = merge_groups(existing, new)
    if not added:
        return _join(log.lines, log.newline, log.has_bom), 0
    rendered = render_section("Unreleased", None, merged, existing_preamble)
    if section is not None:
        before = log.lines[:section.start]
        after = log.lines[section.end:]
    else:
        position = log.sections[0].start if log.sections else log.link_start
        before = log.lines[:position]
        after = log.lines[position:]
    lines = _strip_blank_edges(before) + [""] + rendered + [""] + after
    return _join(_strip_blank_edges(lines), log.newline, log.has_bom), added


@dataclass(frozen=True)
class Links:
    """Compare link settings: with ``repo_url`` None the links are left alone."""

    repo_url: str | None
    tag_format: str

    def tag(self, version: str) -> str:
        return self.tag_format.replace("{version}", version)

    def compare(self, previous: str | None, version: str | None) -> str:
        assert self.repo_url is not None
        head = self.tag(version) if version else "HEAD"
        if previous is None:
            return f"{self.repo_url}/releases/tag/{head}"
        return f"{self.repo_url}/compare/{self.tag(previous)}...{head}"


def _update_links(lines: list[str], link_start: int, links: Links, version: str,
                  previous: str | None) -> list[str]:
    body = _strip_blank_edges(lines[:link_start])
    block = [line for line in lines[link_start:] if line.strip()]
    if links.repo_url is None:
        return body + ([""] + block if block else [])
    unreleased_line = f"[Unreleased]: {links.compare(version, None)}"
    version_line = f"[{version}]: {links.compare(previous, version)}"

    def label(line: str) -> str | None:
        match = _LINK.match(line)
        return match.group("label") if match else None

    block = [line for line in block if label(line) != version]
    position = next((index for index, line in enumerate(block)
                     if (label(line) or "").lower() == "unreleased"), None)
    if position is None:
        block[0:0] = [unreleased_line, version_line]
    else:
        block[position:position + 1] = [unreleased_line, version_line]
    return body + [""] + block


def release(log: Changelog, version: str, date: str, new: list[Group], links: Links,
            previous: str | None) -> str:
    """Return the file text after releasing ``version`` on ``date``.

    Unreleased entries plus ``new`` (duplicates skipped) move under
    ``## [version] - date``, rendered from the section template; an empty
    ``## [Unreleased]`` stays above it; the compare links are updated when
    ``links.repo_url`` is set. ``previous`` is the last released version or None.
    Raises ChangelogFormatError when the version already has a section.
    """
    if log.section(version) is not None:
        found = log.section(version)
        raise ChangelogFormatError(
            f"the changelog already has a section for {version} at line "
            f"{found.line if found else '?'}; remove it or pick another version")
    section = log.unreleased
    preamble: list[str] = []
    existing: list[Group] = []
    if section is not None:
        preamble, existing = log.groups(section)
    merged, _ = merge_groups(existing, new)
    rendered = render_section(version, date, merged, preamble)

    released = [item for item in log.sections if not item.is_unreleased]
    header = _strip_blank_edges(log.header)
    older: list[str] = []
    for item in released:
        older.extend(_strip_blank_edges(log.lines[item.start:item.end]))
        older.append("")
    lines = header + ["", "## [Unreleased]", ""] + rendered + [""] + older
    link_start = len(lines)
    lines += log.lines[log.link_start:]
    return _join(_update_links(lines, link_start, links, version, previous),
                 log.newline, log.has_bom)


def check_release(before: Changelog, after_text: str, version: str,
                  path: str = "CHANGELOG.md") -> Changelog:
    """Re-parse the released file and check that nothing was lost.

    Every released section of ``before`` must appear with the same lines, exactly
    one Unreleased section must exist, and ``version`` must have a section.
    Returns the parsed result; raises ChangelogFormatError otherwise.
    """
    after = parse(after_text, path)
    if after.unreleased is None:
        raise ChangelogFormatError(f"{path}: the release lost the Unreleased section")
    if after.section(version) is None:
        raise ChangelogFormatError(
            f"{path}: the release did not add a {version} section")
    check_released_kept(before, after_text, path)
    return after


def check_released_kept(before: Changelog, after_text: str,
                        path: str = "CHANGELOG.md") -> Changelog:
    """Re-parse ``after_text`` and check that every released section of ``before``
    is still there with the same lines; raise ChangelogFormatError otherwise."""
    after = parse(after_text, path)
    for item in before.released:
        kept = after.section(item.title)
        if kept is None or after.body(kept) != before.body(item):
            raise ChangelogFormatError(
                f"{path}: the edit would change the released section {item.title}; "
                "nothing was written")
    return after


def render_history(scheme: str, releases: list[tuple[str, str | None, list[Group]]],
                   unreleased: list[Group], links: Links) -> str:
    """Return a whole changelog built from history.

    ``releases`` lists ``(version, date, groups)`` newest first; ``unreleased`` holds
    the groups of the commits after the newest tag.
    """
    lines = [*render_header(scheme), ""]
    lines += render_section("Unreleased", None, unreleased) + [""]
    for version, date, groups in releases:
        lines += render_section(version, date, groups) + [""]
    if links.repo_url is not None and releases:
        lines.append(f"[Unreleased]: {links.compare(releases[0][0], None)}")
        for index, (version, _, _) in enumerate(releases):
            previous = releases[index + 1][0] if index + 1 < len(releases) else None
            lines.append(f"[{version}]: {links.compare(previous, version)}")
    return _join(_strip_blank_edges(lines), "\n", False)


def notes(log: Changelog, version: str | None) -> tuple[str, str]:
    """Return ``(version, body)`` of a released section, the newest when ``version``
    is None. Raises UsageError when there is no such section."""
    if version is None:
        if not log.released:
            raise UsageError("the changelog has no released section yet; "
                             "run inv release.bump first")
        section = log.released[0]
    else:
        found = log.section(version)
        if found is None:
            titles = ", ".join(item.title for item in log.released[:5]) or "none"
            raise UsageError(
                f"the changelog has no section for {version} (latest: {titles}); "
                "pass one of those to --version")
        section = found
    return section.title, "\n".join(log.body(section)) + "\n"
