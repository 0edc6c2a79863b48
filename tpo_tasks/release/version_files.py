"""Read and rewrite the version inside version files, changing only the value's span.

Every edit finds the exact character span of the version value, replaces those
characters, and re-parses the result to check that the value at the key is the new
version and that nothing else in the parsed document changed. Every other byte
(comments, key order, quoting, line endings, a UTF-8 byte order mark) stays as it was.

Kinds, chosen from the file name unless ``key`` or ``pattern`` says otherwise:

- ``*.toml``: dotted ``key`` (``pyproject.toml``: ``project.version``, else
  ``tool.poetry.version``); PEP 440 required for ``pyproject.toml``.
- ``*.json``: dotted ``key`` (default ``version``); ``package.json`` needs SemVer.
- ``*.csproj``, ``*.props``, ``*.targets``, ``*.xml``: the one ``<Version>`` element
  (or the element named by ``key``) outside comments, rejected when there are two;
  SemVer required (NuGet).
- ``*.yaml``, ``*.yml``: a top-level ``key`` (default ``version``); Helm's
  ``Chart.yaml`` ``version`` needs SemVer, ``appVersion`` takes any string.
- a ``pattern`` with one group: the group's span in the first match.
- anything else, such as ``VERSION``: the whole file without surrounding whitespace.

The checks namespace relies on :func:`read_versions`.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..config import ReleaseSettings, VersionFile
from ..errors import ConfigError, RefusedError, TaskFailed
from . import versions

BOM = b"\xef\xbb\xbf"
_XML_SUFFIXES = (".csproj", ".props", ".targets", ".xml", ".vbproj", ".fsproj")


class VersionFileError(TaskFailed):
    """A version file is missing, unreadable, or has no version at the key."""


@dataclass(frozen=True)
class Location:
    """The span of the version in a file's decoded text: ``text[start:end]``."""

    start: int
    end: int
    value: str


@dataclass(frozen=True)
class FileVersion:
    """The version read from one version file."""

    spec: VersionFile
    label: str  # "pyproject.toml" or "Chart.yaml (appVersion)"
    value: str
    kind: str
    required_scheme: str | None  # the scheme the file's format demands, if any


# -- decoding -------------------------------------------------------------------


def _decode(data: bytes, path: str) -> tuple[bool, str]:
    has_bom = data.startswith(BOM)
    try:
        return has_bom, data[len(BOM) if has_bom else 0:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VersionFileError(f"{path} is not UTF-8 ({exc.reason} at byte "
                               f"{exc.start}); save it as UTF-8") from None


def _encode(has_bom: bool, text: str) -> bytes:
    return (BOM if has_bom else b"") + text.encode("utf-8")


# -- kinds ----------------------------------------------------------------------


def kind_of(spec: VersionFile) -> str:
    """Return the kind of edit for ``spec``: toml, json, xml, yaml, pattern or plain."""
    if spec.pattern:
        return "pattern"
    name = Path(spec.path).name.lower()
    if name.endswith(".toml"):
        return "toml"
    if name.endswith(".json"):
        return "json"
    if name.endswith(_XML_SUFFIXES):
        return "xml"
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    return "plain"


def default_key(spec: VersionFile, kind: str) -> str | None:
    if spec.key:
        return spec.key
    return {"json": "version", "xml": "Version", "yaml": "version",
            "toml": "project.version"}.get(kind)


def required_scheme(spec: VersionFile, kind: str, key: str | None) -> str | None:
    """Return the scheme whose strings the file's format demands, or None for any."""
    name = Path(spec.path).name.lower()
    if name == "pyproject.toml" and key in ("project.version", "tool.poetry.version"):
        return "pep440"
    if name == "package.json" and key == "version":
        return "semver"
    if kind == "xml":
        return "semver"
    if name == "chart.yaml" and key == "version":
        return "semver"
    return None


def describe(spec: VersionFile, key: str | None = None) -> str:
    """Return a label naming the file and, when it matters, the key."""
    kind = kind_of(spec)
    key = key or default_key(spec, kind)
    if kind == "plain":
        return spec.path
    if kind == "pattern":
        return f"{spec.path} (pattern)"
    if spec.key is None and kind in ("toml", "json", "xml"):
        return spec.path
    return f"{spec.path} ({key})"


# -- TOML -----------------------------------------------------------------------

_TOML_TABLE = re.compile(r"^\s*\[(?!\[)\s*([^\]]+?)\s*\]\s*(?:#.*)?$")
_TOML_ARRAY_TABLE = re.compile(r"^\s*\[\[")


def _toml_header_name(header: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in header.split("."))


def _locate_toml(text: str, key: str) -> Location | None:
    table, _, leaf = key.rpartition(".")
    current = ""
    offset = 0
    in_multiline: str | None = None
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            offset += len(line)
            continue
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                in_multiline = quote
        header = _TOML_TABLE.match(line)
        if header and not in_multiline:
            current = _toml_header_name(header.group(1))
        elif _TOML_ARRAY_TABLE.match(line):
            current = "\0array"
        elif current == table and stripped and not stripped.startswith("#"):
            match = re.match(
                r"""^\s*(?:"%s"|'%s'|%s)\s*=\s*(?P<q>"|')(?P<value>[^"'\n]*)(?P=q)"""
                % ((re.escape(leaf),) * 3), line,
            )
            if match:
                return Location(offset + match.start("value"),
                                offset + match.end("value"), match.group("value"))
        offset += len(line)
    return None


def _toml_get(data: dict, key: str) -> object:
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _check_toml(old: str, new: str, key: str, value: str, path: str) -> None:
    import tomllib

    try:
        before = tomllib.loads(old)
    except tomllib.TOMLDecodeError as exc:
        raise VersionFileError(f"{path} is not valid TOML ({exc}); fix the file"
                               ) from None
    try:
        after = tomllib.loads(new)
    except tomllib.TOMLDecodeError:
        raise VersionFileError(f"editing {path} would make it invalid TOML; "
                               "edit the version by hand") from None
    _set_dotted(before, key, value)
    if before != after:
        raise VersionFileError(f"editing {path} would change more than {key}; "
                               "edit the version by hand")


def _set_dotted(data: dict, key: str, value: object) -> None:
    *parents, leaf = key.split(".")
    for part in parents:
        data = data[part]
    data[leaf] = value


# -- JSON -----------------------------------------------------------------------

def _locate_json(text: str, key: str) -> Location | None:
    """Return the span of the string value at dotted ``key``, or None."""
    wanted = key.split(".")
    decoder = json.JSONDecoder()
    whitespace = re.compile(r"\s*")

    def skip(position: int) -> int:
        return whitespace.match(text, position).end()  # type: ignore[union-attr]

    def walk(position: int, path: list[str | None]) -> tuple[int, Location | None]:
        position = skip(position)
        opener = text[position]
        if opener not in "{[":
            return decoder.raw_decode(text, position)[1], None
        closer = "}" if opener == "{" else "]"
        found = None
        position = skip(position + 1)
        if text[position] == closer:
            return position + 1, None
        while True:
            child_path = path + [None]
            if opener == "{":
                name, position = decoder.raw_decode(text, position)
                position = skip(position)
                if text[position] != ":":
                    raise ValueError("expected ':'")
                position = skip(position + 1)
                child_path = path + [name]
            if child_path == wanted and text[position] == '"' and found is None:
                value, end = decoder.raw_decode(text, position)
                found = Location(position + 1, end - 1, value)
                position = end
            else:
                position, inner = walk(position, child_path)
                found = found or inner
            position = skip(position)
            if text[position] == ",":
                position = skip(position + 1)
                continue
            if text[position] == closer:
                return position + 1, found
            raise ValueError(f"unexpected {text[position]!r}")

    try:
        return walk(0, [])[1]
    except (ValueError, IndexError):
        return None


def _check_json(old: str, new: str, key: str, value: str, path: str) -> None:
    try:
        before = json.loads(old)
        after = json.loads(new)
    except json.JSONDecodeError as exc:
        raise VersionFileError(
            f"{path} is not valid JSON ({exc.msg}, line {exc.lineno}); fix the file"
        ) from None
    _set_dotted(before, key, value)
    if before != after:
        raise VersionFileError(f"editing {path} would change more than {key}; "
                               "edit the version by hand")


# -- XML (MSBuild) ----------------------------------------------------------------


def _xml_elements(text: str, element: str) -> list[Location]:
    comments = [(match.start(), match.end())
                for match in re.finditer(r"<!--.*?-->", text, re.S)]
    name = re.escape(element)
    pattern = re.compile(rf"<{name}>\s*(?P<value>[^<\s]*)\s*</{name}>")
    return [Location(match.start("value"), match.end("value"), match.group("value"))
            for match in pattern.finditer(text)
            if not any(start <= match.start() < end for start, end in comments)]


def _locate_xml(text: str, element: str) -> Location | None:
    found = _xml_elements(text, element)
    return found[0] if found else None


def _locate_single_xml(text: str, element: str, path: str) -> Location | None:
    """Return the only ``<element>`` outside comments; raise when there are more.

    MSBuild lets the last of several definitions win (unless a Condition
    excludes it), so editing only the first one could leave the build at the
    old version.
    """
    found = _xml_elements(text, element)
    if len(found) > 1:
        lines = " and ".join(str(text.count("\n", 0, item.start) + 1)
                             for item in found)
        raise VersionFileError(
            f"{path} has {len(found)} <{element}> elements, at lines {lines}; keep "
            "one, or select one with a pattern in tpo.release.version_files")
    return found[0] if found else None


def _check_xml(old: str, new: str, element: str, value: str, path: str) -> None:
    import xml.etree.ElementTree as ElementTree

    try:
        ElementTree.fromstring(new.encode("utf-8"))
    except ElementTree.ParseError as exc:
        raise VersionFileError(f"{path} is not well-formed XML ({exc}); fix the file"
                               ) from None
    located = _locate_xml(new, element)
    if located is None or located.value != value:
        raise VersionFileError(f"editing {path} did not set <{element}>; "
                               "edit the version by hand")


# -- YAML -----------------------------------------------------------------------


def _locate_yaml(text: str, key: str) -> Location | None:
    pattern = re.compile(
        rf"""^{re.escape(key)}[ \t]*:[ \t]*(?:(?P<q>["'])(?P<quoted>[^"'\n]*)(?P=q)"""
        r"""|(?P<plain>[^\s#"'][^\s#]*))[ \t]*(?:#.*)?\r?$""",
        re.M,
    )
    match = pattern.search(text)
    if match is None:
        return None
    group = "quoted" if match.group("q") else "plain"
    return Location(match.start(group), match.end(group), match.group(group))


def _check_yaml(old: str, new: str, key: str, value: str, path: str) -> None:
    import yaml

    try:
        before = yaml.safe_load(old)
        after = yaml.safe_load(new)
    except yaml.YAMLError as exc:
        raise VersionFileError(f"{path} is not valid YAML ({exc}); fix the file"
                               ) from None
    if not isinstance(before, dict) or not isinstance(after, dict):
        raise VersionFileError(f"{path} is not a YAML mapping; fix the file")
    if str(after.get(key)) != value:
        raise VersionFileError(f"{path}: {key} would read back as "
                               f"{after.get(key)!r}, not {value!r}; quote the value")
    before[key] = after[key]
    if before != after:
        raise VersionFileError(f"editing {path} would change more than {key}; "
                               "edit the version by hand")


# -- plain and pattern ------------------------------------------------------------


def _locate_plain(text: str) -> Location | None:
    match = re.search(r"\S+", text)
    if match is None or text[match.end():].strip():
        return None
    return Location(match.start(), match.end(), match.group())


def _locate_pattern(text: str, pattern: str) -> Location | None:
    match = re.compile(pattern, re.M).search(text)
    if match is None or match.start(1) < 0:
        return None
    return Location(match.start(1), match.end(1), match.group(1))


# -- the interface ---------------------------------------------------------------


def _locate(
    spec: VersionFile, kind: str, key: str | None, text: str
) -> Location | None:
    if kind == "toml":
        assert key is not None
        return _locate_toml(text, key)
    if kind == "json":
        assert key is not None
        return _locate_json(text, key)
    if kind == "xml":
        assert key is not None
        return _locate_single_xml(text, key, spec.path)
    if kind == "yaml":
        assert key is not None
        return _locate_yaml(text, key)
    if kind == "pattern":
        assert spec.pattern is not None
        return _locate_pattern(text, spec.pattern)
    return _locate_plain(text)


def _read(root: Path, spec: VersionFile) -> tuple[bool, str]:
    path = root / spec.path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise VersionFileError(f"version file {spec.path} not found; create it or "
                               "remove it from tpo.release.version_files") from None
    return _decode(data, spec.path)


def _resolve_key(spec: VersionFile, kind: str, text: str) -> str | None:
    key = default_key(spec, kind)
    if (kind == "toml" and spec.key is None and Path(spec.path).name == "pyproject.toml"
            and _locate_toml(text, "project.version") is None
            and _locate_toml(text, "tool.poetry.version") is not None):
        return "tool.poetry.version"
    return key


def read_version(root: str | Path, spec: VersionFile) -> FileVersion:
    """Return the version in one file; raise VersionFileError if there is none."""
    root = Path(root)
    _, text = _read(root, spec)
    kind = kind_of(spec)
    key = _resolve_key(spec, kind, text)
    location = _locate(spec, kind, key, text)
    if location is None:
        where = f"pattern {spec.pattern!r}" if kind == "pattern" else (
            f"key {key}" if key else "a single version string")
        raise VersionFileError(f"{spec.path}: no version found at {where}; add it or "
                               "fix tpo.release.version_files")
    return FileVersion(spec=spec, label=describe(spec, key), value=location.value,
                       kind=kind, required_scheme=required_scheme(spec, kind, key))


def _pyproject_has_static_version(root: Path) -> bool:
    path = root / "pyproject.toml"
    if not path.is_file():
        return False
    _, text = _decode(path.read_bytes(), "pyproject.toml")
    if (_locate_toml(text, "project.version") is not None
            or _locate_toml(text, "tool.poetry.version") is not None):
        return True
    # A static version the line scanner cannot edit (an inline table, a dotted
    # key) still makes pyproject.toml a version file, so that reading it fails
    # loudly instead of the release leaving it at the old version.
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return (isinstance(_toml_get(data, "project.version"), str)
            or isinstance(_toml_get(data, "tool.poetry.version"), str))


def check_inside(root: Path, settings: ReleaseSettings) -> None:
    """Raise ConfigError when a version file or the changelog lies outside ``root``.

    A release commits these files, so editing one outside the repository (an
    absolute path, ``..``, a symlinked folder) would change a file git cannot record.
    """
    base = root.resolve()
    named = [("tpo.release.version_files", spec.path)
             for spec in settings.version_files]
    named.append(("tpo.release.changelog", settings.changelog))
    for key, path in named:
        if not (base / path).resolve().is_relative_to(base):
            raise ConfigError(f"invalid {key} path {path!r}: it is outside the "
                              f"repository {base}; use a path inside it, relative "
                              "to the repository root")


def version_file_specs(
    root: str | Path, settings: ReleaseSettings
) -> list[VersionFile]:
    """Return the version files: ``pyproject.toml`` when it has a static version,
    then each of ``tpo.release.version_files`` (duplicates dropped)."""
    root = Path(root)
    check_inside(root, settings)
    specs: list[VersionFile] = []
    configured = list(settings.version_files)
    if _pyproject_has_static_version(root) and not any(
        Path(spec.path) == Path("pyproject.toml") for spec in configured
    ):
        specs.append(VersionFile(path="pyproject.toml"))
    for spec in configured:
        if spec not in specs:
            specs.append(spec)
    return specs


def default_scheme(root: str | Path, settings: ReleaseSettings) -> str:
    """Return ``tpo.release.scheme``, else pep440 when pyproject.toml is a version file,
    else semver."""
    if settings.scheme:
        return settings.scheme
    specs = version_file_specs(root, settings)
    if any(Path(spec.path) == Path("pyproject.toml") for spec in specs):
        return "pep440"
    return "semver"


def read_all(root: str | Path, settings: ReleaseSettings) -> list[FileVersion]:
    """Return a FileVersion for every version file, in configuration order."""
    return [read_version(root, spec) for spec in version_file_specs(root, settings)]


def read_versions(root: str | Path, settings: ReleaseSettings) -> list[tuple[str, str]]:
    """Return ``[(label, version), ...]`` for every version file.

    ``label`` is the path relative to ``root``, with the key in brackets when the
    file holds more than one version (``Chart.yaml (appVersion)``). Raises
    VersionFileError (exit 1) when a file is missing or has no version.
    """
    return [(item.label, item.value) for item in read_all(root, settings)]


def check_agree(found: list[FileVersion]) -> str | None:
    """Return the common version (None without files); refuse when they disagree."""
    values = {item.value for item in found}
    if len(values) > 1:
        listing = ", ".join(f"{item.label} = {item.value}" for item in found)
        raise RefusedError(f"version files disagree: {listing}; set them all to the "
                           "same version")
    return values.pop() if values else None


def check_representable(found: list[FileVersion], new_version: str) -> None:
    """Refuse a version string that a file's format cannot hold, naming the file."""
    for item in found:
        scheme = item.required_scheme
        if scheme is not None and not versions.is_valid(new_version, scheme):
            format_name = "SemVer" if scheme == "semver" else "PEP 440"
            raise RefusedError(
                f"{item.label} needs a {format_name} version but {new_version} is not "
                f"one; set tpo.release.scheme to {scheme} or drop the file"
            )


def edit_version(root: str | Path, spec: VersionFile, new_version: str
                 ) -> tuple[bytes, bytes]:
    """Return ``(old_bytes, new_bytes)`` of ``spec`` with the version set to
    ``new_version``; nothing is written. Raises VersionFileError if the edit
    would change anything but the value."""
    old_bytes = (Path(root) / spec.path).read_bytes()
    return old_bytes, edit_bytes(spec, old_bytes, new_version)


def edit_bytes(spec: VersionFile, old_bytes: bytes, new_version: str) -> bytes:
    """Return ``old_bytes`` (the content of ``spec``) with the version replaced."""
    has_bom, text = _decode(old_bytes, spec.path)
    kind = kind_of(spec)
    key = _resolve_key(spec, kind, text)
    location = _locate(spec, kind, key, text)
    if location is None:
        raise VersionFileError(f"{spec.path}: no version found; fix "
                               "tpo.release.version_files")
    new_text = text[:location.start] + new_version + text[location.end:]
    if kind == "toml":
        _check_toml(text, new_text, str(key), new_version, spec.path)
    elif kind == "json":
        _check_json(text, new_text, str(key), new_version, spec.path)
    elif kind == "xml":
        _check_xml(text, new_text, str(key), new_version, spec.path)
    elif kind == "yaml":
        _check_yaml(text, new_text, str(key), new_version, spec.path)
    else:
        again = _locate(spec, kind, key, new_text)
        if again is None or again.value != new_version:
            raise VersionFileError(f"editing {spec.path} did not set the version; "
                                   "check the pattern")
    return _encode(has_bom, new_text)
