"""Manual checklist items confirmed once per release in ``.tpo/confirmations.json``.

The file maps a release to the items confirmed for it::

    {"releases": {"1.4.0": {"repo.tests": {"by": "Ada", "at": "2026-01-15T12:00:00Z"}}}}

A confirmation counts only for the release it names, so each release needs its own.
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..fileio import write_text_atomic

CONFIRMATIONS_FILE = ".tpo/confirmations.json"


def load(root: Path) -> dict[str, Any]:
    """Return the confirmations file's content; an empty structure when missing."""
    path = root / CONFIRMATIONS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"releases": {}}
    except ValueError as exc:
        raise ConfigError(
            f"invalid JSON in {CONFIRMATIONS_FILE}: {exc}; fix or delete the file"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("releases", {}), dict):
        raise ConfigError(
            f'{CONFIRMATIONS_FILE} must hold {{"releases": {{...}}}}; '
            "fix or delete the file"
        )
    data.setdefault("releases", {})
    return data


def confirmation(
    data: dict[str, Any], release: str, check_id: str
) -> dict[str, Any] | None:
    """Return the confirmation of ``check_id`` for ``release``, or None."""
    entry = data["releases"].get(release, {})
    found = entry.get(check_id) if isinstance(entry, dict) else None
    return found if isinstance(found, dict) else None


def confirm(
    root: Path, release: str, check_ids: list[str], by: str, now: datetime | None = None
) -> None:
    """Record ``check_ids`` as confirmed for ``release`` by ``by`` (atomic write)."""
    data = load(root)
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = data["releases"].setdefault(release, {})
    for check_id in check_ids:
        entry[check_id] = {"by": by, "at": moment}
    write_text_atomic(
        root / CONFIRMATIONS_FILE, json.dumps(data, indent=2, sort_keys=True) + "\n"
    )
