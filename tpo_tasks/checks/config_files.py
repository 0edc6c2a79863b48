"""Configuration file checks: appsettings*.json, .env*, compose files, Helm values.

``appsettings*.json`` is read as .NET reads it: a UTF-8 BOM, ``//`` and ``/* */``
comments and trailing commas are allowed. Every value is reported by its key path
(``ConnectionStrings.Default``) and line, and secrets only in masked form.
"""

import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from .results import WARN, CheckResult, register
from .secrets import find_secret
from .yaml_lines import MAX_DEPTH, YamlSyntaxError, dotted, walk_scalars

PARSE = register(
    "config.parse",
    "a configuration file that does not parse (JSON with comments, YAML)",
    "fix the syntax at the reported line",
)
LITERAL_SECRET = register(
    "config.literal-secret",
    "a literal password, token, private key or connection string with a password "
    "in a configuration file, found by key name and by content",
    "move the value to a secret store or an environment variable and reference it "
    "(${VAR}, a Kubernetes Secret, user-secrets); rotate the leaked value",
)
PRODUCTION_LOCALHOST = register(
    "config.production-localhost",
    "a production configuration file that points at localhost or 127.0.0.1",
    "set the production host name, or move the value to a development file",
    status=WARN,
)
PRODUCTION_DEBUG = register(
    "config.production-debug",
    "debug settings in a production configuration file: Debug or Trace log levels, "
    "DEBUG=true, ASPNETCORE_ENVIRONMENT=Development",
    "use Information or Warning log levels and turn debug flags off in production",
    status=WARN,
)

LOCALHOST = re.compile(
    r"(?<![\w.-])(localhost|127\.0\.0\.1|\[::1\]|0\.0\.0\.0)(?![\w-])", re.I
)
PRODUCTION_NAME = re.compile(r"(^|[._-])(prod|production|live)([._-]|$)", re.I)


# -- JSON with comments -------------------------------------------------------------


class JsonError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


_JSON_WORDS = {"true": True, "false": False, "null": None}
_JSON_TOKEN = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null")


class _JsonReader:
    """A JSON reader that accepts comments and trailing commas and keeps lines."""

    def __init__(self, text: str) -> None:
        self.text = text[1:] if text.startswith("\ufeff") else text
        self.pos = 0
        self.line = 1
        self.lines: dict[tuple[Any, ...], int] = {}

    def fail(self, message: str) -> JsonError:
        return JsonError(message, self.line)

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\n":
                self.line += 1
                self.pos += 1
            elif char in " \t\r":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("comment /* is not closed")
                self.line += text.count("\n", self.pos, end)
                self.pos = end + 2
            else:
                return

    def parse(self) -> Any:
        self.skip()
        value = self.value(())
        self.skip()
        if self.pos < len(self.text):
            raise self.fail(f"unexpected {self.text[self.pos]!r} after the value")
        return value

    def value(self, path: tuple[Any, ...]) -> Any:
        self.skip()
        if self.pos >= len(self.text):
            raise self.fail("unexpected end of file")
        if len(path) > MAX_DEPTH:
            # Deeper input would exhaust the Python stack in this recursive reader.
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels")
        self.lines[path] = self.line
        char = self.text[self.pos]
        if char == "{":
            return self.object(path)
        if char == "[":
            return self.array(path)
        if char == '"':
            return self.string()
        match = _JSON_TOKEN.match(self.text, self.pos)
        if not match:
            raise self.fail(f"unexpected {char!r}")
        self.pos = match.end()
        token = match.group(0)
        if token in _JSON_WORDS:
            return _JSON_WORDS[token]
        return float(token) if any(char in token for char in ".eE") else int(token)

    def string(self) -> str:
        import json

        start = self.pos
        self.pos += 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            if char == '"':
                self.pos += 1
                try:
                    return json.loads(self.text[start : self.pos])
                except ValueError:
                    raise self.fail("invalid string escape") from None
            if char == "\n":
                raise self.fail("string is not closed on its line")
            self.pos += 1
        raise self.fail("string is not closed")

    def object(self, path: tuple[Any, ...]) -> dict[str, Any]:
        self.pos += 1
        result: dict[str, Any] = {}
        while True:
            self.skip()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return result
            if not self.text.startswith('"', self.pos):
                raise self.fail("expected a quoted key or }")
            key_line = self.line
            key = self.string()
            self.skip()
            if not self.text.startswith(":", self.pos):
                raise self.fail(f"expected : after key {key!r}")
            self.pos += 1
            result[key] = self.value(path + (key,))
            self.lines[path + (key,)] = key_line
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("}", self.pos):
                raise self.fail("expected , or } after a value")

    def array(self, path: tuple[Any, ...]) -> list[Any]:
        self.pos += 1
        result: list[Any] = []
        while True:
            self.skip()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return result
            result.append(self.value(path + (len(result),)))
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("]", self.pos):
                raise self.fail("expected , or ] after a value")


def parse_json_with_comments(text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse JSON that may hold comments, a BOM and trailing commas.

    Returns (value, line of each key path); raises JsonError with the line.
    """
    reader = _JsonReader(text)
    return reader.parse(), reader.lines


# -- .env files ---------------------------------------------------------------------

ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$")


def parse_env_file(text: str) -> list[tuple[str, str, int]]:
    """Return (name, value, line) for each assignment of a dotenv file."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = ENV_LINE.match(line)
        if not match:
            continue
        value = match.group(2).strip()
        if value[:1] in ("'", '"') and value.endswith(value[0]) and len(value) > 1:
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        entries.append((match.group(1), value, number))
    return entries


# -- which files ---------------------------------------------------------------------


def config_kind(path: str, helm_dirs: set[str]) -> str | None:
    """Return appsettings, env, compose or helm for a checked file, else None."""
    pure = PurePosixPath(path)
    name = pure.name
    if re.fullmatch(r"appsettings(\.[\w-]+)*\.json", name, re.I):
        return "appsettings"
    if name == ".env" or name.startswith(".env.") or name.endswith(".env"):
        if name.endswith((".example", ".sample", ".template", ".dist")):
            return None
        return "env"
    if re.fullmatch(r"(docker-)?compose([.-][\w.-]+)?\.ya?ml", name):
        return "compose"
    if (
        re.fullmatch(r"values([.-][\w.-]+)?\.ya?ml", name)
        and str(pure.parent) in helm_dirs
    ):
        return "helm"
    return None


def is_production_file(path: str) -> bool:
    pure = PurePosixPath(path)
    stem_parts = pure.name
    return bool(PRODUCTION_NAME.search(stem_parts)) or any(
        part.lower() in ("prod", "production") for part in pure.parts[:-1]
    )


# -- rules ----------------------------------------------------------------------------


def entries_of(
    scan: Any, path: str, kind: str
) -> tuple[list[tuple[str, Any, int, str]], CheckResult | None]:
    """Return (key path, value, line, last key) of each entry, or a parse error."""
    from .repo_files import too_large_message

    text = scan.text(path)
    entries: list[tuple[str, Any, int, str]] = []
    if path in scan.truncated:
        return [], PARSE.result(too_large_message(path), file=path)
    if kind == "env":
        for name, value, line in parse_env_file(text):
            entries.append((name, value, line, name))
        return entries, None
    if kind == "appsettings":
        try:
            data, lines = scan.cached(
                ("jsonc", path), lambda: parse_json_with_comments(text)
            )
        except JsonError as exc:
            return [], PARSE.result(
                f"invalid JSON: {exc.message}", file=path, line=exc.line
            )
        for key_path, value in walk_scalars(data):
            last = next((str(p) for p in reversed(key_path) if isinstance(p, str)), "")
            entries.append((dotted(key_path), value, lines.get(key_path, 1), last))
        return entries, None
    documents = scan.yaml(path)
    if isinstance(documents, YamlSyntaxError):
        return [], PARSE.result(
            f"invalid YAML: {documents.message}", file=path, line=documents.line
        )
    for doc in documents:
        for key_path, value in walk_scalars(doc.data):
            last = next((str(p) for p in reversed(key_path) if isinstance(p, str)), "")
            line = doc.line(*key_path)
            # compose "environment: [KEY=value]" lists hold the key in the value.
            if (
                isinstance(value, str)
                and isinstance(key_path[-1:][0] if key_path else None, int)
                and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", value)
            ):
                name, _, inner = value.partition("=")
                entries.append((dotted(key_path) + f" ({name})", inner, line, name))
                continue
            entries.append((dotted(key_path), value, line, last))
    return entries, None


DEBUG_VALUES = re.compile(r"^(debug|trace|verbose|development)$", re.I)
DEBUG_KEYS = re.compile(
    r"(^|[._-])(debug|aspnetcore_environment|dotnet_environment|"
    r"environment|flask_debug|django_debug|app_debug|loglevel|"
    r"log_level|default|level)$",
    re.I,
)
TRUE_VALUES = ("true", "1", "yes", "on")


def check_file(
    scan: Any, path: str, kind: str, secret_keys: tuple[str, ...]
) -> Iterator[CheckResult]:
    entries, error = entries_of(scan, path, kind)
    if error is not None:
        yield error
        return
    production = is_production_file(path)
    for key_path, value, line, last in entries:
        found = find_secret(last, value, secret_keys)
        if found is not None:
            yield LITERAL_SECRET.result(
                f"{key_path} holds {found.reason}: {found.masked}", file=path, line=line
            )
            continue
        if not production or value is None:
            continue
        text = str(value)
        if isinstance(value, str) and LOCALHOST.search(text):
            yield PRODUCTION_LOCALHOST.result(
                f"{key_path} points at {LOCALHOST.search(text).group(1)}",
                file=path,
                line=line,
            )
        if DEBUG_KEYS.search(last.lower()) or last.lower() == "debug":
            is_debug_flag = last.lower().endswith("debug") and (
                value is True or text.lower() in TRUE_VALUES
            )
            is_debug_level = (
                isinstance(value, str)
                and DEBUG_VALUES.match(text)
                and not last.lower().endswith("debug")
            )
            if is_debug_flag or is_debug_level:
                yield PRODUCTION_DEBUG.result(
                    f"{key_path} is {text}", file=path, line=line
                )


def config_files(scan: Any) -> list[tuple[str, str]]:
    """Return (path, kind) of every configuration file to check."""
    helm_dirs = {
        str(PurePosixPath(p).parent)
        for p in scan.files
        if PurePosixPath(p).name == "Chart.yaml"
    }
    found = []
    for path in scan.files:
        kind = config_kind(path, helm_dirs)
        if kind is not None:
            found.append((path, kind))
    return found


# -- detect-secrets (optional) --------------------------------------------------------


def detect_secrets_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("detect_secrets") is not None


def detect_secrets_results(
    scan: Any, files: list[tuple[str, str]], reported: set[tuple[str, int]]
) -> Iterator[CheckResult]:
    """Yield the detect-secrets findings in ``files`` not already ``reported``.

    Findings name the plugin's secret type and the key path at that line, never the
    value. High-entropy findings are warnings, since hashes and ids look the same.
    """
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    collection = SecretsCollection(root=str(scan.root))
    with default_settings():
        for path, _ in files:
            collection.scan_file(path)
    for path, kind in files:
        entries, _ = entries_of(scan, path, kind)
        keys_by_line = {line: key_path for key_path, _, line, _ in entries}
        for secret in collection[path]:
            line = secret.line_number
            if (path, line) in reported:
                continue
            reported.add((path, line))
            where = keys_by_line.get(line)
            status = WARN if "High Entropy" in secret.type else None
            yield LITERAL_SECRET.result(
                f"detect-secrets: {secret.type}" + (f" in {where}" if where else ""),
                file=path,
                line=line,
                status=status,
            )
