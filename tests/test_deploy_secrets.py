"""Dotenv parsing and the Secret manifest: values only ever in base64 data."""

import base64
from pathlib import Path

import pytest

from tpo_tasks.deploy.secrets import (
    parse_dotenv,
    read_env_file,
    secret_name_for,
    secret_object,
)
from tpo_tasks.errors import UsageError
from tpo_tasks.output import mask


@pytest.mark.parametrize(("line", "expected"), [
    ("A=plain", "plain"),
    ("export A=value", "value"),
    ('A="two words"', "two words"),
    ("A='single # not comment'", "single # not comment"),
    ("A=value # comment", "value"),
    ('A="line\\nbreak"', "line\nbreak"),
    ("A=", ""),
    ("A=x=y", "x=y"),
], ids=["plain", "export", "double-quoted", "single-quoted", "comment", "escape",
        "empty", "equals-in-value"])
def test_parse_dotenv_values(line: str, expected: str) -> None:
    assert parse_dotenv(line)["A"] == expected


def test_parse_dotenv_skips_comments_and_blank_lines() -> None:
    assert list(parse_dotenv("# c\n\nA=1\nB=2\n")) == ["A", "B"]


def test_malformed_line_error_names_line_not_value() -> None:
    with pytest.raises(UsageError) as caught:
        parse_dotenv("A=1\nnot a pair hunter2secret\n", "prod.env")
    assert "prod.env:2" in caught.value.message
    assert "hunter2secret" not in caught.value.message


def test_values_are_masked_after_parsing() -> None:
    parse_dotenv("TOKEN=s3cr3t-value-123\n")
    assert mask("leaked s3cr3t-value-123") == "leaked ***"


def test_secret_object_base64_encodes_values() -> None:
    secret = secret_object("web", "tally", {"A": "value"})
    assert base64.b64decode(secret["data"]["A"]) == b"value"


def test_secret_object_rejects_bad_name() -> None:
    with pytest.raises(UsageError, match="invalid Secret name"):
        secret_object("Bad_Name", "tally", {"A": "1"})


def test_missing_env_file_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        read_env_file(tmp_path / "missing.env")


@pytest.mark.parametrize(("name", "expected"), [
    ("web.env", "web"), (".env", "env"), ("Prod_Secrets.env", "prod-secrets"),
], ids=["service", "dotfile", "normalized"])
def test_secret_name_from_file(name: str, expected: str) -> None:
    assert secret_name_for(Path(name)) == expected
