"""checks.predeploy end to end on fixture repositories, and its report formats."""

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from conftest import git, run_tpo

from tpo_tasks.checks.report import annotations, markdown_report, text_report
from tpo_tasks.checks.results import CheckResult, Rule, register, run_rules
from tpo_tasks.templates import load_schema

DATA = Path(__file__).parent / "data" / "checks"
HAS_KUBECTL = shutil.which("kubectl") is not None


def make_repo(tmp_path: Path, fixture: str, tag: str | None = None) -> Path:
    repo = tmp_path / fixture
    shutil.copytree(DATA / fixture, repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "feat: first release")
    if tag:
        git(repo, "tag", "-a", tag, "-m", tag)
    return repo


def predeploy_json(repo: Path, *args: str, env: dict | None = None) -> tuple[int, dict]:
    completed = run_tpo("checks.predeploy", "--json", *args, cwd=repo, env=env)
    data = json.loads(completed.stdout)
    jsonschema.validate(data, load_schema("checks-report.schema.json"))
    return completed.returncode, data


def failing(data: dict) -> set[tuple[str, str | None, int | None]]:
    return {
        (r["id"], r["file"], r["line"])
        for r in data["results"]
        if r["status"] in ("fail", "error")
    }


@pytest.mark.skipif(not HAS_KUBECTL, reason="kubectl is not installed")
def test_clean_repository_passes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "clean", tag="v1.0.0")
    code, data = predeploy_json(repo)
    assert failing(data) == set()
    assert code == 0
    assert data["ok"] is True


@pytest.mark.skipif(not HAS_KUBECTL, reason="kubectl is not installed")
def test_faulty_repository_reports_each_fault_with_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "faulty")
    code, data = predeploy_json(repo)
    assert code == 1
    assert data["ok"] is False
    expected = {
        ("docker.base-untagged", "Dockerfile", 2),
        ("docker.base-latest", "Dockerfile", 4),
        ("docker.secret-env", "services/api/Dockerfile", 12),
        ("docker.user-root", "services/api/Dockerfile", 13),
        ("k8s.name-invalid", "kube/base/deployment.yaml", 4),
        ("k8s.selector-mismatch", "kube/base/deployment.yaml", 7),
        ("k8s.image-untagged", "kube/base/deployment.yaml", 19),
        ("k8s.resources-missing", "kube/base/deployment.yaml", 18),
        ("config.literal-secret", "src/Api/appsettings.json", 4),
        ("workflow.parse", ".github/workflows/ci.yml", 7),
    }
    assert expected <= failing(data)


@pytest.mark.skipif(not HAS_KUBECTL, reason="kubectl is not installed")
def test_faulty_repository_heredoc_file_keeps_rules(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "faulty")
    _, data = predeploy_json(repo)
    api = {
        (r["id"], r["line"])
        for r in data["results"]
        if r["file"] == "services/api/Dockerfile"
    }
    assert ("docker.add-instead-of-copy", 11) in api
    assert not any(
        item[0] in ("docker.parse", "docker.copy-from-unknown") for item in api
    )


@pytest.mark.skipif(not HAS_KUBECTL, reason="kubectl is not installed")
def test_faulty_repository_secret_values_never_printed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "faulty")
    completed = run_tpo("checks.predeploy", cwd=repo)
    output = completed.stdout + completed.stderr
    assert "Pa55word!" not in output
    assert "hunter2hunter2" not in output
    assert "Password=***" in output


@pytest.mark.skipif(not HAS_KUBECTL, reason="kubectl is not installed")
def test_excluded_globs_are_not_scanned(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "clean", tag="v1.0.0")
    shutil.copytree(DATA / "faulty", repo / "tests" / "data" / "faulty")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "test: add fixtures")
    git(repo, "tag", "-f", "-a", "v1.0.0", "-m", "v1.0.0")
    code, data = predeploy_json(repo)
    assert failing(data) == set()
    assert code == 0


def test_gitignored_files_are_not_scanned(tmp_path: Path, git_repo: Path) -> None:
    (git_repo / ".gitignore").write_text("build/\n")
    (git_repo / "build").mkdir()
    (git_repo / "build" / "Dockerfile").write_text("FROM python:latest\n")
    git(git_repo, "add", ".gitignore")
    git(git_repo, "commit", "-q", "-m", "chore: ignore build")
    _, data = predeploy_json(git_repo)
    assert not any(r["file"] == "build/Dockerfile" for r in data["results"])


def test_skip_option_skips_a_check(tmp_path: Path, git_repo: Path) -> None:
    (git_repo / "Dockerfile").write_text("FROM python:latest\nUSER 1\n")
    git(git_repo, "add", "Dockerfile")
    git(git_repo, "commit", "-q", "-m", "feat: image")
    _, data = predeploy_json(
        git_repo, "--skip", "docker.base-latest", "--skip", "docker.healthcheck-missing"
    )
    statuses = {r["id"]: r["status"] for r in data["results"]}
    assert statuses["docker.base-latest"] == "skip"
    assert statuses["docker.shell-form"] == "pass"


def test_unknown_skip_id_is_a_usage_error(git_repo: Path) -> None:
    completed = run_tpo("checks.predeploy", "--skip", "docker.nope", cwd=git_repo)
    assert completed.returncode == 2
    assert "docker.nope" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_dirty_tree_and_wrong_branch_fail(git_repo: Path) -> None:
    git(git_repo, "checkout", "-q", "-b", "feature")
    (git_repo / "new.txt").write_text("x\n")
    code, data = predeploy_json(git_repo)
    statuses = {r["id"]: r["status"] for r in data["results"]}
    assert code == 1
    assert statuses["repo.clean-tree"] == "fail"
    assert statuses["repo.release-ref"] == "fail"


def test_release_tag_counts_as_release_ref(git_repo: Path) -> None:
    git(git_repo, "checkout", "-q", "-b", "feature")
    git(git_repo, "tag", "v0.1.0")
    _, data = predeploy_json(git_repo)
    statuses = {r["id"]: r["status"] for r in data["results"]}
    assert statuses["repo.release-ref"] == "pass"


def test_tests_manual_then_confirmed(git_repo: Path) -> None:
    (git_repo / ".gitignore").write_text(".tpo/\n")
    git(git_repo, "add", ".gitignore")
    git(git_repo, "commit", "-q", "-m", "chore: ignore")
    _, data = predeploy_json(git_repo)
    tests = [r for r in data["results"] if r["id"] == "repo.tests"]
    assert [r["status"] for r in tests] == ["manual"]
    confirmed = run_tpo("checks.confirm", "repo.tests", cwd=git_repo)
    assert confirmed.returncode == 0, confirmed.stderr
    _, data = predeploy_json(git_repo)
    tests = [r for r in data["results"] if r["id"] == "repo.tests"]
    assert [r["status"] for r in tests] == ["pass"]
    assert "Test Author" in tests[0]["message"]


def test_confirm_rejects_non_manual_id(git_repo: Path) -> None:
    completed = run_tpo("checks.confirm", "docker.base-latest", cwd=git_repo)
    assert completed.returncode == 2
    assert "not a manual check" in completed.stderr


def test_test_command_failure_fails(git_repo: Path) -> None:
    env = {"INVOKE_TPO_CHECKS_TEST_COMMAND": "git no-such-command"}
    code, data = predeploy_json(git_repo, env=env)
    tests = [r for r in data["results"] if r["id"] == "repo.tests"]
    assert [r["status"] for r in tests] == ["fail"]
    assert code == 1


def test_test_command_success_passes(git_repo: Path) -> None:
    env = {"INVOKE_TPO_CHECKS_TEST_COMMAND": "git status --short"}
    _, data = predeploy_json(git_repo, env=env)
    tests = [r for r in data["results"] if r["id"] == "repo.tests"]
    assert [r["status"] for r in tests] == ["pass"]


def test_release_facts_disagree_and_missing_section(git_repo: Path) -> None:
    (git_repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "2.0.0"\n'
    )
    (git_repo / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2026-01-01\n\n- one\n"
    )
    (git_repo / "migrations").mkdir()
    (git_repo / "app" / "migrations").mkdir(parents=True)
    (git_repo / "app" / "migrations" / "0002_add.py").write_text("x = 1\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "feat!: drop the v1 API")
    code, data = predeploy_json(git_repo)
    by_id = {r["id"]: r for r in data["results"]}
    assert by_id["release.changelog-section"]["status"] == "fail"
    assert by_id["release.breaking-changes"]["status"] == "warn"
    assert by_id["release.migrations"]["status"] == "warn"
    assert by_id["release.migrations"]["file"] == "app/migrations/0002_add.py"
    assert code == 1


def test_strict_fails_on_warnings(git_repo: Path) -> None:
    (git_repo / "Dockerfile").write_text('FROM python:3.12\nUSER 1\nCMD ["a"]\n')
    git(git_repo, "add", "Dockerfile")
    git(git_repo, "commit", "-q", "-m", "feat: image")
    relaxed, data = predeploy_json(git_repo, "--skip", "repo.tests")
    strict, strict_data = predeploy_json(git_repo, "--skip", "repo.tests", "--strict")
    assert relaxed == 0
    assert strict == 1
    assert strict_data["ok"] is False


def test_markdown_and_github_outputs(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "Dockerfile").write_text("FROM python:latest\nUSER 1\n")
    git(git_repo, "add", "Dockerfile")
    git(git_repo, "commit", "-q", "-m", "feat: image")
    summary = tmp_path / "summary.md"
    report = tmp_path / "report.md"
    completed = run_tpo(
        "checks.predeploy",
        "--markdown",
        str(report),
        cwd=git_repo,
        env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert completed.returncode == 1
    assert (
        "::error file=Dockerfile,line=1,title=docker.base-latest::" in completed.stdout
    )
    assert "docker.base-latest" in summary.read_text()
    assert "| fail | `docker.base-latest` |" in report.read_text()


def test_not_a_git_repository_skips_git_checks(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\nUSER 1\n")
    _, data = predeploy_json(tmp_path)
    statuses = {r["id"]: r["status"] for r in data["results"]}
    assert statuses["repo.clean-tree"] == "skip"
    assert statuses["release.versions-agree"] == "skip"
    assert statuses["docker.base-untagged"] == "pass"


# -- the runner and the report formats -------------------------------------------------

BOOM = register("test.boom", "a check that always crashes", "none")
FINE = register("test.fine", "a check that always passes", "none")


def test_crashing_check_is_an_error_and_others_run() -> None:
    def crash() -> list[CheckResult]:
        raise RuntimeError("disk on fire")

    results = run_rules([Rule((BOOM,), crash), Rule((FINE,), lambda: [])])
    assert [(r.id, r.status) for r in results] == [
        ("test.boom", "error"),
        ("test.fine", "pass"),
    ]
    assert "disk on fire" in results[0].message


def test_crashing_check_exits_one(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from invoke import Context, Exit

    from tpo_tasks.checks import dockerfile
    from tpo_tasks.checks.tasks import predeploy
    from tpo_tasks.config import defaults

    (git_repo / "Dockerfile").write_text("FROM python:3.12\nUSER 1\n")

    def explode(*args: object, **kwargs: object) -> None:
        raise ValueError("parser bug")

    monkeypatch.setattr(dockerfile, "check_dockerfile", explode)
    monkeypatch.chdir(git_repo)
    context = Context()
    context.config.update({"tpo": defaults()})
    with pytest.raises(Exit) as raised:
        predeploy(context, json=True)
    assert raised.value.code == 1
    data = json.loads(capsys.readouterr().out)
    statuses = {(r["id"], r["status"]) for r in data["results"]}
    assert ("docker.parse", "error") in statuses
    assert ("repo.clean-tree", "fail") in statuses
    assert ("workflow.parse", "skip") in statuses


def test_text_report_groups_and_hints() -> None:
    results = [
        CheckResult(
            "docker.base-latest", "fail", "FROM x:latest", "Dockerfile", 3, "pin it"
        ),
        CheckResult("docker.user-root", "pass", "no findings"),
    ]
    text = text_report(results)
    assert "Dockerfiles" in text
    assert "FAIL   docker.base-latest  FROM x:latest" in text
    assert "at Dockerfile:3" in text
    assert "fix: pin it" in text
    assert text.endswith("FAILED: 2 results (1 pass, 1 fail)")


def test_annotations_escape_properties() -> None:
    item = CheckResult("k8s.schema", "warn", "50% bad\nline", "a,b:c.yaml", 7, None)
    assert annotations([item]) == [
        "::warning file=a%2Cb%3Ac.yaml,line=7,title=k8s.schema::50%25 bad%0Aline"
    ]


def test_markdown_escapes_pipes() -> None:
    item = CheckResult("k8s.schema", "fail", "a | b", None, None, None)
    assert "a \\| b" in markdown_report([item], "t")


def test_list_shows_every_check_id(tmp_path: Path) -> None:
    completed = run_tpo("checks.list", "--json", cwd=tmp_path)
    data = json.loads(completed.stdout)
    jsonschema.validate(data, load_schema("checks-list.schema.json"))
    ids = {item["id"] for item in data}
    assert {
        "docker.base-untagged",
        "k8s.selector-mismatch",
        "config.literal-secret",
        "repo.tests",
        "rollout.status",
        "health.http",
    } <= ids
    assert not any(item_id.startswith("test.") for item_id in ids)


def test_version_files_ahead_of_tag_warn(git_repo: Path) -> None:
    (git_repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1.0.0"\n'
    )
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "feat: one")
    git(git_repo, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
    (git_repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1.1.0"\n'
    )
    git(git_repo, "commit", "-q", "-am", "chore: bump")
    _, data = predeploy_json(git_repo)
    agree = [r for r in data["results"] if r["id"] == "release.versions-agree"]
    assert [r["status"] for r in agree] == ["warn"]
    assert "latest release tag is v1.0.0" in agree[0]["message"]


def test_version_files_behind_tag_fail(git_repo: Path) -> None:
    (git_repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "0.9.0"\n'
    )
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "feat: one")
    git(git_repo, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
    _, data = predeploy_json(git_repo)
    agree = [r for r in data["results"] if r["id"] == "release.versions-agree"]
    assert [r["status"] for r in agree] == ["fail"]


def test_confirmations_file_does_not_dirty_tree(git_repo: Path) -> None:
    confirmed = run_tpo("checks.confirm", "repo.tests", cwd=git_repo)
    assert confirmed.returncode == 0, confirmed.stderr
    assert (git_repo / ".tpo" / "confirmations.json").is_file()
    _, data = predeploy_json(git_repo)
    statuses = {r["id"]: r["status"] for r in data["results"]}
    assert statuses["repo.clean-tree"] == "pass"
    assert statuses["repo.tests"] == "pass"
