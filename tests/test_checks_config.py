"""Configuration checks: appsettings*.json, .env files, compose files, Helm values."""

from pathlib import Path

import pytest

from tpo_tasks.checks.config_files import (
    JsonError,
    check_file,
    config_files,
    parse_env_file,
    parse_json_with_comments,
)
from tpo_tasks.checks.repo_files import RepoScan
from tpo_tasks.checks.secrets import find_secret

APPSETTINGS = (
    "\ufeff{\n"
    "  // local database\n"
    '  "ConnectionStrings": {\n'
    '    /* the main store */ "Default": "Server=db;User Id=app;Password=Hunter2!;",\n'
    "  },\n"
    '  "Logging": { "LogLevel": { "Default": "Information" } },\n'
    "}\n"
)


def check(root: Path, name: str, text: str, secret_keys: tuple[str, ...] = ()) -> list:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    scan = RepoScan(root)
    kinds = dict(config_files(scan))
    return list(check_file(scan, name, kinds[name], secret_keys))


def test_appsettings_bom_comments_connection_string(tmp_path: Path) -> None:
    results = check(tmp_path, "src/Api/appsettings.json", APPSETTINGS)
    assert [(r.id, r.status, r.line) for r in results] == [
        ("config.literal-secret", "fail", 4)
    ]
    assert "ConnectionStrings.Default" in results[0].message
    assert "Password=***" in results[0].message
    assert "Hunter2" not in results[0].message


def test_connection_string_without_password_passes(tmp_path: Path) -> None:
    text = '{"ConnectionStrings": {"Default": "Server=db;Integrated Security=true"}}'
    assert check(tmp_path, "appsettings.json", text) == []


def test_invalid_json_reports_line(tmp_path: Path) -> None:
    results = check(tmp_path, "appsettings.json", '{\n  "a": 1\n  "b": 2\n}\n')
    assert [(r.id, r.line) for r in results] == [("config.parse", 3)]


def test_json_reader_keeps_lines_and_values() -> None:
    data, lines = parse_json_with_comments('{"a": [1, 2.5, true, null, "x"],\n"b": {}}')
    assert data == {"a": [1, 2.5, True, None, "x"], "b": {}}
    assert lines[("b",)] == 2


def test_json_reader_rejects_unclosed_comment() -> None:
    with pytest.raises(JsonError):
        parse_json_with_comments('{"a": 1 /* open\n}')


@pytest.mark.parametrize(
    ("key", "value", "flagged"),
    [
        ("Password", "hunter2", True),
        ("ApiKey", "AKIAABCDEFGHIJKLMNOP", True),
        ("Jwt:Secret", "0123456789abcdef", True),
        ("Password", "", False),
        ("Password", "${DB_PASSWORD}", False),
        ("PasswordFile", "/run/secrets/db", False),
        ("TokenLifetime", "00:30:00", False),
        ("SecretName", "db-credentials", False),
        ("Url", "https://user:pa55word@db.example.test/x", True),
        ("Url", "https://db.example.test/x", False),
        ("Key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE", True),
        ("Greeting", "hello", False),
        ("ENABLE_TOKEN", "true", False),
        ("TOKEN_COUNT", "1", False),
        ("DB_PASSWORD", "abc", False),
    ],
    ids=[
        "password",
        "aws-key",
        "jwt-secret",
        "empty",
        "reference",
        "file-path",
        "token-lifetime",
        "secret-name",
        "url-password",
        "url-plain",
        "private-key",
        "harmless",
        "flag-word",
        "short-number",
        "too-short",
    ],
)
def test_find_secret_table(key: str, value: str, flagged: bool) -> None:
    assert (find_secret(key.split(":")[-1], value) is not None) is flagged


def test_extra_secret_key_patterns(tmp_path: Path) -> None:
    text = '{"Stripe": {"Signature": "whsec_abcdef"}}'
    assert check(tmp_path, "appsettings.json", text) == []
    results = check(tmp_path, "appsettings.json", text, ("signature",))
    assert [r.id for r in results] == ["config.literal-secret"]


def test_env_file_secret_masked(tmp_path: Path) -> None:
    text = "# local\nexport DB_PASSWORD='s3cret-pw'\nDEBUG=false\nNAME=shop # note\n"
    results = check(tmp_path, ".env", text)
    assert [(r.id, r.line) for r in results] == [("config.literal-secret", 2)]
    assert "s3cret-pw" not in results[0].message


def test_env_parser_handles_quotes_and_comments() -> None:
    entries = parse_env_file('A="x y"\nexport B=1\nC=v # comment\n# D=2\nnot a line\n')
    assert entries == [("A", "x y", 1), ("B", "1", 2), ("C", "v", 3)]


def test_example_env_file_is_not_checked(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("DB_PASSWORD=changeme\n")
    assert config_files(RepoScan(tmp_path)) == []


def test_compose_environment_list_and_map(tmp_path: Path) -> None:
    text = (
        "services:\n  db:\n    image: postgres:16\n    environment:\n"
        "      - POSTGRES_PASSWORD=example\n      - POSTGRES_DB=app\n"
        "  app:\n    environment:\n      API_TOKEN: ${API_TOKEN}\n"
        "      SMTP_PASSWORD: mail-pass\n"
    )
    results = check(tmp_path, "compose.yaml", text)
    assert [(r.id, r.line) for r in results] == [
        ("config.literal-secret", 5),
        ("config.literal-secret", 10),
    ]


def test_helm_values_only_next_to_chart(tmp_path: Path) -> None:
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart/Chart.yaml").write_text("name: x\nversion: 1.0.0\n")
    (tmp_path / "chart/values.yaml").write_text("db:\n  password: topsecret\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other/values.yaml").write_text("db:\n  password: topsecret\n")
    assert config_files(RepoScan(tmp_path)) == [("chart/values.yaml", "helm")]
    results = check(tmp_path, "chart/values.yaml", "db:\n  password: topsecret\n")
    assert [(r.id, r.line) for r in results] == [("config.literal-secret", 2)]


def test_production_localhost_and_debug(tmp_path: Path) -> None:
    text = (
        '{"Logging": {"LogLevel": {"Default": "Debug"}},\n'
        ' "Api": {"BaseUrl": "http://localhost:5000"},\n'
        ' "Features": {"Debug": true}}\n'
    )
    results = check(tmp_path, "appsettings.Production.json", text)
    assert sorted((r.id, r.line) for r in results) == [
        ("config.production-debug", 1),
        ("config.production-debug", 3),
        ("config.production-localhost", 2),
    ]


def test_development_file_may_use_localhost(tmp_path: Path) -> None:
    text = (
        '{"Logging": {"LogLevel": {"Default": "Debug"}},\n'
        ' "Api": {"BaseUrl": "http://localhost:5000"}}\n'
    )
    assert check(tmp_path, "appsettings.Development.json", text) == []


def test_production_env_file_development_environment(tmp_path: Path) -> None:
    results = check(
        tmp_path,
        "deploy/.env.production",
        "ASPNETCORE_ENVIRONMENT=Development\nHOST=db.internal\n",
    )
    assert [(r.id, r.line) for r in results] == [("config.production-debug", 1)]


def test_invalid_compose_yaml_reports_line(tmp_path: Path) -> None:
    results = check(tmp_path, "compose.yaml", "services:\n  db:\n    image: [x\n")
    assert [(r.id, r.status) for r in results] == [("config.parse", "fail")]
    assert results[0].line is not None
