"""Dotenv files turned into Kubernetes Secrets without exposing a value.

Values are registered with the output masker as soon as they are read, and the
Secret reaches kubectl on stdin; no value appears in argv or in a file.
"""

import base64
import json
import re
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..output import register_secret

_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(value: str, path: str, number: int) -> str:
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = _closing_quote(value)
        if end < 0:
            raise UsageError(f"{path}:{number}: unterminated {quote} quote; close it")
        rest = value[end + 1:].strip()
        if rest and not rest.startswith("#"):
            raise UsageError(f"{path}:{number}: text after the closing {quote} quote; "
                             "quote the whole value or move the text into the quotes")
        inner = value[1:end]
        if quote == '"':
            inner = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1),
                                                            "\\" + m.group(1)), inner)
        return inner
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()


def _closing_quote(value: str) -> int:
    """Return the index of the quote closing ``value``'s opening quote, or -1."""
    quote = value[0]
    end = value.find(quote, 1)
    while quote == '"' and end > 0 and value[end - 1] == "\\":
        end = value.find(quote, end + 1)
    return end


def parse_dotenv(text: str, path: str = "env file") -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines (``export``, quotes and comments allowed).

    A quoted value may span lines (a PEM key, for example). A malformed line
    raises a UsageError naming its line number, never its value.
    """
    values: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number = index + 1
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, separator, value = line.partition("=")
        key = key.strip()
        if not separator or not _KEY.fullmatch(key):
            raise UsageError(f"{path}:{number}: expected KEY=VALUE with a key of "
                             "letters, digits, '-', '_' or '.'")
        value = value.strip()
        if value[:1] in ("'", '"'):
            # Keys contain no '=', so the raw line's first '=' ends the key. Lines
            # join unstripped, which keeps the whitespace inside the quotes.
            value = lines[number - 1].split("=", 1)[1].lstrip()
            while _closing_quote(value) < 0 and index < len(lines):
                value += "\n" + lines[index]
                index += 1
        values[key] = _unquote(value, path, number)
        register_secret(values[key])
    if not values:
        raise UsageError(f"{path} contains no KEY=VALUE lines; add at least one")
    return values


def read_env_file(path: Path) -> dict[str, str]:
    """Read and parse a dotenv file; raise UsageError when it is missing."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"env file {path} not found; pass an existing file to "
                         "--from-env-file") from None
    return parse_dotenv(text, str(path))


def secret_name_for(path: Path) -> str:
    """Return a Secret name derived from a file name: ``web.env`` gives ``web``."""
    stem = path.name.lstrip(".")
    stem = stem[: -len(".env")] if stem.endswith(".env") else stem
    name = re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-")
    return name or "env"


def secret_object(name: str, namespace: str, values: dict[str, str]) -> dict[str, Any]:
    """Return the Secret manifest holding ``values`` base64-encoded."""
    if not _NAME.fullmatch(name) or len(name) > 253:
        raise UsageError(f"invalid Secret name {name!r}; use lowercase letters, "
                         "digits, '-' and '.'")
    encoded = {key: base64.b64encode(value.encode("utf-8")).decode("ascii")
               for key, value in values.items()}
    for value in encoded.values():
        register_secret(value)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "tpo-tasks"},
        },
        "data": encoded,
    }


def secret_json(name: str, namespace: str, values: dict[str, str]) -> str:
    """Return the Secret manifest as JSON text for kubectl's stdin."""
    return json.dumps(secret_object(name, namespace, values))
