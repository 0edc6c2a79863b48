"""The shared tpo config: defaults, validation, sources and the ``config`` task."""

import json
from pathlib import Path

import jsonschema
import pytest
from invoke import Config

from tpo_tasks.config import DEFAULTS, defaults, describe_sources, load_settings
from tpo_tasks.errors import ConfigError
from tpo_tasks.templates import load_schema


def settings_for(tpo: dict) -> object:
    return load_settings({"tpo": tpo})


def test_defaults_validate() -> None:
    settings = load_settings({"tpo": defaults()})
    assert settings.issues.dir == ".github/issues"
    assert settings.deploy.history_limit == 20
    assert settings.deploy.lock_ttl == 900
    assert settings.checks.release_branch == "main"
    assert settings.checks.kubernetes_version == "1.32"


def test_non_scalar_defaults_are_declared_as_strings() -> None:
    # Invoke casts INVOKE_TPO_* values to the default's type; ints would traceback.
    assert isinstance(DEFAULTS["deploy"]["history_limit"], str)
    assert isinstance(DEFAULTS["deploy"]["lock_ttl"], str)
    assert isinstance(DEFAULTS["checks"]["kubernetes_version"], str)


BAD_VALUES = [
    ({"deploy": {"environments": ["staging"]}}, "tpo.deploy.environments"),
    (
        {"deploy": {"environments": {"staging": "prod"}}},
        "tpo.deploy.environments.staging",
    ),
    ({"deploy": {"history_limit": "twenty"}}, "tpo.deploy.history_limit"),
    ({"deploy": {"lock_ttl": 0}}, "tpo.deploy.lock_ttl"),
    ({"deploy": {"environments": {"Staging": {}}}}, "tpo.deploy.environments"),
    (
        {"deploy": {"environments": {"prod": {"promote_from": "qa"}}}},
        "tpo.deploy.environments.prod.promote_from",
    ),
    (
        {"deploy": {"environments": {"dev": {"rollout_timeout": "5m"}}}},
        "tpo.deploy.environments.dev.rollout_timeout",
    ),
    (
        {"deploy": {"environments": {"dev": {"kube_ctx": "dev"}}}},
        "tpo.deploy.environments.dev.kube_ctx",
    ),
    ({"deploy": {"notify_url": "ftp://example.test/hook"}}, "tpo.deploy.notify_url"),
    ({"release": {"scheme": "calver"}}, "tpo.release.scheme"),
    ({"release": {"tag_format": "release"}}, "tpo.release.tag_format"),
    (
        {"release": {"version_files": [{"path": "x", "pattern": "no-group"}]}},
        "tpo.release.version_files[0].pattern",
    ),
    ({"checks": {"kubernetes_version": 1.3}}, "tpo.checks.kubernetes_version"),
    ({"issues": {"branch_prefix": "Issue Branch"}}, "tpo.issues.branch_prefix"),
    ({"github": {"repo": "no-slash"}}, "tpo.github.repo"),
    ({"deploy": []}, "tpo.deploy"),
    ({"deplyo": {}}, "tpo.deplyo"),
]


@pytest.mark.parametrize(("tpo", "key"), BAD_VALUES, ids=[key for _, key in BAD_VALUES])
def test_bad_value_names_its_key(tpo: dict, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for(tpo)
    message = caught.value.message
    assert key in message
    assert "\n" not in message


def test_environment_defaults_follow_its_name() -> None:
    settings = settings_for({"deploy": {"environments": {"staging": {}}}})
    staging = settings.deploy.environment("staging")
    assert staging.kube_context == "staging"
    assert staging.overlay == "kube/overlays/staging"
    assert staging.rollout_timeout == 300
    assert staging.confirm is False


def test_undeclared_environment_names_the_key_to_add() -> None:
    settings = settings_for({})
    with pytest.raises(ConfigError, match="tpo.deploy.environments.qa"):
        settings.deploy.environment("qa")


def test_sources_name_default_project_and_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "invoke.yaml").write_text("tpo:\n  issues:\n    branch_prefix: work\n")
    monkeypatch.setenv("INVOKE_TPO_DEPLOY_LOCK_TTL", "60")
    config = Config(defaults={"tpo": defaults()}, project_location=str(tmp_path))
    config.load_project()
    config.load_shell_env()
    sources = {row["key"]: row for row in describe_sources(config)}
    assert sources["tpo.issues.dir"]["source"] == "default"
    assert sources["tpo.issues.branch_prefix"]["source"].startswith("project file")
    assert sources["tpo.deploy.lock_ttl"]["source"] == (
        "environment INVOKE_TPO_DEPLOY_LOCK_TTL"
    )
    assert sources["tpo.deploy.lock_ttl"]["value"] == "60"


def test_sources_mask_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_supersecretvalue")
    config = Config(defaults={"tpo": defaults()})
    config.load_collection(
        {
            "tpo": {
                "deploy": {
                    "notify_url": "https://bot:hunter22@hooks.example.test/x?token=abc"
                },
            }
        }
    )
    rows = describe_sources(config)
    text = json.dumps(rows)
    assert "ghp_supersecretvalue" not in text
    assert "hunter22" not in text
    assert "token=abc" not in text


def test_config_task_json_matches_schema(git_repo: Path, tpo) -> None:
    completed = tpo("config", "--json", cwd=git_repo)
    assert completed.returncode == 0, completed.stderr
    rows = json.loads(completed.stdout)
    jsonschema.validate(rows, load_schema("config.schema.json"))
    assert {row["key"] for row in rows} >= {"tpo.deploy.environments", "tpo.issues.dir"}


def test_environment_variable_overrides_scalar(git_repo: Path, tpo) -> None:
    completed = tpo(
        "config", "--json", cwd=git_repo, env={"INVOKE_TPO_ISSUES_DIR": "docs/issues"}
    )
    rows = {row["key"]: row for row in json.loads(completed.stdout)}
    assert rows["tpo.issues.dir"]["value"] == "docs/issues"
    assert rows["tpo.issues.dir"]["source"] == "environment INVOKE_TPO_ISSUES_DIR"


def test_bad_environment_integer_fails_without_traceback(git_repo: Path, tpo) -> None:
    completed = tpo("config", cwd=git_repo, env={"INVOKE_TPO_DEPLOY_LOCK_TTL": "soon"})
    assert completed.returncode == 2
    assert "tpo.deploy.lock_ttl" in completed.stderr
    assert "'soon'" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_bad_config_file_value_exits_2_with_one_line(git_repo: Path, tpo) -> None:
    (git_repo / "invoke.yaml").write_text(
        "tpo:\n  deploy:\n    environments: [staging]\n"
    )
    completed = tpo("config", cwd=git_repo)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "tpo.deploy.environments" in lines[0]


def test_list_environment_variable_is_a_usage_error(git_repo: Path, tpo) -> None:
    completed = tpo("config", cwd=git_repo, env={"INVOKE_TPO_CHECKS_SKIP": "a"})
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
