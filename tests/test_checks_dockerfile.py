"""Dockerfile parser and rules: true positives, false positives, hard cases."""

from pathlib import Path

import pytest

from tpo_tasks.checks.dockerfile import check_dockerfile, expand, parse_dockerfile

GOOD_TAIL = 'USER 10001\nHEALTHCHECK CMD ["true"]\nCMD ["app"]\n'


def findings(text: str, path: str = "Dockerfile") -> list:
    return list(check_dockerfile(parse_dockerfile(text, path)))


def ids(text: str) -> list[str]:
    return [item.id for item in findings(text)]


def lines_of(text: str, check_id: str) -> list[int | None]:
    return [item.line for item in findings(text) if item.id == check_id]


def test_clean_multistage_file_has_no_findings() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "ARG PY=3.12\n"
        "FROM python:${PY}-slim AS build\n"
        "RUN pip wheel .\n"
        "FROM python:${PY}-slim\n"
        "COPY --from=build /w /w\n" + GOOD_TAIL
    )
    assert findings(text) == []


def test_every_from_is_reported_not_only_first() -> None:
    text = "ARG BASE\nFROM ${BASE}\nRUN x\nFROM python:latest\n" + GOOD_TAIL
    assert lines_of(text, "docker.base-untagged") == [2]
    assert lines_of(text, "docker.base-latest") == [4]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("python", ["docker.base-untagged"]),
        ("python:latest", ["docker.base-latest"]),
        ("python:3.12", []),
        ("localhost:5000/team/base", ["docker.base-untagged"]),
        ("localhost:5000/team/base:1.0", []),
        ("python@sha256:" + "a" * 64, []),
        ("python:latest@sha256:" + "a" * 64, []),
        ("scratch", []),
    ],
    ids=[
        "untagged",
        "latest",
        "tagged",
        "registry-port-no-tag",
        "registry-port-tag",
        "digest",
        "latest-with-digest",
        "scratch",
    ],
)
def test_base_image_pinning(image: str, expected: list[str]) -> None:
    found = [
        i for i in ids(f"FROM {image}\n" + GOOD_TAIL) if i.startswith("docker.base")
    ]
    assert found == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ARG V=3.12\nFROM python:${V}\n", []),
        ("ARG V\nFROM python:${V:-3.12}\n", []),
        ("ARG V=\nFROM python:${V:-3.12}\n", []),
        ("ARG V=\nFROM python:${V-3.12}\n", ["docker.base-untagged"]),
        ("ARG T=latest\nFROM python:$T\n", ["docker.base-latest"]),
        ("ARG V=1\nFROM python${V:+:3.12}\n", []),
        ("ARG V\nFROM python${V:+:3.12}\n", ["docker.base-untagged"]),
    ],
    ids=[
        "default",
        "colon-dash-unset",
        "colon-dash-empty",
        "dash-empty-kept",
        "bare-var-latest",
        "colon-plus-set",
        "colon-plus-unset",
    ],
)
def test_arg_resolution_in_from(text: str, expected: list[str]) -> None:
    found = [i for i in ids(text + GOOD_TAIL) if i.startswith("docker.base")]
    assert found == expected


def test_from_naming_earlier_stage_is_fine() -> None:
    text = (
        "ARG variant=slim\nFROM python:3.12 AS app-slim\nRUN x\n"
        "FROM app-${variant}\n" + GOOD_TAIL
    )
    assert ids(text) == []


def test_arg_for_copy_from_resolves_to_stage() -> None:
    text = (
        "FROM python:3.12 AS builder\nRUN make\nFROM python:3.12\nARG S=builder\n"
        "COPY --from=$S /f /f\n" + GOOD_TAIL
    )
    assert ids(text) == []


def test_copy_from_unknown_stage_is_reported() -> None:
    text = (
        "FROM python:3.12 AS builder\nFROM python:3.12\n"
        "COPY --from=biulder /f /f\n" + GOOD_TAIL
    )
    assert lines_of(text, "docker.copy-from-unknown") == [3]


@pytest.mark.parametrize(
    "source", ["0", "nginx:1.25", "ghcr.io/org/tool"], ids=["index", "image", "path"]
)
def test_copy_from_index_or_image_is_fine(source: str) -> None:
    text = (
        f"FROM python:3.12\nFROM python:3.12\nCOPY --from={source} /f /f\n" + GOOD_TAIL
    )
    assert "docker.copy-from-unknown" not in ids(text)


def test_heredoc_followed_by_comment_keeps_every_rule() -> None:
    text = (
        "FROM python:3.12\nRUN <<EOF\nset -e\nFROM nothing:latest\nUSER root\nEOF\n"
        "# a comment\nADD app.py /app.py\nCMD python app.py\n"
    )
    found = findings(text)
    assert [f.id for f in found if f.id == "docker.parse"] == []
    assert [f.line for f in found if f.id == "docker.add-instead-of-copy"] == [8]
    assert [f.line for f in found if f.id == "docker.shell-form"] == [9]
    assert [f.id for f in found if f.id == "docker.user-root"] == ["docker.user-root"]
    assert [f.id for f in found if f.id == "docker.healthcheck-missing"] == [
        "docker.healthcheck-missing"
    ]
    assert [f.id for f in found if f.id.startswith("docker.base")] == []


def test_heredoc_with_dash_strips_tabs() -> None:
    parsed = parse_dockerfile("FROM a:1\nRUN <<-END\n\techo hi\n\tEND\nUSER 1\n")
    assert parsed.issues == []
    assert [i.keyword for i in parsed.instructions] == ["FROM", "RUN", "USER"]


def test_unclosed_heredoc_is_a_parse_failure_with_line() -> None:
    found = findings("FROM a:1\nRUN <<EOF\necho\n")
    assert [(f.id, f.line) for f in found if f.id == "docker.parse"] == [
        ("docker.parse", 2)
    ]


def test_bom_and_crlf_parse() -> None:
    text = "\ufeffFROM python:latest\r\nRUN a \\\r\n  b\r\nUSER app\r\n"
    parsed = parse_dockerfile(text)
    assert parsed.issues == []
    assert [i.line for i in parsed.instructions] == [1, 2, 4]
    assert lines_of(text, "docker.base-latest") == [1]


def test_continuation_skips_comment_lines() -> None:
    parsed = parse_dockerfile("FROM a:1\nRUN one \\\n# note\n    two\nUSER 1\n")
    assert parsed.instructions[1].arguments == "one two"
    assert parsed.instructions[2].line == 5


def test_escape_directive_changes_continuation() -> None:
    parsed = parse_dockerfile("# escape=`\nFROM a:1\nRUN dir `\n  c:\\\nUSER 1\n")
    assert [i.keyword for i in parsed.instructions] == ["FROM", "RUN", "USER"]


def test_unknown_instruction_reported_and_rules_still_run() -> None:
    found = findings("FROM python:latest\nRUNN make\nUSER 1\n")
    assert ("docker.parse", 2) in [(f.id, f.line) for f in found]
    assert ("docker.base-latest", 1) in [(f.id, f.line) for f in found]


def test_file_without_from_is_a_parse_failure() -> None:
    assert "docker.parse" in ids("RUN echo\n")


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("USER root\n", True),
        ("USER 0:0\n", True),
        ("", True),
        ("USER app\n", False),
        ("USER 10001:10001\n", False),
    ],
    ids=["root", "uid-zero", "missing", "named", "numeric"],
)
def test_final_user(tail: str, expected: bool) -> None:
    found = ids('FROM a:1\nHEALTHCHECK CMD ["t"]\n' + tail)
    assert ("docker.user-root" in found) is expected


def test_user_inherited_from_parent_stage() -> None:
    text = 'FROM a:1 AS base\nUSER app\nFROM base\nHEALTHCHECK CMD ["t"]\n'
    assert "docker.user-root" not in ids(text)


def test_only_final_stage_user_counts() -> None:
    text = 'FROM a:1 AS b\nUSER app\nFROM a:1\nHEALTHCHECK CMD ["t"]\n'
    assert "docker.user-root" in ids(text)


def test_healthcheck_none_counts_as_missing() -> None:
    assert "docker.healthcheck-missing" in ids("FROM a:1\nUSER 1\nHEALTHCHECK NONE\n")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ADD app /app", True),
        ("ADD https://example.test/x.tgz /x", False),
        ("ADD vendor.tar.gz /v", False),
        ("COPY app /app", False),
    ],
    ids=["local", "url", "archive", "copy"],
)
def test_add_instead_of_copy(line: str, expected: bool) -> None:
    assert (
        "docker.add-instead-of-copy" in ids(f"FROM a:1\n{line}\n" + GOOD_TAIL)
    ) is expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('CMD ["a", "b"]', False),
        ("CMD a b", True),
        ("ENTRYPOINT a", True),
        ('ENTRYPOINT ["a"]', False),
    ],
    ids=["cmd-exec", "cmd-shell", "entrypoint-shell", "entrypoint-exec"],
)
def test_shell_form(line: str, expected: bool) -> None:
    text = f'FROM a:1\nUSER 1\nHEALTHCHECK CMD ["t"]\n{line}\n'
    assert ("docker.shell-form" in ids(text)) is expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ENV DB_PASSWORD=hunter22", True),
        ("ENV API_TOKEN ghp_" + "a" * 36, True),
        ("ARG NPM_TOKEN=abcdef123456", True),
        ("ENV DB_PASSWORD_FILE=/run/secrets/db", False),
        ("ENV DB_PASSWORD=${DB_PASSWORD}", False),
        ("ARG NPM_TOKEN", False),
        ("ENV PATH=/usr/bin LANG=C.UTF-8", False),
    ],
    ids=[
        "env-password",
        "env-token-content",
        "arg-token",
        "file-reference",
        "variable-reference",
        "arg-without-default",
        "harmless",
    ],
)
def test_secret_env_and_arg(line: str, expected: bool) -> None:
    found = findings(f"FROM a:1\n{line}\n" + GOOD_TAIL)
    secret = [f for f in found if f.id == "docker.secret-env"]
    assert bool(secret) is expected
    for item in secret:
        assert "hunter22" not in item.message
        assert "abcdef123456" not in item.message


def test_expand_reports_missing_names() -> None:
    assert expand("${A}-${B:-b}", {"A": None}) == ("-b", ["A"])


# -- .dockerignore next to the build context -------------------------------------------


def dockerignore_findings(
    root: Path, dockerfiles: list[str], contexts: dict[str, str] | None = None
) -> list:
    from tpo_tasks.checks.dockerfile import dockerignore_results
    from tpo_tasks.checks.repo_files import RepoScan

    return list(dockerignore_results(RepoScan(root), dockerfiles, contexts or {}))


def test_dockerignore_missing_with_env_file(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile").write_text("FROM a:1\n")
    (tmp_path / "api" / ".env").write_text("A=1\n")
    found = dockerignore_findings(tmp_path, ["api/Dockerfile"])
    assert [(f.id, f.file) for f in found] == [
        ("docker.dockerignore-missing", "api/Dockerfile")
    ]
    assert ".env" in found[0].message


def test_dockerignore_present_passes(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "Dockerfile").write_text("FROM a:1\n")
    (tmp_path / ".dockerignore").write_text(".git\n")
    assert dockerignore_findings(tmp_path, ["Dockerfile"]) == []


def test_dockerignore_not_needed_for_clean_context(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM a:1\n")
    assert dockerignore_findings(tmp_path, ["Dockerfile"]) == []


def test_dockerignore_uses_service_build_context(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM a:1\n")
    assert dockerignore_findings(tmp_path, ["docker/Dockerfile"]) == []
    found = dockerignore_findings(
        tmp_path, ["docker/Dockerfile"], {"docker/Dockerfile": "."}
    )
    assert [f.id for f in found] == ["docker.dockerignore-missing"]


def test_platform_flag_does_not_hide_image() -> None:
    text = "FROM --platform=$BUILDPLATFORM golang AS build\nFROM scratch\n" + GOOD_TAIL
    assert lines_of(text, "docker.base-untagged") == [1]


def test_two_heredocs_on_one_line() -> None:
    parsed = parse_dockerfile(
        "FROM a:1\nCOPY <<one <<two /dest/\nfirst\none\nsecond\ntwo\nUSER 1\n"
    )
    assert parsed.issues == []
    assert parsed.instructions[1].heredocs == ["first", "second"]
    assert [i.keyword for i in parsed.instructions] == ["FROM", "COPY", "USER"]


def test_quoted_heredoc_terminator() -> None:
    parsed = parse_dockerfile('FROM a:1\nRUN <<"END" bash\necho $HOME\nEND\nUSER 1\n')
    assert parsed.issues == []
    assert parsed.instructions[1].heredocs == ["echo $HOME"]
