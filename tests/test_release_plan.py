"""release.plan: JSON fields, migrations, tags that do not parse, go or no-go."""

from pathlib import Path

import jsonschema
import pytest
from support.release import commit, git_run, json_output, run_release, tag

from tpo_tasks.release.plan import match_migrations
from tpo_tasks.templates import load_schema

PLAN_SCHEMA = load_schema("release-plan.schema.json")


def plan_json(repo: Path) -> dict:
    completed = run_release(repo, "release.plan", "--json")
    assert completed.returncode == 0, completed.stderr
    output = json_output(completed)
    jsonschema.validate(output, PLAN_SCHEMA)
    return output


def test_plan_lists_changes_by_type(release_repo: Path) -> None:
    feat = commit(release_repo, "feat(api)!: drop v1 endpoints")
    fix = commit(release_repo, "fix: close files\n\nBREAKING-CHANGE: handles close")
    commit(release_repo, "Update the README")
    output = plan_json(release_repo)
    assert output["changes"] == {
        "feat": [{"sha": feat, "scope": "api", "subject": "drop v1 endpoints",
                  "breaking": True}],
        "fix": [{"sha": fix, "scope": None, "subject": "close files",
                 "breaking": True}],
    }


def test_plan_proposes_version_with_rule(release_repo: Path) -> None:
    commit(release_repo, "feat(api)!: drop v1 endpoints")
    output = plan_json(release_repo)
    assert (output["current_version"], output["last_tag"], output["next_version"]) == (
        "0.4.2", "v0.4.2", "0.5.0")
    assert output["rule"].startswith("breaking change while the version is 0.x")


def test_plan_lists_breaking_changes_with_footer_text(release_repo: Path) -> None:
    fix = commit(release_repo, "fix: close files\n\nBREAKING CHANGE: handles close")
    assert plan_json(release_repo)["breaking"] == [{"sha": fix,
                                                    "subject": "handles close"}]


def test_plan_counts_non_conventional_commits(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    commit(release_repo, "Update the README")
    commit(release_repo, "wip")
    assert plan_json(release_repo)["non_conventional"] == 2


def test_plan_is_go_when_releasable_and_clean(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    output = plan_json(release_repo)
    assert output["go"] is True
    assert output["reasons"] == []


def test_plan_is_no_go_with_reasons_and_exits_zero(release_repo: Path) -> None:
    commit(release_repo, "docs: typo")
    (release_repo / "README.md").write_text("edited\n")
    git_run(release_repo, "checkout", "-q", "-b", "feature")
    output = plan_json(release_repo)
    assert output["go"] is False
    assert any("uncommitted changes: README.md" in item for item in output["reasons"])
    assert any("not the release branch main" in item for item in output["reasons"])
    assert any(item.startswith("nothing to release") for item in output["reasons"])


def test_plan_lists_migrations_added_since_the_tag(release_repo: Path) -> None:
    commit(release_repo, "feat: old schema", {"db/migrations/0001_initial.py": ""})
    tag(release_repo, "v0.5.0")
    commit(release_repo, "feat: new tables", {
        "alembic/versions/3f2a_add_users.py": "",
        "app/migrations/0002_orders.py": "",
        "src/Data/Migrations/20260101_Orders.cs": "",
        "src/Data/Migrations/20260101_Orders.Designer.cs": "",
        "src/Data/Migrations/AppDbContextModelSnapshot.cs": "",
        "service/src/main/resources/db/migration/V2__orders.sql": "",
        "app/models.py": "",
    })
    git_run(release_repo, "commit", "-q", "--allow-empty", "-m", "chore: noop")
    (release_repo / "pyproject.toml").write_text(
        (release_repo / "pyproject.toml").read_text().replace("0.4.2", "0.5.0", 1))
    git_run(release_repo, "commit", "-q", "-am", "chore: sync version")
    assert plan_json(release_repo)["migrations"] == [
        "alembic/versions/3f2a_add_users.py",
        "app/migrations/0002_orders.py",
        "service/src/main/resources/db/migration/V2__orders.sql",
        "src/Data/Migrations/20260101_Orders.cs",
    ]


MIGRATION_CASES = [
    ("alembic/versions/abc.py", True),
    ("versions/abc.py", True),
    ("app/migrations/0003_x.py", True),
    ("app/migrations/__init__.py", False),
    ("Migrations/20260101_Init.cs", True),
    ("Migrations/20260101_Init.Designer.cs", False),
    ("Migrations/AppModelSnapshot.cs", False),
    ("db/migration/V1__init.sql", True),
    ("db/migration/R__views.sql", False),
]


@pytest.mark.parametrize(("path", "expected"), MIGRATION_CASES,
                         ids=[case[0] for case in MIGRATION_CASES])
def test_default_migration_globs(path: str, expected: bool) -> None:
    from tpo_tasks.defaults import DEFAULT_MIGRATION_GLOBS

    assert (match_migrations([path], DEFAULT_MIGRATION_GLOBS) == [path]) is expected


def test_negated_migration_glob_excludes() -> None:
    globs = ["**/versions/*.py", "!**/versions/__init__.py"]
    assert match_migrations(["a/versions/__init__.py", "a/versions/x.py"], globs) == [
        "a/versions/x.py"]


def test_semver_tag_with_word_suffix_is_the_last_tag(git_repo: Path) -> None:
    tag(git_repo, "v0.7.0")
    commit(git_repo, "feat: x")
    tag(git_repo, "v0.7.1-release")
    commit(git_repo, "fix: y")
    output = plan_json(git_repo)
    assert (output["current_version"], output["last_tag"], output["next_version"]) == (
        "0.7.1-release", "v0.7.1-release", "0.7.1")


def test_unparseable_tag_is_skipped_with_a_warning(git_repo: Path) -> None:
    tag(git_repo, "v1.0.0")
    commit(git_repo, "fix: y")
    tag(git_repo, "vnext")
    completed = run_release(git_repo, "release.plan")
    assert completed.returncode == 0
    assert "tag vnext matches v{version} but next is neither" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert "next version:    1.0.1" in completed.stdout


def test_custom_tag_format_is_used(git_repo: Path) -> None:
    commit(git_repo, "chore: setup",
           {"invoke.yaml": "tpo:\n  release:\n    tag_format: 'release-{version}'\n"})
    tag(git_repo, "release-2.0.0")
    commit(git_repo, "feat: z")
    output = plan_json(git_repo)
    assert (output["last_tag"], output["next_version"]) == ("release-2.0.0", "2.1.0")


def test_plan_on_repository_without_tags_starts_at_zero(git_repo: Path) -> None:
    commit(git_repo, "feat: first feature")
    output = plan_json(git_repo)
    assert (output["current_version"], output["last_tag"], output["next_version"]) == (
        "0.0.0", None, "0.1.0")


def test_plan_text_ends_with_the_decision(release_repo: Path) -> None:
    commit(release_repo, "fix: a bug")
    completed = run_release(release_repo, "release.plan")
    assert completed.stdout.splitlines()[-1] == "go: release 0.4.3 as v0.4.3"
