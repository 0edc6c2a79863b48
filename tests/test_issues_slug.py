"""Branch names from issue titles: valid git branches, ASCII, short."""

import subprocess

import pytest

from tpo_tasks.issues.slug import branch_name, branches_by_issue, title_slug

HARD_TITLES = {
    "chinese": ("修复登录错误", "issue-7-xiu-fu-deng-lu-cuo-wu"),
    "nepali": ("मतदाता सूची अद्यावधिक गर्नुहोस्",
               "issue-7-mtdaataa-suucii-adyaavdhik-grnuhos"),
    "emoji-only": ("🚀🔥", "issue-7"),
    "option-like": ("-rf --force", "issue-7-rf-force"),
    "lock-suffix": ("foo.lock", "issue-7-foo-lock"),
    "double-dot": ("v1.2..v1.3", "issue-7-v1-2-v1-3"),
    "slashes": ("admin/invoices/failed/", "issue-7-admin-invoices-failed"),
    "shell": ("x$(touch /tmp/owned)", "issue-7-x-touch-tmp-owned"),
    "accents": ("Ünïcödé café straße", "issue-7-unicode-cafe-strasse"),
    "empty": ("", "issue-7"),
    "punctuation-only": ("?!.../// @{", "issue-7"),
    "reflog-syntax": ("HEAD@{1}", "issue-7-head-1"),
    "one-300-char-word": ("a" * 300, "issue-7-" + "a" * 50),
}
LONG_TITLE = " ".join(["overlong"] * 40)[:300]


def check_ref_format(name: str) -> bool:
    completed = subprocess.run(["git", "check-ref-format", "--branch", name],
                               capture_output=True, text=True)
    return completed.returncode == 0


@pytest.mark.parametrize(("title", "expected"), HARD_TITLES.values(),
                         ids=HARD_TITLES.keys())
def test_branch_name_from_hard_title(title: str, expected: str) -> None:
    assert branch_name(7, title) == expected


@pytest.mark.parametrize("title", [t for t, _ in HARD_TITLES.values()] + [LONG_TITLE],
                         ids=[*HARD_TITLES.keys(), "300-chars"])
def test_branch_name_passes_check_ref_format(title: str) -> None:
    assert check_ref_format(branch_name(7, title))


@pytest.mark.parametrize("title", [t for t, _ in HARD_TITLES.values()] + [LONG_TITLE],
                         ids=[*HARD_TITLES.keys(), "300-chars"])
def test_branch_name_is_lowercase_ascii(title: str) -> None:
    name = branch_name(7, title)
    assert name.isascii()
    assert name == name.lower()


def test_long_title_is_cut_at_word_boundary() -> None:
    assert len(LONG_TITLE) == 300
    name = branch_name(123456, LONG_TITLE)
    assert len(name.encode()) <= 70
    assert not name.endswith("-")
    assert name.endswith("overlong")


def test_slug_has_no_leading_or_doubled_hyphen() -> None:
    slug = title_slug("--  a -- b  --")
    assert slug == "a-b"


def test_custom_prefix_is_used() -> None:
    assert branch_name(3, "Fix it", prefix="feature/gh") == "feature/gh-3-fix-it"


def test_branches_by_issue_matches_exact_and_slugged() -> None:
    found = branches_by_issue(
        ["main", "issue-12-fix-login", "issue-120-other", "issue-7", "issue-7-old",
         "issues-3", "feature-issue-4"], "issue")
    assert found == {12: "issue-12-fix-login", 120: "issue-120-other", 7: "issue-7"}


def test_branches_by_issue_escapes_prefix() -> None:
    found = branches_by_issue(["gh.x-5-a", "ghax-6-b"], "gh.x")
    assert found == {5: "gh.x-5-a"}
