"""The incremental sync state kept in ``<issues dir>/.sync-state.json``.

For each repository (and label filter) it stores the ``since`` time for the next
request (the newest ``updated_at`` seen), the ETag of the last response together
with the exact query it belongs to, and when that changed. A sync that changes
none of them leaves the file alone. A file that cannot be read is treated as
absent, which makes the next sync a full one.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..fileio import write_text_atomic
from ..output import warn

STATE_FILE = ".sync-state.json"
VERSION = 1


@dataclass
class RepoState:
    """What the last sync of one repository and label filter left behind."""

    since: str | None = None
    etag: str | None = None
    etag_query: dict[str, str] | None = None
    synced_at: str | None = None


def state_key(repo: str, labels: Sequence[str]) -> str:
    """Return the state key: ``owner/repo``, plus ``?labels=a,b`` when filtered."""
    return f"{repo}?labels={','.join(sorted(labels))}" if labels else repo


def load(path: Path) -> dict[str, Any]:
    """Return the whole state file as a dict, or an empty state."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": VERSION, "repositories": {}}
    except (OSError, ValueError) as exc:
        warn(f"ignoring unreadable {path} ({exc}); doing a full sync")
        return {"version": VERSION, "repositories": {}}
    if not isinstance(data, dict) or not isinstance(data.get("repositories"), dict):
        warn(f"ignoring {path}: unexpected content; doing a full sync")
        return {"version": VERSION, "repositories": {}}
    return data


def entry(data: Mapping[str, Any], key: str) -> RepoState:
    """Return the RepoState stored under ``key``, or an empty one."""
    raw = data.get("repositories", {}).get(key)
    if not isinstance(raw, dict):
        return RepoState()
    fields = {name: raw.get(name) for name in RepoState.__dataclass_fields__}
    if fields["since"] is not None and not _is_timestamp(fields["since"]):
        warn(f"ignoring the sync state of {key}: invalid since "
             f"{fields['since']!r}; doing a full sync")
        return RepoState()
    if not isinstance(fields["etag_query"], dict):
        fields["etag_query"] = None
    etag = fields["etag"]
    # The ETag goes back in an If-None-Match header: only visible ASCII fits.
    if not (isinstance(etag, str) and etag.isascii() and etag.isprintable()):
        fields["etag"] = fields["etag_query"] = None
    return RepoState(**fields)


def _is_timestamp(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def same_cursor(old: RepoState, new: RepoState) -> bool:
    """Return whether two states differ at most in ``synced_at``."""
    return (old.since, old.etag, old.etag_query) == (new.since, new.etag,
                                                     new.etag_query)


def save(path: Path, data: dict[str, Any], key: str, value: RepoState) -> None:
    """Store ``value`` under ``key`` and write the file atomically."""
    data = {"version": VERSION,
            "repositories": {**data.get("repositories", {}), key: asdict(value)}}
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
