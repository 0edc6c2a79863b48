"""release.changelog and release.notes run as a user would, in real repositories."""

from pathlib import Path

import pytest
from support.release import commit, git_run, run_release, tag

DATA = Path(__file__).parent / "data" / "release"


def test_changelog_twice_adds_entries_once(release_repo: Path) -> None:
    commit(release_repo, "feat: export\n\nBody text.")
    commit(release_repo, "fix(io): close files")
    first = run_release(release_repo, "release.changelog")
    text = (release_repo / "CHANGELOG.md").read_text()
    second = run_release(release_repo, "release.changelog")
    assert "added 2 entries since v0.4.2" in first.stdout
    assert "already lists every change since v0.4.2" in second.stdout
    assert (release_repo / "CHANGELOG.md").read_text() == text
    assert text.count("## [Unreleased]") == 1


def test_changelog_entries_go_under_unreleased(release_repo: Path) -> None:
    commit(release_repo, "feat: export")
    commit(release_repo, "fix(io): close files")
    run_release(release_repo, "release.changelog")
    text = (release_repo / "CHANGELOG.md").read_text()
    assert text.endswith("## [Unreleased]\n\n### Added\n\n- export\n\n### Fixed\n\n"
                         "- **io:** close files\n")


def test_changelog_dry_run_prints_diff_and_writes_nothing(release_repo: Path) -> None:
    commit(release_repo, "feat: export")
    completed = run_release(release_repo, "release.changelog", "--dry-run")
    assert "+- export" in completed.stdout
    assert not (release_repo / "CHANGELOG.md").exists()


def test_changelog_reports_two_unreleased_sections(release_repo: Path) -> None:
    text = (DATA / "two-unreleased.md").read_text()
    commit(release_repo, "feat: export", {"CHANGELOG.md": text})
    completed = run_release(release_repo, "release.changelog")
    assert completed.returncode == 4
    assert "at lines 3 and 9" in completed.stderr
    assert (release_repo / "CHANGELOG.md").read_text() == text


def test_changelog_rejects_free_form_file(release_repo: Path) -> None:
    text = "Release notes\n\nVersion 1: it works.\n"
    commit(release_repo, "feat: export", {"CHANGELOG.md": text})
    completed = run_release(release_repo, "release.changelog")
    assert completed.returncode == 4
    assert "is not a Keep a Changelog file" in completed.stderr
    assert (release_repo / "CHANGELOG.md").read_text() == text


@pytest.fixture
def history_repo(git_repo: Path) -> Path:
    git_run(git_repo, "remote", "add", "origin", "https://github.com/acme/widget.git")
    commit(git_repo, "feat: first feature")
    commit(git_repo, "Tidy up")
    tag(git_repo, "v0.1.0")
    commit(git_repo, "fix(parser): handle tabs")
    commit(git_repo, "feat: temporary idea", {"idea.txt": "x\n"})
    git_run(git_repo, "revert", "--no-edit", "HEAD")
    commit(git_repo, "perf: cache tags")
    tag(git_repo, "v0.2.0-rc.1", annotated=False)
    commit(git_repo, "feat(api)!: drop v1 endpoints\n\nBREAKING CHANGE: use /v2")
    tag(git_repo, "v0.2.0")
    commit(git_repo, "fix: after the release")
    tag(git_repo, "not-a-release")
    return git_repo


def test_changelog_from_history_matches_saved_file(history_repo: Path) -> None:
    completed = run_release(history_repo, "release.changelog", "--from-history")
    assert completed.returncode == 0, completed.stderr
    assert (history_repo / "CHANGELOG.md").read_text() == (
        DATA / "from-history.md").read_text()


def test_from_history_refuses_to_replace_releases(history_repo: Path) -> None:
    run_release(history_repo, "release.changelog", "--from-history")
    completed = run_release(history_repo, "release.changelog", "--from-history")
    assert completed.returncode == 4
    assert "already has released sections" in completed.stderr


def test_notes_print_the_latest_section(history_repo: Path) -> None:
    run_release(history_repo, "release.changelog", "--from-history")
    completed = run_release(history_repo, "release.notes")
    assert completed.stdout == ("### Added\n\n- **Breaking:** **api:** drop v1 "
                                "endpoints\n  use /v2\n")


def test_notes_for_a_named_version(history_repo: Path) -> None:
    run_release(history_repo, "release.changelog", "--from-history")
    completed = run_release(history_repo, "release.notes", "--version", "0.1.0")
    assert completed.stdout == "### Added\n\n- first feature\n"


def test_notes_without_changelog_say_how_to_create_one(git_repo: Path) -> None:
    completed = run_release(git_repo, "release.notes")
    assert completed.returncode == 2
    assert "CHANGELOG.md not found" in completed.stderr
