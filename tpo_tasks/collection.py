"""The root collection: the four namespaces and the ``config`` task."""

from typing import Any

from invoke import Collection, Context

from .checks.tasks import ns as checks
from .defaults import defaults
from .deploy.tasks import ns as deploy
from .issues.tasks import ns as issues
from .output import print_json, result, table
from .release.tasks import ns as release
from .task import task


@task(help={"json": "print a JSON array of {key, value, source} instead of a table"})
def config(c: Context, json: bool = False) -> None:
    """Show every effective tpo setting and where it came from."""
    from .config import describe_sources

    rows = describe_sources(c.config)
    if json:
        print_json(rows)
        return
    result(
        table(
            ([row["key"], _format_value(row["value"]), row["source"]] for row in rows),
            headers=("KEY", "VALUE", "SOURCE"),
        )
    )


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, ensure_ascii=False)


def build_namespace() -> Collection:
    """Return a new root collection holding the four namespaces and ``config``."""
    root = Collection(issues, release, deploy, checks)
    root.add_task(config)
    root.configure({"tpo": defaults()})
    return root


namespace = build_namespace()
