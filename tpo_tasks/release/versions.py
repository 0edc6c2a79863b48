"""Version strings under PEP 440 and SemVer 2.0.0, their order, and the next version.

A repository uses one scheme (``tpo.release.scheme``). :func:`parse` reads a version
under that scheme and falls back to the other one, so a SemVer tag such as
``v0.7.1-release`` in a PEP 440 repository still sorts correctly. :func:`next_version`
applies the bump rules and returns the new version with a sentence naming the rule.

New pre-releases start at number 0 (``1.3.0rc0``, ``1.3.0-rc.0``) and count up.
"""

import re
from dataclasses import dataclass, field

from ..errors import UsageError

PRE_KINDS = ("alpha", "beta", "rc")
PARTS = ("major", "minor", "patch")

_PEP440_PRE = {"alpha": "a", "beta": "b", "rc": "rc"}
_PRE_ALIASES = {
    "a": "alpha", "alpha": "alpha", "b": "beta", "beta": "beta",
    "c": "rc", "rc": "rc", "pre": "rc", "preview": "rc",
}
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_DEV_ONLY = float("inf")


@dataclass(frozen=True)
class Version:
    """A parsed version: ``text`` is the exact string it came from."""

    text: str
    scheme: str
    release: tuple[int, int, int]
    pre: tuple[str | int, ...] = ()
    post: int | None = None
    dev: int | None = None
    build: str | None = field(default=None, compare=False)

    @property
    def is_prerelease(self) -> bool:
        return bool(self.pre) or self.dev is not None

    @property
    def pre_kind(self) -> str | None:
        """``alpha``, ``beta`` or ``rc`` for a standard pre-release, else None."""
        if len(self.pre) == 2 and self.pre[0] in PRE_KINDS and isinstance(
            self.pre[1], int
        ):
            return str(self.pre[0])
        return None

    @property
    def pre_number(self) -> int | None:
        return int(self.pre[1]) if self.pre_kind else None

    def sort_key(self) -> tuple:
        """Return a key ordering versions as PEP 440 and SemVer precedence do."""
        if self.pre:
            phase = 1
        elif self.dev is not None and self.post is None:
            phase = 0
        else:
            phase = 2
        pre_key = tuple((0, part, "") if isinstance(part, int) else (1, 0, part)
                        for part in self.pre)
        post = -1 if self.post is None else self.post
        dev = _DEV_ONLY if self.dev is None else self.dev
        return (self.release, phase, pre_key, post, dev)

    def __lt__(self, other: "Version") -> bool:
        return self.sort_key() < other.sort_key()

    def __str__(self) -> str:
        return self.text


def _pre_identifiers(text: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for item in text.split("."):
        parts.append(int(item) if item.isdigit() else item)
    if len(parts) == 1 and isinstance(parts[0], str):
        # SemVer "rc1" reads as kind rc, number 1, like PEP 440 does.
        match = re.fullmatch(r"([a-zA-Z]+)(\d+)", parts[0])
        if match and match.group(1).lower() in _PRE_ALIASES:
            parts = [match.group(1), int(match.group(2))]
    if parts and isinstance(parts[0], str) and parts[0].lower() in _PRE_ALIASES:
        parts[0] = _PRE_ALIASES[parts[0].lower()]
    return tuple(parts)


def parse_semver(text: str) -> Version | None:
    """Return ``text`` as a SemVer 2.0.0 version, or None when it is not one."""
    match = _SEMVER.match(text)
    if not match:
        return None
    major, minor, patch, pre, build = match.groups()
    return Version(
        text=text, scheme="semver", release=(int(major), int(minor), int(patch)),
        pre=_pre_identifiers(pre) if pre else (), build=build,
    )


def parse_pep440(text: str) -> Version | None:
    """Return ``text`` as a PEP 440 version with at most three release numbers."""
    from packaging.version import InvalidVersion
    from packaging.version import Version as Pep440Version

    if not re.match(r"^v?\d", text, re.I):
        return None
    try:
        parsed = Pep440Version(text)
    except InvalidVersion:
        return None
    if parsed.epoch or len(parsed.release) > 3 or parsed.local:
        return None
    release = tuple(parsed.release) + (0,) * (3 - len(parsed.release))
    pre: tuple[str | int, ...] = ()
    if parsed.pre:
        pre = (_PRE_ALIASES[parsed.pre[0]], parsed.pre[1])
    return Version(text=text, scheme="pep440", release=release,  # type: ignore[arg-type]
                   pre=pre, post=parsed.post, dev=parsed.dev)


_PLAIN = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def parse(text: str, scheme: str) -> Version | None:
    """Return ``text`` parsed under ``scheme``, else the other scheme, else None."""
    plain = _PLAIN.match(text)
    if plain is not None:
        # X.Y.Z reads the same under both schemes; skip the slower general parsers.
        major, minor, patch = plain.groups()
        return Version(text=text, scheme=scheme,
                       release=(int(major), int(minor), int(patch)))
    first, second = (parse_pep440, parse_semver) if scheme == "pep440" else (
        parse_semver, parse_pep440)
    return first(text) or second(text)


def is_valid(text: str, scheme: str) -> bool:
    """Return whether ``text`` is a valid version string in ``scheme`` itself."""
    if scheme == "semver":
        return parse_semver(text) is not None
    from packaging.version import InvalidVersion
    from packaging.version import Version as Pep440Version

    try:
        Pep440Version(text)
    except InvalidVersion:
        return False
    return True


def render(release: tuple[int, int, int], pre_kind: str | None, pre_number: int | None,
           scheme: str) -> str:
    """Return the version string for ``release`` plus an optional pre-release."""
    text = ".".join(str(number) for number in release)
    if pre_kind is None:
        return text
    if scheme == "pep440":
        return f"{text}{_PEP440_PRE[pre_kind]}{pre_number}"
    return f"{text}-{pre_kind}.{pre_number}"


def _increment(release: tuple[int, int, int], part: str) -> tuple[int, int, int]:
    major, minor, patch = release
    if part == "major":
        return (major + 1, 0, 0)
    if part == "minor":
        return (major, minor + 1, 0)
    return (major, minor, patch + 1)


def _covers(release: tuple[int, int, int], part: str) -> bool:
    """Return whether a pre-release of ``release`` already contains a ``part`` bump."""
    _, minor, patch = release
    if part == "major":
        return minor == 0 and patch == 0
    if part == "minor":
        return patch == 0
    return True


@dataclass(frozen=True)
class Bump:
    """A computed next version and the rule that produced it."""

    version: str | None
    rule: str
    part: str | None = None


def infer_part(
    current: Version, breaking: bool, types: set[str]
) -> tuple[str | None, str]:
    """Return the part that commits ask for under the 0.x rule, and the rule applied.

    A breaking change asks for major, or minor while the version is 0.x; ``feat``
    asks for minor; ``fix``, ``perf`` and a revert of a released change ask for patch.
    """
    if breaking and current.release[0] == 0:
        return "minor", "breaking change while the version is 0.x: minor bump " \
                        "(only --major gives 1.0.0)"
    if breaking:
        return "major", "breaking change: major bump"
    if "feat" in types:
        return "minor", "feat: minor bump"
    for kind in ("fix", "perf", "revert"):
        if kind in types:
            return "patch", f"{kind}: patch bump"
    return None, "no feat, fix, perf or breaking change since the last release"


def next_version(
    current: Version,
    scheme: str,
    *,
    part: str | None = None,
    pre: str | None = None,
    finalize: bool = False,
    breaking: bool = False,
    types: set[str] | frozenset[str] = frozenset(),
) -> Bump:
    """Return the next version after ``current``.

    ``part`` (major, minor, patch) forces the bump; without it the part comes from
    the commits (``breaking`` and the Conventional Commit ``types`` seen). ``pre``
    (alpha, beta, rc) makes a pre-release and ``finalize`` turns a pre-release into
    its final release. Returns ``Bump(None, reason)`` when nothing is releasable.
    Raises UsageError for flag combinations that have no meaning.
    """
    if part is not None and part not in PARTS:
        raise UsageError(f"invalid part {part!r}; use --major, --minor or --patch")
    if pre is not None and pre not in PRE_KINDS:
        raise UsageError(f"invalid --pre {pre!r}; use alpha, beta or rc")
    if finalize and (pre or part):
        raise UsageError("--finalize cannot be combined with --pre or a part flag")

    if finalize:
        if not current.is_prerelease:
            raise UsageError(f"--finalize needs a pre-release, but {current} is final; "
                             "drop --finalize")
        text = render(current.release, None, None, scheme)
        return Bump(text, f"--finalize: pre-release {current} becomes {text}")

    if part is not None:
        rule = f"--{part} given"
    else:
        part, rule = infer_part(current, breaking, set(types))
        if part is None:
            return Bump(None, rule)

    if current.is_prerelease and _covers(current.release, part):
        base = current.release
        rule += f" (already contained in pre-release {current})"
    else:
        base = _increment(current.release, part)

    if pre is None:
        return Bump(render(base, None, None, scheme), rule, part)

    number = 0
    if base == current.release and current.pre_kind is not None:
        current_rank = PRE_KINDS.index(current.pre_kind)
        wanted_rank = PRE_KINDS.index(pre)
        if wanted_rank < current_rank:
            raise UsageError(
                f"--pre {pre} would go back from {current}; use --pre "
                f"{current.pre_kind}, a later kind, or --finalize"
            )
        if wanted_rank == current_rank:
            number = (current.pre_number or 0) + 1
    text = render(base, pre, number, scheme)
    return Bump(text, f"{rule}, pre-release {pre}", part)
