"""Generated regions of ``ISSUE.md``: replace them on re-sync, keep everything else.

A region is the text between two whole lines::

    <!-- tpo:begin NAME -->
    ...generated text...
    <!-- tpo:end NAME -->

A re-sync replaces the inside of each region with the newly rendered one and
leaves every line outside the regions as the person left it. Upstream text (the
issue body, titles, labels) could contain a line that looks like a marker, so
:func:`escape_markers` rewrites such lines before rendering, turning their ``<``
into ``&lt;`` so that Markdown still shows the same characters.
"""

import re

MARKER = re.compile(r"^<!-- tpo:(begin|end) ([a-z][a-z0-9-]*) -->[ \t]*$")
# split_regions splits lines with str.splitlines, which also ends a line at
# "\r", "\f", "\x85", "\u2028" and the other characters below.
_MARKER_LIKE = re.compile(
    r"(?:^|(?<=[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]))([ \t]*)<(!--[ \t]*tpo:)",
    re.M)


class MarkerError(ValueError):
    """The regions of a document are unbalanced, nested or repeated."""


def escape_markers(text: str) -> str:
    """Return ``text`` with lines that look like region markers made inert."""
    return _MARKER_LIKE.sub(r"\1&lt;\2", text)


def split_regions(text: str) -> list[tuple[str | None, str]]:
    """Split ``text`` into ``(name, inside)`` regions and ``(None, text)`` gaps.

    The marker lines belong to the regions: joining ``begin + inside + end`` for
    each region and the gaps in order gives back ``text``. Raises MarkerError when
    a region is unclosed, nested, closed under another name, or repeated.
    """
    parts: list[tuple[str | None, str]] = []
    gap: list[str] = []
    inside: list[str] = []
    current: str | None = None
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        match = MARKER.match(line.rstrip("\r\n")) if line.startswith("<!--") else None
        if not match:
            (inside if current else gap).append(line)
            continue
        kind, name = match[1], match[2]
        if kind == "begin":
            if current is not None:
                raise MarkerError(f"line {number}: region {name!r} starts inside "
                                  f"region {current!r}")
            if name in seen:
                raise MarkerError(f"line {number}: region {name!r} appears twice")
            parts.append((None, "".join(gap)))
            gap, inside, current = [], [], name
            seen.add(name)
        else:
            if current != name:
                raise MarkerError(f"line {number}: end of region {name!r} without "
                                  "its begin marker")
            parts.append((current, "".join(inside)))
            current = None
    if current is not None:
        raise MarkerError(f"region {current!r} has no end marker")
    parts.append((None, "".join(gap)))
    return [(name, body) for name, body in parts if name is not None or body]


def region_names(text: str) -> list[str]:
    """Return the names of the regions of ``text`` in order."""
    return [name for name, _ in split_regions(text) if name is not None]


def _join(parts: list[tuple[str | None, str]]) -> str:
    out = []
    for name, body in parts:
        if name is None:
            out.append(body)
            continue
        if body and not body.endswith("\n"):
            body += "\n"
        out.append(f"<!-- tpo:begin {name} -->\n{body}<!-- tpo:end {name} -->\n")
    return "".join(out)


def merge(existing: str, rendered: str) -> tuple[str, list[str]]:
    """Return ``existing`` with its regions replaced by those of ``rendered``.

    Text outside the regions of ``existing`` is kept byte for byte. A region of
    ``rendered`` that ``existing`` lacks (the person deleted it, or the template
    gained one) is appended at the end; its name is returned in the second value.
    A region that only ``existing`` has is kept as it is. Raises MarkerError when
    either text has broken markers.
    """
    new_regions = {name: body for name, body in split_regions(rendered)
                   if name is not None}
    old_parts = split_regions(existing)
    merged = [(name, new_regions.get(name, body) if name is not None else body)
              for name, body in old_parts]
    present = {name for name, _ in old_parts if name is not None}
    missing = [name for name in new_regions if name not in present]
    if missing:
        tail = merged[-1][1] if merged and merged[-1][0] is None else ""
        if tail and not tail.endswith("\n"):
            merged[-1] = (None, tail + "\n")
        for name in missing:
            merged.append((None, "\n"))
            merged.append((name, new_regions[name]))
    return _join(merged), missing
