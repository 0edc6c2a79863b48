"""A Dockerfile parser and the Dockerfile rules.

The parser follows the Dockerfile reference: a UTF-8 BOM and CRLF line endings are
accepted, parser directives (``# syntax=``, ``# escape=``) are read only before the
first instruction, comment lines inside a continuation are dropped, heredocs
(``RUN <<EOF`` ... ``EOF``, ``<<-EOF`` with leading tabs) are consumed whole, and
``ARG`` defaults are resolved with ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
``${VAR-default}``, ``${VAR:+alt}`` and ``${VAR+alt}``. A parse problem becomes a
:class:`ParseIssue` with its line, and the rules still run on everything parsed.
"""

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .k8s_rules import split_image
from .results import WARN, CheckResult, register
from .secrets import find_secret

PARSE = register(
    "docker.parse",
    "a Dockerfile line the parser cannot read: unterminated heredoc, unknown "
    "instruction, FROM without an image, no FROM at all",
    "fix the instruction at the reported line; the other rules still ran on the rest",
)
BASE_UNTAGGED = register(
    "docker.base-untagged",
    "a FROM image with no tag and no digest, after ARG defaults and stage names are "
    "resolved (every FROM is checked, not only the first)",
    "pin the base image with a version tag (python:3.12-slim) or an @sha256 digest",
)
BASE_LATEST = register(
    "docker.base-latest",
    "a FROM image tagged latest",
    "pin the base image with a version tag or an @sha256 digest",
)
USER_ROOT = register(
    "docker.user-root",
    "a final stage that runs as root: its last USER is root or 0, or it has no USER",
    "add a non-root USER (for example USER 10001) after the last step that needs root",
)
HEALTHCHECK_MISSING = register(
    "docker.healthcheck-missing",
    "a final stage without a HEALTHCHECK",
    "add HEALTHCHECK CMD ... that probes the service",
    status=WARN,
)
ADD_INSTEAD_OF_COPY = register(
    "docker.add-instead-of-copy",
    "ADD of a local file or folder that is not an archive, where COPY does the same "
    "without ADD's URL fetching and archive extraction",
    "use COPY",
    status=WARN,
)
SHELL_FORM = register(
    "docker.shell-form",
    "CMD or ENTRYPOINT in shell form, which runs under /bin/sh -c so the program "
    "does not receive SIGTERM",
    'use the exec (JSON) form: CMD ["program", "arg"]',
    status=WARN,
)
COPY_FROM_UNKNOWN = register(
    "docker.copy-from-unknown",
    "COPY --from naming no earlier stage, after ARG resolution",
    "name a stage declared above with FROM ... AS NAME, or a tagged image",
)
SECRET_ENV = register(
    "docker.secret-env",
    "ENV or ARG with a secret-looking literal value, which stays in the image layers",
    "pass secrets at build time with RUN --mount=type=secret, or at run time from the "
    "orchestrator's secret store",
)
DOCKERIGNORE_MISSING = register(
    "docker.dockerignore-missing",
    "a build context that holds .git or .env files but has no .dockerignore",
    "add a .dockerignore that lists .git and .env*",
    status=WARN,
)
HADOLINT = register(
    "docker.hadolint",
    "hadolint findings (errors fail, warnings warn) not already covered by the rules "
    "above; runs only when hadolint is installed",
    "follow the hadolint rule named in the message",
    status=WARN,
)

INSTRUCTIONS = {
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
}
HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
VARIABLE = re.compile(
    r"\$(?:\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+])(?P<word>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
ARCHIVE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst)$", re.I)
# Build args Docker predefines; they resolve to the builder's values.
PREDEFINED_ARGS = {
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
}


@dataclass
class Instruction:
    """One instruction: keyword, flags, arguments, heredoc bodies and first line."""

    keyword: str
    arguments: str
    line: int
    flags: dict[str, str] = field(default_factory=dict)
    heredocs: list[str] = field(default_factory=list)

    def json_arguments(self) -> list[str] | None:
        """Return the exec-form argument list, or None for the shell form."""
        text = self.arguments.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        return None


@dataclass
class Stage:
    """A build stage: its FROM, resolved base image, name and instructions."""

    index: int
    from_line: int
    image_text: str
    image: str | None  # None when an ARG it uses has no value
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)
    args: dict[str, str | None] = field(default_factory=dict)
    parent: "Stage | None" = None


@dataclass
class ParseIssue:
    line: int
    message: str


@dataclass
class Dockerfile:
    """A parsed Dockerfile."""

    path: str
    instructions: list[Instruction]
    stages: list[Stage]
    global_args: dict[str, str | None]
    issues: list[ParseIssue]
    escape: str = "\\"


def _split_flags(text: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    rest = text.lstrip()
    while rest.startswith("--"):
        token, _, remainder = rest.partition(" ")
        name, _, value = token[2:].partition("=")
        flags[name.lower()] = value
        rest = remainder.lstrip()
    return flags, rest


def parse_dockerfile(text: str, path: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile ``text``; problems become issues, never exceptions."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    issues: list[ParseIssue] = []
    escape = "\\"

    # Parser directives: comment lines of the form "# key=value" before anything else.
    index = 0
    while index < len(lines):
        match = DIRECTIVE.match(lines[index].strip())
        if not match:
            break
        if match.group(1).lower() == "escape":
            if match.group(2) in ("\\", "`"):
                escape = match.group(2)
            else:
                issues.append(
                    ParseIssue(
                        index + 1,
                        f"invalid escape directive {match.group(2)!r}; use \\ or `",
                    )
                )
        index += 1

    instructions: list[Instruction] = []
    while index < len(lines):
        raw = lines[index]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        start = index + 1
        logical = raw.rstrip()
        while logical.endswith(escape):
            logical = logical[:-1].rstrip()
            index += 1
            # Comment and empty lines inside a continuation are skipped.
            while index < len(lines) and (
                not lines[index].strip() or lines[index].strip().startswith("#")
            ):
                index += 1
            if index >= len(lines):
                issues.append(
                    ParseIssue(start, "line continuation at the end of the file")
                )
                break
            logical += " " + lines[index].strip() if logical.strip() else lines[index]
            logical = logical.rstrip()
        index += 1
        keyword, _, arguments = logical.strip().partition(" ")
        if "\t" in keyword:
            keyword, _, more = keyword.partition("\t")
            arguments = more + " " + arguments
        keyword = keyword.upper()
        instruction = Instruction(keyword, arguments.strip(), start)
        if keyword not in INSTRUCTIONS:
            # A stray KEY=value line may hold a secret, and a binary file control
            # characters, so neither reaches the report as is.
            shown = keyword.partition("=")[0][:40]
            if not shown.isprintable():
                shown = ascii(shown)
            issues.append(ParseIssue(start, f"unknown instruction {shown}"))
            continue
        if keyword in ("RUN", "COPY", "ADD"):
            for match in HEREDOC.finditer(arguments):
                strip_tabs, terminator = match.group(1) == "-", match.group(3)
                body: list[str] = []
                closed = False
                while index < len(lines):
                    line = lines[index]
                    index += 1
                    check = line.lstrip("\t") if strip_tabs else line
                    if check.rstrip() == terminator:
                        closed = True
                        break
                    body.append(line)
                if not closed:
                    issues.append(
                        ParseIssue(
                            start,
                            f"heredoc <<{terminator} is not "
                            f"closed by a line {terminator}",
                        )
                    )
                instruction.heredocs.append("\n".join(body))
        instruction.flags, instruction.arguments = _split_flags(instruction.arguments)
        instructions.append(instruction)

    dockerfile = Dockerfile(path, instructions, [], {}, issues, escape)
    _build_stages(dockerfile)
    return dockerfile


def expand(text: str, values: Mapping[str, str | None]) -> tuple[str, list[str]]:
    """Expand build variables; return (text, names that had no value)."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group("name") or match.group("bare")
        value = values.get(name)
        operator = match.group("op")
        word = match.group("word") or ""
        if operator in (":-", "-"):
            unset = value is None or (operator == ":-" and value == "")
            return expand(word, values)[0] if unset else str(value)
        if operator in (":+", "+"):
            set_ = value is not None and (operator == "+" or value != "")
            return expand(word, values)[0] if set_ else ""
        if value is None:
            if name not in PREDEFINED_ARGS:
                missing.append(name)
            return ""
        return value

    return VARIABLE.sub(substitute, text), missing


def _parse_arg(arguments: str) -> list[tuple[str, str | None]]:
    pairs = []
    for token in arguments.split():
        name, equals, value = token.partition("=")
        if equals:
            pairs.append((name, value.strip("\"'")))
        else:
            pairs.append((name, None))
    return pairs


def _build_stages(dockerfile: Dockerfile) -> None:
    stage: Stage | None = None
    names: dict[str, Stage] = {}
    for instruction in dockerfile.instructions:
        if instruction.keyword == "ARG" and stage is None:
            for name, value in _parse_arg(instruction.arguments):
                if value is not None:
                    value = expand(value, dockerfile.global_args)[0]
                dockerfile.global_args[name] = value
            continue
        if instruction.keyword == "FROM":
            parts = instruction.arguments.split()
            if not parts:
                dockerfile.issues.append(
                    ParseIssue(instruction.line, "FROM has no image")
                )
                continue
            image_text = parts[0]
            name = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else None
            resolved, missing = expand(image_text, dockerfile.global_args)
            image = None if missing or not resolved else resolved
            stage = Stage(
                len(dockerfile.stages), instruction.line, image_text, image, name
            )
            if image is not None and image.lower() in names:
                stage.parent = names[image.lower()]
            dockerfile.stages.append(stage)
            if name:
                names[name.lower()] = stage
            stage.instructions.append(instruction)
            continue
        if stage is None:
            dockerfile.issues.append(
                ParseIssue(
                    instruction.line, f"{instruction.keyword} before the first FROM"
                )
            )
            continue
        if instruction.keyword == "ARG":
            for name, value in _parse_arg(instruction.arguments):
                if value is None:
                    value = dockerfile.global_args.get(name)
                else:
                    value = expand(value, {**dockerfile.global_args, **stage.args})[0]
                stage.args[name] = value
        stage.instructions.append(instruction)
    if not dockerfile.stages and not any(
        issue.message.startswith("unknown") for issue in dockerfile.issues
    ):
        dockerfile.issues.append(ParseIssue(1, "no FROM instruction"))


def stage_values(stage: Stage, dockerfile: Dockerfile) -> dict[str, str | None]:
    """Return the variables visible inside ``stage``: its ARGs and ENVs so far."""
    values: dict[str, str | None] = {}
    chain = []
    current: Stage | None = stage
    while current is not None:
        chain.append(current)
        current = current.parent
    for item in reversed(chain):
        for instruction in item.instructions:
            if instruction.keyword == "ARG":
                for name, _ in _parse_arg(instruction.arguments):
                    values[name] = item.args.get(name)
            elif instruction.keyword == "ENV":
                for name, value in env_pairs(instruction.arguments):
                    values[name] = expand(value, values)[0]
    return values


def env_pairs(arguments: str) -> list[tuple[str, str]]:
    """Return the (name, value) pairs of an ENV, both ``K=V ...`` and ``K V`` forms."""
    import shlex

    text = arguments.strip()
    if not text:
        return []
    first = text.split(None, 1)[0]
    if "=" not in first:
        name, _, value = text.partition(" ")
        return [(name, value.strip().strip("\"'"))]
    try:
        tokens = shlex.split(text, posix=True)
    except ValueError:
        tokens = text.split()
    pairs = []
    for token in tokens:
        name, _, value = token.partition("=")
        pairs.append((name, value))
    return pairs


# -- the rules --------------------------------------------------------------------


def _stage_user(stage: Stage) -> tuple[str | None, int | None]:
    current: Stage | None = stage
    while current is not None:
        for instruction in reversed(current.instructions):
            if instruction.keyword == "USER":
                return instruction.arguments.strip(), instruction.line
        current = current.parent
    return None, None


def _stage_healthcheck(stage: Stage) -> Instruction | None:
    current: Stage | None = stage
    while current is not None:
        for instruction in reversed(current.instructions):
            if instruction.keyword == "HEALTHCHECK":
                return instruction
        current = current.parent
    return None


def check_dockerfile(
    dockerfile: Dockerfile, secret_keys: tuple[str, ...] = ()
) -> Iterator[CheckResult]:
    """Yield the findings of every Dockerfile rule on one parsed file."""
    path = dockerfile.path
    for issue in dockerfile.issues:
        yield PARSE.result(issue.message, file=path, line=issue.line)
    stage_names: set[str] = set()
    for stage in dockerfile.stages:
        yield from _check_base(stage, stage_names, dockerfile)
        for instruction in stage.instructions:
            yield from _check_instruction(
                instruction, stage, dockerfile, stage_names, secret_keys
            )
        if stage.name:
            stage_names.add(stage.name.lower())
    for instruction in dockerfile.instructions:
        if instruction.keyword == "ARG" and not any(
            instruction in stage.instructions for stage in dockerfile.stages
        ):
            yield from _check_secret_arg(instruction, path, secret_keys)
    if not dockerfile.stages:
        return
    final = dockerfile.stages[-1]
    user, line = _stage_user(final)
    if user is None:
        yield USER_ROOT.result(
            "the final stage has no USER, so it runs as the base "
            "image's user (root unless the base sets one)",
            file=path,
            line=final.from_line,
        )
    elif user.split(":")[0] in ("root", "0"):
        yield USER_ROOT.result(f"the final stage runs as {user}", file=path, line=line)
    healthcheck = _stage_healthcheck(final)
    if healthcheck is None or healthcheck.arguments.strip().upper() == "NONE":
        yield HEALTHCHECK_MISSING.result(
            "the final stage has no HEALTHCHECK"
            if healthcheck is None
            else "the final stage disables the HEALTHCHECK",
            file=path,
            line=healthcheck.line if healthcheck else final.from_line,
        )


def _check_base(
    stage: Stage, earlier: set[str], dockerfile: Dockerfile
) -> Iterator[CheckResult]:
    path = dockerfile.path
    if stage.image is None:
        _, missing = expand(stage.image_text, dockerfile.global_args)
        # FROM ${REGISTRY}/python:3.12 is pinned whatever registry the build passes:
        # fill the unset ARGs with a marker and look at the tag and digest alone.
        marker = "\0"
        filled, _ = expand(
            stage.image_text,
            {**dockerfile.global_args, **dict.fromkeys(missing, marker)},
        )
        _, tag, digest = split_image(filled)
        if (digest and marker not in digest) or (
            tag and marker not in tag and tag != "latest"
        ):
            return
        names = ", ".join(sorted(set(missing))) or "the variable"
        yield BASE_UNTAGGED.result(
            f"FROM {stage.image_text}: ARG {names} has no default before the first "
            "FROM, so the base image is not pinned",
            file=path,
            line=stage.from_line,
            hint="give the ARG a default with a pinned tag (ARG BASE=python:3.12-slim)",
        )
        return
    image = stage.image
    if image.lower() == "scratch" or image.lower() in earlier:
        return
    name, tag, digest = split_image(image)
    shown = image if image == stage.image_text else f"{stage.image_text} ({image})"
    if digest:
        return
    if not tag:
        yield BASE_UNTAGGED.result(
            f"FROM {shown} has no tag, so it pulls latest",
            file=path,
            line=stage.from_line,
        )
    elif tag == "latest":
        yield BASE_LATEST.result(
            f"FROM {shown} uses the latest tag", file=path, line=stage.from_line
        )


def _check_instruction(
    instruction: Instruction,
    stage: Stage,
    dockerfile: Dockerfile,
    earlier: set[str],
    secret_keys: tuple[str, ...],
) -> Iterator[CheckResult]:
    path = dockerfile.path
    keyword = instruction.keyword
    if (
        keyword in ("CMD", "ENTRYPOINT")
        and instruction.arguments
        and instruction.json_arguments() is None
    ):
        # Only the program is shown: the arguments may carry a password or token.
        program = instruction.arguments.split()[0]
        shown = f"{keyword} {program}" if "=" not in program else keyword
        yield SHELL_FORM.result(
            f"{shown} ... is in shell form",
            file=path,
            line=instruction.line,
        )
    if keyword == "ADD" and not instruction.heredocs:
        sources = (instruction.json_arguments() or instruction.arguments.split())[:-1]
        if sources and not any(
            "://" in s or s.startswith("git@") or ARCHIVE.search(s) for s in sources
        ):
            yield ADD_INSTEAD_OF_COPY.result(
                f"ADD {' '.join(sources)} copies local files",
                file=path,
                line=instruction.line,
            )
    if keyword in ("COPY", "ADD") and "from" in instruction.flags:
        raw = instruction.flags["from"]
        values = {**dockerfile.global_args, **stage_values(stage, dockerfile)}
        source, missing = expand(raw, values)
        is_index = source.isdigit() and int(source) < stage.index
        is_image = any(char in source for char in ":/@")
        if missing or not source:
            yield COPY_FROM_UNKNOWN.result(
                f"COPY --from={raw}: ARG {', '.join(missing) or raw} has no value",
                file=path,
                line=instruction.line,
            )
        elif source.lower() not in earlier and not is_index and not is_image:
            known = ", ".join(sorted(earlier)) or "none"
            yield COPY_FROM_UNKNOWN.result(
                f"COPY --from={raw} names no earlier stage (stages above: {known})",
                file=path,
                line=instruction.line,
            )
    if keyword == "ENV":
        for name, value in env_pairs(instruction.arguments):
            found = find_secret(name, value, secret_keys)
            if found is not None:
                yield SECRET_ENV.result(
                    f"ENV {name} holds {found.reason}: {found.masked}",
                    file=path,
                    line=instruction.line,
                )
    if keyword == "ARG":
        yield from _check_secret_arg(instruction, path, secret_keys)


def _check_secret_arg(
    instruction: Instruction, path: str, secret_keys: tuple[str, ...]
) -> Iterator[CheckResult]:
    for name, value in _parse_arg(instruction.arguments):
        if value is None:
            continue
        found = find_secret(name, value, secret_keys)
        if found is not None:
            yield SECRET_ENV.result(
                f"ARG {name} default holds {found.reason}: {found.masked}",
                file=path,
                line=instruction.line,
            )


def is_dockerfile(path: str) -> bool:
    name = PurePosixPath(path).name
    return (
        name == "Dockerfile"
        or name.startswith(("Dockerfile.", "Dockerfile-"))
        or name.endswith((".Dockerfile", ".dockerfile"))
        or name == "dockerfile"
    ) and not name.endswith(".dockerignore")


def dockerignore_results(
    scan: Any, dockerfiles: list[str], contexts: Mapping[str, str]
) -> Iterator[CheckResult]:
    """Warn for each build context holding .git or .env* without a .dockerignore."""
    seen: set[str] = set()
    for path in dockerfiles:
        folder = contexts.get(path, str(PurePosixPath(path).parent))
        folder = "" if folder in (".", "./") else folder.rstrip("/")
        if folder in seen:
            continue
        seen.add(folder)
        prefix = f"{folder}/" if folder else ""
        if (
            f"{prefix}.dockerignore" in scan.file_set
            or scan.exists(f"{prefix}.dockerignore")
            or f"{path}.dockerignore" in scan.file_set
        ):
            continue
        risky = []
        if scan.exists(f"{prefix}.git"):
            risky.append(".git")
        if any(
            item.startswith(prefix) and PurePosixPath(item).name.startswith(".env")
            for item in scan.files
        ) or scan.exists(f"{prefix}.env"):
            risky.append(".env")
        if risky:
            yield DOCKERIGNORE_MISSING.result(
                f"build context {folder or '.'} holds {' and '.join(risky)} and has no "
                ".dockerignore, so they are sent to the builder",
                file=path,
                line=None,
            )


# -- hadolint ---------------------------------------------------------------------

# hadolint codes whose ground the rules above cover (with ARG and stage resolution).
HADOLINT_COVERED = {
    "DL3006": BASE_UNTAGGED.id,
    "DL3007": BASE_LATEST.id,
    "DL3002": USER_ROOT.id,
    "DL3020": ADD_INSTEAD_OF_COPY.id,
    "DL3025": SHELL_FORM.id,
    "DL3022": COPY_FROM_UNKNOWN.id,
    "DL3023": COPY_FROM_UNKNOWN.id,
}


def hadolint_path() -> str | None:
    """Return the hadolint executable on PATH, or None."""
    import shutil

    return shutil.which("hadolint")


def hadolint_results(root: Any, paths: list[str], executable: str) -> list[CheckResult]:
    """Run hadolint once over ``paths`` and return its findings, de-duplicated."""
    from ..command import run

    # "--" ends the options, so a file named -v.Dockerfile is not read as one.
    result = run(
        [executable, "--no-fail", "--format", "json", "--", *paths],
        cwd=root,
        check=False,
        timeout=300,
    )
    try:
        # With --no-fail, a non-zero exit means hadolint itself failed, and its
        # empty output is not "no findings".
        if not result.ok:
            raise ValueError(f"exit status {result.returncode}")
        findings = json.loads(result.stdout or "[]")
    except ValueError:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise RuntimeError(
            "hadolint printed no JSON: " + (detail[-1] if detail else "no output")
        ) from None
    seen: set[tuple[Any, ...]] = set()
    results = []
    for item in findings:
        code = str(item.get("code"))
        level = item.get("level")
        message = " ".join(str(item.get("message")).split())
        if code == "DL1000":
            # hadolint could not parse the file (for example a heredoc in a CRLF
            # file); the rules above still ran on it, hadolint's did not.
            results.append(
                HADOLINT.result(
                    "hadolint could not parse this file, so its rules were not "
                    f"applied: {message}",
                    file=item.get("file"),
                    line=item.get("line"),
                    status=WARN,
                    hint="the docker.* rules above did check this file",
                )
            )
            continue
        if code in HADOLINT_COVERED or level not in ("error", "warning"):
            continue
        key = (item.get("file"), item.get("line"), code)
        if key in seen:
            continue
        seen.add(key)
        results.append(
            HADOLINT.result(
                f"{code}: {message}",
                file=item.get("file"),
                line=item.get("line"),
                status="fail" if level == "error" else WARN,
                hint=f"see hadolint rule {code}; silence it with "
                f"'# hadolint ignore={code}'",
            )
        )
    return results
