"""metadata.json records: derived fields, odd API shapes, and the JSON Schema."""

import json
from typing import Any

import jsonschema
import pytest

from tpo_tasks.issues import metadata
from tpo_tasks.templates import load_schema
from tpo_tasks.testing.fake_github import make_issue

SCHEMA = load_schema("issue-metadata.schema.json")
KEY_ORDER = [
    "number", "title", "status", "type", "priority", "url", "created_at",
    "updated_at", "closed_at", "labels", "assignees", "description", "comments_count",
    "components", "dependencies", "effort", "milestone", "acceptance_criteria",
    "branch_created", "pr_created", "synced_at", "last_synced_from",
]
SYNCED = "2026-01-15T12:00:00Z"


def build(issue: dict[str, Any], branch: str | None = None,
          known: tuple[str, ...] = ()) -> dict[str, Any]:
    record = metadata.build_metadata(issue, repo="octo/demo", branch=branch,
                                     synced_at=SYNCED, known_components=known)
    jsonschema.validate(record, SCHEMA)
    return record


def test_keys_in_documented_order() -> None:
    assert list(build(make_issue(49))) == KEY_ORDER


def test_number_is_a_string() -> None:
    assert build(make_issue(49))["number"] == "49"


def test_encoded_record_is_utf8_json() -> None:
    text = metadata.encode(build(make_issue(5, "修复登录错误")))
    assert "修复登录错误" in text
    assert json.loads(text)["title"] == "修复登录错误"


ODD_SHAPES = {
    "body-null": {"body": None},
    "milestone-null": {"milestone": None},
    "labels-empty": {"labels": []},
    "labels-strings": {"labels": ["bug", "priority: high"]},
    "user-null": {"user": None},
    "ghost-user": {"user": {"login": "ghost", "id": 10137, "avatar_url": None}},
    "assignee-null-entry": {"assignees": [None, {"login": "amy", "avatar_url": None}]},
    "comments-missing": {"comments": None},
}


@pytest.mark.parametrize("changes", ODD_SHAPES.values(), ids=ODD_SHAPES.keys())
def test_odd_api_shapes_give_valid_records(changes: dict[str, Any]) -> None:
    issue = {**make_issue(3, "Odd"), **changes}
    record = build(issue)
    assert record["number"] == "3"


def test_null_body_gives_empty_description() -> None:
    record = build({**make_issue(3), "body": None})
    assert record["description"] == ""


def test_string_labels_are_names() -> None:
    record = build({**make_issue(3), "labels": ["bug", "priority: high"]})
    assert record["labels"] == ["bug", "priority: high"]
    assert record["type"] == "bug"
    assert record["priority"] == "high"


def test_null_milestone_gives_nulls() -> None:
    assert build(make_issue(3))["milestone"] == {"title": None, "due_date": None}


def test_milestone_due_date_is_a_date() -> None:
    issue = make_issue(3, milestone={"title": "v2.0", "due_on": "2026-03-31T07:00:00Z"})
    assert build(issue)["milestone"] == {"title": "v2.0", "due_date": "2026-03-31"}


STATUS_CASES = {
    "open-no-branch": ("open", None, "open"),
    "open-with-branch": ("open", "issue-3-x", "in_progress"),
    "closed-with-branch": ("closed", "issue-3-x", "closed"),
}


@pytest.mark.parametrize(("state", "branch", "expected"), STATUS_CASES.values(),
                         ids=STATUS_CASES.keys())
def test_status(state: str, branch: str | None, expected: str) -> None:
    assert build(make_issue(3, state=state), branch)["status"] == expected


TYPE_CASES = {
    "none": ([], "task"),
    "bug": (["bug"], "bug"),
    "prefixed": (["type: feature"], "feature"),
    "kind-slash": (["kind/documentation"], "documentation"),
    "enhancement": (["Enhancement"], "enhancement"),
    "question": (["question"], "question"),
    "bug-beats-feature": (["feature", "bug"], "bug"),
    "unrelated": (["good first issue"], "task"),
}


@pytest.mark.parametrize(("labels", "expected"), TYPE_CASES.values(),
                         ids=TYPE_CASES.keys())
def test_type_from_labels(labels: list[str], expected: str) -> None:
    assert metadata.issue_type(labels) == expected


PRIORITY_CASES = {
    "none": ([], None),
    "colon": (["priority: high"], "high"),
    "slash": (["priority/low"], "low"),
    "p0": (["P0"], "critical"),
    "p1": (["P1"], "high"),
    "p2": (["p2"], "medium"),
    "critical": (["critical"], "critical"),
    "suffixed": (["low priority"], "low"),
    "highest-wins": (["priority: low", "P1"], "high"),
    "unknown-word": (["priority: someday"], None),
}


@pytest.mark.parametrize(("labels", "expected"), PRIORITY_CASES.values(),
                         ids=PRIORITY_CASES.keys())
def test_priority_from_labels(labels: list[str], expected: str | None) -> None:
    assert metadata.priority(labels) == expected


def test_components_from_labels_and_body() -> None:
    found = metadata.components(["component: API", "area/web", "bug"],
                                "The billing-service and Billing pages break.",
                                ["billing", "auth", "api"])
    assert found == ["API", "web", "billing"]


def test_component_inside_word_is_not_matched() -> None:
    assert metadata.components([], "authentication fails", ["auth"]) == []


DEPENDENCY_CASES = {
    "blocked-by": ("Blocked by #12", {"blocked_by": [12]}),
    "depends-on": ("Depends on #7", {"blocked_by": [7]}),
    "blocks": ("Blocks #50", {"blocks": [50]}),
    "related-list": ("Related to #3 and #21", {"related_to": [3, 21]}),
    "comma-list": ("depends on #4, #5, and #6", {"blocked_by": [4, 5, 6]}),
    "colon": ("Blocked by: #8", {"blocked_by": [8]}),
    "other-repo": ("Blocked by octo/other#9", {}),
    "self": ("Related to #1", {}),
    "plain-mention": ("See #40 for context", {}),
    "blocked-not-blocks": ("blocked by #2", {"blocked_by": [2], "blocks": []}),
}


@pytest.mark.parametrize(("body", "expected"), DEPENDENCY_CASES.values(),
                         ids=DEPENDENCY_CASES.keys())
def test_dependencies_from_body(body: str, expected: dict[str, list[int]]) -> None:
    found = metadata.dependencies(body, number=1)
    for kind in ("blocks", "blocked_by", "related_to"):
        assert found[kind] == expected.get(kind, []), kind


EFFORT_CASES = {
    "effort": (["effort: 5"], {"estimate": 5, "unit": "points"}),
    "points": (["points: 8"], {"estimate": 8, "unit": "points"}),
    "days": (["estimate: 3d"], {"estimate": 3, "unit": "days"}),
    "fraction": (["effort: 0.5w"], {"estimate": 0.5, "unit": "weeks"}),
    "none": (["bug"], {"estimate": None, "unit": None}),
    "unknown-unit": (["effort: 5 bananas"], {"estimate": None, "unit": None}),
}


@pytest.mark.parametrize(("labels", "expected"), EFFORT_CASES.values(),
                         ids=EFFORT_CASES.keys())
def test_effort_from_labels(labels: list[str], expected: dict[str, Any]) -> None:
    assert metadata.effort(labels) == expected


def test_acceptance_criteria_under_heading() -> None:
    body = ("- [ ] not this\n\n## Acceptance Criteria\n- [ ] logs in\n"
            "* [x] shows errors\n\n### Notes inside\n- [ ] nested item\n"
            "## Other\n- [ ] not this either\n")
    assert metadata.acceptance_criteria(body) == ["logs in", "shows errors",
                                                  "nested item"]


def test_acceptance_criteria_under_bold_heading() -> None:
    body = "**Acceptance criteria:**\n- [ ] one\n- [ ] two\n**Other**\n- [ ] three\n"
    assert metadata.acceptance_criteria(body) == ["one", "two"]


def test_acceptance_criteria_fall_back_to_all_items() -> None:
    body = "Steps\n- [ ] first\n- [x] second\n- plain bullet\n"
    assert metadata.acceptance_criteria(body) == ["first", "second"]


def test_unchanged_record_ignores_sync_time() -> None:
    first = build(make_issue(3))
    later = {**first, "synced_at": "2027-01-01T00:00:00Z"}
    assert metadata.same_except_sync_time(first, later)


def test_changed_title_is_a_change() -> None:
    first = build(make_issue(3))
    assert not metadata.same_except_sync_time(first, {**first, "title": "new"})
