"""TODO, FIXME, HACK and XXX markers with their author and age from ``git blame``.

Each file holding a marker is blamed once with ``--line-porcelain``, however many
markers it holds.
"""

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MARKER = re.compile(r"(?<![A-Za-z0-9_])(TODO|FIXME|HACK|XXX)(?![A-Za-z0-9_])")
# Markers in lock files, minified and generated files are not the team's debt.
SKIPPED_SUFFIXES = (".lock", ".min.js", ".min.css", ".svg", ".map", ".snap")


@dataclass
class Marker:
    """One marker: where it is, its text, and who wrote the line when."""

    kind: str
    file: str
    line: int
    text: str
    author: str | None = None
    time: int | None = None  # Unix seconds of the author date

    def age_days(self, now: datetime) -> int | None:
        if self.time is None:
            return None
        return max(0, int((now.timestamp() - self.time) // 86400))

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "text": self.text,
            "author": self.author,
            "date": datetime.fromtimestamp(self.time, UTC).strftime("%Y-%m-%d")
            if self.time is not None
            else None,
            "age_days": self.age_days(now),
        }


def find_markers(scan: Any) -> list[Marker]:
    """Return the markers in the scanned text files, in file order."""
    found = []
    for path in scan.files:
        if path.endswith(SKIPPED_SUFFIXES):
            continue
        data = scan.raw(path)
        if b"\0" in data[:8000]:
            continue  # binary
        text = scan.text(path)
        if not MARKER.search(text):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            match = MARKER.search(line)
            if match:
                note = line[match.start() :].strip()
                found.append(Marker(match.group(1), path, number, note[:120]))
    return found


def parse_line_porcelain(output: str) -> dict[int, tuple[str | None, int | None]]:
    """Return {final line number: (author, author time)} from ``--line-porcelain``."""
    lines: dict[int, tuple[str | None, int | None]] = {}
    current: int | None = None
    author: str | None = None
    when: int | None = None
    for line in output.splitlines():
        if line.startswith("\t"):
            if current is not None:
                lines[current] = (author, when)
            current = None
            continue
        parts = line.split(" ")
        if len(parts) >= 3 and re.fullmatch(r"[0-9a-f]{40}", parts[0]):
            current = int(parts[2])
            author, when = None, None
        elif line.startswith("author "):
            author = line[7:]
        elif line.startswith("author-time "):
            when = int(line[12:])
    return lines


def blame(root: Any, markers: list[Marker]) -> None:
    """Fill in author and time from one ``git blame --line-porcelain`` per file."""
    from ..command import run

    by_file: dict[str, list[Marker]] = {}
    for marker in markers:
        by_file.setdefault(marker.file, []).append(marker)

    def blame_file(path: str) -> tuple[str, dict[int, tuple[str | None, int | None]]]:
        result = run(
            ["git", "blame", "--line-porcelain", "--", path],
            cwd=root,
            check=False,
            timeout=120,
        )
        return path, parse_line_porcelain(result.stdout) if result.ok else {}

    with ThreadPoolExecutor(max_workers=4) as pool:
        for path, lines in pool.map(blame_file, by_file):
            for marker in by_file[path]:
                author, when = lines.get(marker.line, (None, None))
                # Lines not yet committed are blamed on "Not Committed Yet".
                if author == "Not Committed Yet":
                    author = None
                marker.author, marker.time = author, when


def sort_oldest_first(markers: list[Marker]) -> list[Marker]:
    """Order markers by author date, oldest first; uncommitted ones last."""
    return sorted(markers, key=lambda m: (m.time is None, m.time or 0, m.file, m.line))


def markdown(markers: list[Marker], now: datetime) -> str:
    lines = ["## Debt markers", "", f"{len(markers)} markers, oldest first.", ""]
    if markers:
        lines += [
            "| age (days) | kind | location | author | text |",
            "| --- | --- | --- | --- | --- |",
        ]
        for marker in markers:
            age = marker.age_days(now)
            text = marker.text.replace("|", "\\|")
            lines.append(
                f"| {'' if age is None else age} | {marker.kind} | "
                f"{marker.file}:{marker.line} | {marker.author or 'uncommitted'}"
                f" | {text} |"
            )
    return "\n".join(lines) + "\n"
