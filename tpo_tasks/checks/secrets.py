"""Recognize secret values by key name and by content, and mask them for reports.

Shared by the Dockerfile, Kubernetes and configuration checks. Nothing here returns a
secret: findings carry :func:`mask_value` output only.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

# Key names that hold a secret. Matched against the last part of a key path, with
# separators ignored, so DB_PASSWORD, dbPassword and db-password all match.
SECRET_KEY_PATTERNS = (
    r"passw(or)?d",
    r"passwd",
    r"pwd$",
    r"secret",
    r"token",
    r"apikey",
    r"accesskey",
    r"privatekey",
    r"clientsecret",
    r"credential",
    r"sasl",
    r"signingkey",
    r"encryptionkey",
    r"masterkey",
)

# Key names whose numeric value is a secret: an all-digit password or token.
NUMERIC_SECRET_KEY = re.compile(r"(passw(or)?d|passwd|pwd|secret|token)$", re.I)

# Key names that look secret-like but name a reference, a flag or a file, not a value.
NOT_SECRET_KEY = re.compile(
    r"(file|path|ref|name|names|keyref|enabled|required|length|expir\w*|ttl|"
    r"lifetime|timeout|type|header|policy|provider|endpoint|url|uri|issuer|audience|"
    r"count|size|env|field|mount|version|id)$",
    re.I,
)

# Values that point elsewhere instead of holding the secret.
PLACEHOLDER = re.compile(
    r"""^(
        \$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|   # ${VAR}, $(cmd), $VAR
        \{\{.*\}\}|\#\{.*\}\#?|__[A-Za-z0-9_]+__|%[A-Za-z_]+%|  # templates, tokens
        <[^>]*>|\*+|x+|X+|\.\.\.|-|none|null|changeme-in-secret-store|
        (secret|vault|env|ssm|arn|azurekeyvault|keyvault|sm)://.*|
        @Microsoft\.KeyVault\(.*\)
    )$""",
    re.X | re.I,
)

CONTENT_PATTERNS = (
    (
        "a private key",
        re.compile(
            r"-----BEGIN ((RSA|EC|DSA|OPENSSH|PGP|ENCRYPTED) )?"
            r"PRIVATE KEY( BLOCK)?-----"
        ),
    ),
    ("an AWS access key", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    (
        "a GitHub token",
        re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,})"),
    ),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a Stripe secret key", re.compile(r"\b[sr]k_live_[0-9A-Za-z]{16,}")),
    (
        "a JSON web token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
)

# Password=...; in ADO.NET, JDBC and libpq key=value connection strings, and
# Pwd={...} in ODBC ones, where a brace-quoted value may hold ; and }} stands for }.
CONNECTION_PASSWORD = re.compile(
    r"(?P<key>(?:^|[;\s])\s*(?:password|pwd|passwd)\s*=\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|\{(?:[^}]|\}\})*\}|[^;]*)",
    re.I,
)
# scheme://user:password@host, where the password ends at the last @ before the
# host, since people paste passwords holding @ without percent-encoding them.
URL_PASSWORD = re.compile(
    r"(?P<key>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<value>[^\s/]+)"
    r"(?=@[^@\s/]*(?:[/?#\s]|$))",
    re.I,
)


# Values of secret-named keys that are switches, not secrets (ENABLE_TOKEN=true).
FLAG_WORDS = {
    "true",
    "false",
    "yes",
    "no",
    "on",
    "off",
    "none",
    "null",
    "enabled",
    "disabled",
    "required",
    "optional",
}


@dataclass(frozen=True)
class SecretMatch:
    """Why a value is a secret, and the value masked for display."""

    reason: str
    masked: str


@lru_cache(maxsize=32)
def _key_regex(extra: tuple[str, ...]) -> re.Pattern[str]:
    patterns = list(SECRET_KEY_PATTERNS) + [
        re.escape(item).replace(r"\*", ".*") if not _is_regex(item) else item
        for item in extra
    ]
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.I)


def validate_secret_keys(extra: Iterable[str]) -> None:
    """Raise ConfigError for the first secret_keys entry that does not compile."""
    from ..errors import ConfigError

    for item in extra:
        if not _is_regex(item):
            continue
        try:
            re.compile(item)
        except re.error as exc:
            raise ConfigError(
                f"invalid tpo.checks.secret_keys entry {item!r}: {exc}; use a "
                "regular expression Python accepts, or a name with * wildcards"
            ) from None


def _is_regex(text: str) -> bool:
    return any(char in text for char in "^$[]()|+?\\")


def is_secret_key(name: str, extra: Iterable[str] = ()) -> bool:
    """Return whether key ``name`` names a secret (built-in patterns plus ``extra``)."""
    compact = re.sub(r"[-_.\s]", "", str(name))
    if NOT_SECRET_KEY.search(str(name)) or NOT_SECRET_KEY.search(compact):
        return False
    return bool(_key_regex(tuple(extra)).search(compact))


def is_placeholder(value: str) -> bool:
    """Return whether ``value`` is empty or refers to a secret kept elsewhere."""
    text = value.strip().strip("\"'")
    return not text or bool(PLACEHOLDER.match(text))


def mask_value(value: str) -> str:
    """Return a display form of a secret: its length only, never a character of it."""
    return f"*** ({len(value)} characters)"


def _mask_parts(value: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: m.group("key") + "***", value)


def find_secret(
    key: str | None, value: object, extra: Iterable[str] = ()
) -> SecretMatch | None:
    """Return why ``value`` stored under ``key`` is a literal secret, or None.

    A value is a secret when it embeds a password (a connection string or URL), when
    its content has a known secret format, or when its key names a secret and the
    value is a literal rather than a reference such as ``${VAR}``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads POSTGRES_PASSWORD: 123456 as a number. Only a key that ends
        # with a secret word counts, so TokenLifetimeSeconds: 3600 stays a setting.
        compact = re.sub(r"[-_.\s]", "", str(key or ""))
        if len(str(value)) >= 4 and NUMERIC_SECRET_KEY.search(compact):
            return SecretMatch("a literal value", mask_value(str(value)))
        return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    for match in CONNECTION_PASSWORD.finditer(text):
        if not is_placeholder(match.group("value")):
            return SecretMatch(
                "a connection string with a password",
                _mask_parts(text, CONNECTION_PASSWORD),
            )
    for match in URL_PASSWORD.finditer(text):
        if not is_placeholder(match.group("value")):
            return SecretMatch("a URL with a password", _mask_parts(text, URL_PASSWORD))
    for reason, pattern in CONTENT_PATTERNS:
        if pattern.search(text):
            return SecretMatch(f"{reason}", mask_value(text))
    if (
        key is not None
        and is_secret_key(key, extra)
        and not is_placeholder(text)
        and len(text) >= 4
        and text.lower() not in FLAG_WORDS
    ):
        return SecretMatch("a literal value", mask_value(text))
    return None
