"""Announce a deploy result: a JSON POST to ``tpo.deploy.notify_url``.

The payload (schema ``templates/deploy-notify.schema.json``) holds environment,
version, images, result and, for a failure, the reason. A notification that
cannot be delivered is a warning: the deploy's own result and exit code stand.
"""

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..output import warn

TIMEOUT = 10


def payload(*, environment: str, version: str, images: Mapping[str, str],
            result: str, reason: str | None, revision: int | None, git_sha: str,
            actor: str, rollback_of: int | None = None,
            rolled_back_to: int | None = None) -> dict[str, Any]:
    """Return the JSON document sent for one deploy."""
    return {
        "environment": environment,
        "version": version,
        "images": dict(images),
        "result": result,
        "reason": reason,
        "revision": revision,
        "git_sha": git_sha,
        "actor": actor,
        "rollback_of": rollback_of,
        "rolled_back_to": rolled_back_to,
    }


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port
                                                    else "")


def send(url: str | None, document: Mapping[str, Any]) -> bool:
    """POST ``document`` to ``url``; return whether the receiver accepted it."""
    if not url:
        return False
    body = json.dumps(document).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "tpo-tasks"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return 200 <= response.status < 300
    except urllib.error.HTTPError as exc:
        warn(f"deploy notification to {_host(url)} failed: HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        warn(f"deploy notification to {_host(url)} failed: "
             f"{getattr(exc, 'reason', exc)}")
    return False
