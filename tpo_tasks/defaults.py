"""Every ``tpo`` configuration key with its default, declared in one place.

This module stays free of heavy imports because every task module loads it at
start-up; the typed, validated view lives in :mod:`tpo_tasks.config`.
"""

import copy
from typing import Any

CONFIG_KEY = "tpo"

DEFAULT_MIGRATION_GLOBS = [
    "**/versions/*.py",  # Alembic
    "**/migrations/0*.py",  # Django
    "**/Migrations/*.cs",  # EF Core (designer and snapshot files are excluded)
    "**/db/migration/V*.sql",  # Flyway
]

DEFAULTS: dict[str, Any] = {
    "github": {
        "repo": None,
        "api_url": None,
    },
    "issues": {
        "dir": ".github/issues",
        "templates_dir": ".github/templates",
        "branch_prefix": "issue",
        "components": [],
        "labels": [],
    },
    "release": {
        "tag_format": "v{version}",
        "commit_message": "chore(release): {version}",
        "scheme": None,
        "version_files": [],
        "changelog": "CHANGELOG.md",
        "repo_url": None,
        "repo": None,
        "migrations": list(DEFAULT_MIGRATION_GLOBS),
        "branch": "main",
    },
    "deploy": {
        "registry": None,
        "services": {},
        "environments": {},
        "history_limit": "20",
        "lock_ttl": "900",
        "notify_url": None,
        "kubeconfig": None,
    },
    "checks": {
        "test_command": None,
        "skip": [],
        "release_branch": None,
        "kubernetes_version": "1.32",
        "secret_keys": [],
        "exclude": ["tests/**"],
    },
}


# Keys whose value is a user-named mapping. They are left out of the defaults given
# to Invoke, because Invoke refuses to merge a list or string over a mapping (or a
# mapping over None) and would end in a traceback before validation could name the
# key; the typed view treats a missing key as its default.
OPEN_MAPPINGS = (("deploy", "services"), ("deploy", "environments"))


def defaults() -> dict[str, Any]:
    """Return a fresh copy of the defaults to give ``Collection.configure``."""
    data = copy.deepcopy(DEFAULTS)
    for section, key in OPEN_MAPPINGS:
        del data[section][key]
    return data
