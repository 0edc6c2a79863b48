"""Keep a Changelog parsing, entries, releases and notes, compared byte for byte."""

from pathlib import Path

import pytest

from tpo_tasks.errors import UsageError
from tpo_tasks.release import changelog
from tpo_tasks.release.changelog import ChangelogFormatError, Links
from tpo_tasks.release.commits import parse_message

DATA = Path(__file__).parent / "data" / "release"
LINKS = Links("https://github.com/acme/widget", "v{version}")


def commits(*messages: str) -> list:
    return [parse_message(f"{index:040x}", message)
            for index, message in enumerate(messages, start=1)]


HANDWRITTEN_COMMITS = commits(
    "feat(cli): add --json output",
    "fix: handle empty files\n\nBREAKING CHANGE: empty files now exit 1",
    "fix(security): escape HTML in reports",
    "docs: typo",
    "feat: Hand-written note about the new `export` command,",
)


def test_release_moves_unreleased_under_new_heading() -> None:
    before = changelog.parse((DATA / "handwritten.md").read_text())
    after = changelog.release(before, "1.3.0", "2026-01-15",
                              changelog.entries_from(HANDWRITTEN_COMMITS), LINKS,
                              "1.2.0")
    assert after == (DATA / "handwritten-released.md").read_text()


def test_release_result_passes_the_safety_check() -> None:
    before = changelog.parse((DATA / "handwritten.md").read_text())
    after = changelog.release(before, "1.3.0", "2026-01-15", [], LINKS, "1.2.0")
    checked = changelog.check_release(before, after, "1.3.0")
    assert [section.title for section in checked.sections] == [
        "Unreleased", "1.3.0", "1.2.0", "1.1.0"]


def test_release_keeps_crlf_line_endings() -> None:
    text = (DATA / "handwritten.md").read_text().replace("\n", "\r\n")
    after = changelog.release(changelog.parse(text), "1.3.0", "2026-01-15", [],
                              LINKS, "1.2.0")
    assert "\n" not in after.replace("\r\n", "")


def test_release_without_repository_url_leaves_links_alone() -> None:
    before = changelog.parse((DATA / "handwritten.md").read_text())
    after = changelog.release(before, "1.3.0", "2026-01-15", [],
                              Links(None, "v{version}"), "1.2.0")
    assert after.endswith("[1.1.0]: https://github.com/acme/widget/releases/tag/"
                          "v1.1.0\n")
    assert "[1.3.0]:" not in after


def test_release_refuses_an_existing_version_section() -> None:
    before = changelog.parse((DATA / "handwritten.md").read_text())
    with pytest.raises(ChangelogFormatError, match="already has a section for 1.2.0"):
        changelog.release(before, "1.2.0", "2026-01-15", [], LINKS, "1.1.0")


def test_adding_entries_twice_adds_nothing_the_second_time() -> None:
    entries = changelog.entries_from(HANDWRITTEN_COMMITS)
    first, added_first = changelog.add_unreleased(
        changelog.parse((DATA / "handwritten.md").read_text()), entries)
    second, added_second = changelog.add_unreleased(changelog.parse(first), entries)
    assert added_first == 3
    assert added_second == 0
    assert second == first
    assert first.count("## [Unreleased]") == 1


def test_adding_entries_to_a_new_file() -> None:
    text = changelog.new_changelog_text("semver")
    result, added = changelog.add_unreleased(
        changelog.parse(text), changelog.entries_from(commits("fix: a bug")))
    assert added == 1
    assert result.endswith("## [Unreleased]\n\n### Fixed\n\n- a bug\n")


def test_two_unreleased_sections_are_reported_with_line_numbers() -> None:
    with pytest.raises(ChangelogFormatError) as raised:
        changelog.parse((DATA / "two-unreleased.md").read_text())
    assert raised.value.lines == (3, 9)
    assert "at lines 3 and 9" in raised.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Release notes\n\n## 1.0\n", "has no '# Changelog' title"),
        ("# Changelog\n\n## Version one\n", "line 3: '## Version one' is not"),
        ("# Changelog\n\n## [1.0.0] - 2025-01-01\n\n## [1.0.0] - 2025-01-02\n",
         "two sections for 1.0.0"),
        ("", "the file is empty"),
    ],
    ids=["no-title", "free-form-heading", "duplicate-version", "empty"],
)
def test_non_keep_a_changelog_files_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ChangelogFormatError, match=message):
        changelog.parse(text)


def test_headings_inside_code_fences_are_ignored() -> None:
    text = "# Changelog\n\n## [Unreleased]\n\n```\n## not a heading\n```\n"
    assert [item.title for item in changelog.parse(text).sections] == ["Unreleased"]


def test_yanked_release_heading_parses() -> None:
    text = "# Changelog\n\n## [0.9.0] - 2025-01-01 [YANKED]\n\n- Broken.\n"
    assert changelog.parse(text).sections[0].date == "2025-01-01"


def test_sections_carry_line_numbers() -> None:
    log = changelog.parse((DATA / "handwritten.md").read_text())
    assert [(item.title, item.line) for item in log.sections] == [
        ("Unreleased", 8), ("1.2.0", 15), ("1.1.0", 25)]


def test_notes_default_to_the_latest_release() -> None:
    log = changelog.parse((DATA / "handwritten.md").read_text())
    version, body = changelog.notes(log, None)
    assert version == "1.2.0"
    assert body == ("### Added\n\n- Support for TOML settings.\n\n### Fixed\n\n"
                    "- Crash on empty input ([#12](https://github.com/acme/widget/"
                    "issues/12)).\n")


def test_notes_for_an_unknown_version_name_the_known_ones() -> None:
    log = changelog.parse((DATA / "handwritten.md").read_text())
    message = r"no section for 9.9.9 \(latest: 1.2.0, 1.1.0"
    with pytest.raises(UsageError, match=message):
        changelog.notes(log, "9.9.9")


ENTRY_CASES = [
    ("feat(api)!: drop v1 endpoints", "Added", "- **Breaking:** **api:** drop v1 "
     "endpoints"),
    ("refactor!: rename the config file", "Changed", "- **Breaking:** rename the "
     "config file"),
    ("perf: cache tags", "Changed", "- cache tags"),
    ("fix(security): escape input", "Security", "- escape input"),
    ("deprecate: the --old flag", "Deprecated", "- the --old flag"),
    ("chore: bump deps", None, None),
    ("update stuff", None, None),
]


@pytest.mark.parametrize(("message", "heading", "entry"), ENTRY_CASES,
                         ids=["breaking-feat", "breaking-refactor", "perf",
                              "security-fix", "deprecation", "chore", "free-form"])
def test_commit_heading_and_entry(message: str, heading: str | None,
                                  entry: str | None) -> None:
    commit = parse_message("f" * 40, message)
    assert changelog.heading_for(commit) == heading
    if entry is not None:
        assert changelog.entry_for(commit) == entry


def test_safety_check_catches_a_changed_released_entry() -> None:
    text = (DATA / "handwritten.md").read_text()
    before = changelog.parse(text)
    after = text.replace("- Faster start-up.", "- Faster start.")
    with pytest.raises(ChangelogFormatError, match="released section 1.1.0"):
        changelog.check_released_kept(before, after)


def test_safety_check_catches_a_lost_released_section() -> None:
    text = (DATA / "handwritten.md").read_text()
    before = changelog.parse(text)
    after = text.split("## [1.1.0]")[0]
    with pytest.raises(ChangelogFormatError, match="released section 1.1.0"):
        changelog.check_released_kept(before, after)
