"""ISSUE.md regions: re-sync replaces generated parts and keeps a person's text."""

from pathlib import Path

import pytest

from tpo_tasks.errors import ConfigError
from tpo_tasks.issues import document, markers, metadata
from tpo_tasks.testing.fake_github import make_issue

DOC = """<!-- tpo:begin header -->
# Issue #1: Old title
<!-- tpo:end header -->

My own notes, kept.

<!-- tpo:begin description -->
Old body.
<!-- tpo:end description -->

## Notes
Written by a person.
"""


def render(issue: dict, override_dir: Path | None = None) -> str:
    record = metadata.build_metadata(issue, repo="octo/demo", branch=None,
                                     synced_at="2026-01-15T12:00:00Z")
    return document.render(record, author=document.author_of(issue), repo="octo/demo",
                           override_dir=override_dir)


def test_split_and_join_round_trip() -> None:
    parts = markers.split_regions(DOC)
    merged, missing = markers.merge(DOC, DOC)
    assert [name for name, _ in parts if name] == ["header", "description"]
    assert merged == DOC
    assert missing == []


def test_merge_replaces_only_regions() -> None:
    new = DOC.replace("Old title", "New title").replace("Old body.", "New body.")
    new = new.replace("My own notes, kept.", "template text")
    merged, _ = markers.merge(DOC, new)
    assert "# Issue #1: New title" in merged
    assert "New body." in merged
    assert "My own notes, kept." in merged
    assert "template text" not in merged


def test_merge_appends_missing_region() -> None:
    existing = DOC.replace("<!-- tpo:begin header -->\n# Issue #1: Old title\n"
                           "<!-- tpo:end header -->\n", "")
    merged, missing = markers.merge(existing, DOC)
    assert missing == ["header"]
    assert merged.endswith("<!-- tpo:begin header -->\n# Issue #1: Old title\n"
                           "<!-- tpo:end header -->\n")


def test_merge_keeps_region_only_in_existing() -> None:
    existing = DOC + "<!-- tpo:begin extra -->\nmine\n<!-- tpo:end extra -->\n"
    merged, _ = markers.merge(existing, DOC)
    assert "mine" in merged


BROKEN = {
    "unclosed": "<!-- tpo:begin a -->\ntext\n",
    "end-without-begin": "text\n<!-- tpo:end a -->\n",
    "nested": "<!-- tpo:begin a -->\n<!-- tpo:begin b -->\n<!-- tpo:end b -->\n"
              "<!-- tpo:end a -->\n",
    "repeated": "<!-- tpo:begin a -->\n<!-- tpo:end a -->\n<!-- tpo:begin a -->\n"
                "<!-- tpo:end a -->\n",
    "wrong-end": "<!-- tpo:begin a -->\n<!-- tpo:end b -->\n",
}


@pytest.mark.parametrize("text", BROKEN.values(), ids=BROKEN.keys())
def test_broken_markers_raise(text: str) -> None:
    with pytest.raises(markers.MarkerError):
        markers.merge(text, DOC)


def test_marker_lookalike_in_body_is_escaped() -> None:
    body = "before\n<!-- tpo:end description -->\n<!-- tpo:begin notes -->\nafter"
    text = render(make_issue(1, body=body))
    regions = markers.split_regions(text)
    description = dict((n, b) for n, b in regions if n)["description"]
    assert "&lt;!-- tpo:end description -->" in description
    assert "after" in description


def test_template_syntax_in_body_is_literal() -> None:
    text = render(make_issue(1, body="{{ 7*7 }} and {% for x in y %}"))
    assert "{{ 7*7 }} and {% for x in y %}" in text
    assert "49" not in text


def test_body_is_verbatim() -> None:
    body = "Line one\n\n```python\nprint('x')\n```\n| a | b |\n"
    text = render(make_issue(1, body=body))
    assert body.rstrip() in text


def test_rendered_document_has_every_section() -> None:
    text = render(make_issue(1, "Title", labels=["bug"]))
    for heading in ("# Issue #1: Title", "## Details", "## Type", "## Description",
                    "## Acceptance Criteria", "## Technical Details",
                    "## Priority and Effort", "## Related Issues",
                    "## Implementation Plan", "## Questions", "## Testing Strategy",
                    "## Notes"):
        assert heading in text, heading


def test_derived_type_is_ticked() -> None:
    text = render(make_issue(1, labels=["bug"]))
    assert "- [x] Bug" in text
    assert "- [ ] Task" in text


def test_pipe_in_label_does_not_break_table() -> None:
    text = render(make_issue(1, labels=["a|b"]))
    assert "| Labels | a\\|b |" in text


def test_multiline_title_stays_in_header() -> None:
    text = render(make_issue(1, "one\n<!-- tpo:end header -->\ntwo"))
    assert "# Issue #1: one <!-- tpo:end header --> two" in text
    assert markers.region_names(text)[0] == "header"


def test_footer_names_author_and_repo() -> None:
    text = render(make_issue(1))
    assert "_Opened by @octocat in [octo/demo](https://github.com/octo/demo)." in text


def test_null_user_is_ghost() -> None:
    text = render({**make_issue(1), "user": None})
    assert "@ghost" in text


def test_repository_template_overrides_default(tmp_path: Path) -> None:
    (tmp_path / "ISSUE.md.j2").write_text(
        "<!-- tpo:begin header -->\nCustom {{ number }}: {{ title }}\n"
        "<!-- tpo:end header -->\n", encoding="utf-8")
    assert render(make_issue(4, "Mine"), override_dir=tmp_path) == (
        "<!-- tpo:begin header -->\nCustom 4: Mine\n<!-- tpo:end header -->\n")


BAD_TEMPLATES = {
    "syntax": ("{% for x in %}\n", "invalid template"),
    "unknown-variable": ("{{ no_such_thing }}\n", "failed to render"),
}


@pytest.mark.parametrize(("source", "message"), BAD_TEMPLATES.values(),
                         ids=BAD_TEMPLATES.keys())
def test_bad_repository_template_is_config_error(tmp_path: Path, source: str,
                                                 message: str) -> None:
    (tmp_path / "ISSUE.md.j2").write_text(source, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        render(make_issue(4), override_dir=tmp_path)
