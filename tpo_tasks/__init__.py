"""Invoke tasks for technical project operations: issues, release, deploy, checks.

A consumer's ``tasks.py`` needs one line::

    from tpo_tasks import namespace
"""

__version__ = "0.1.0"

__all__ = ["namespace", "__version__"]


def __getattr__(name: str) -> object:
    # Built on first use so that importing a submodule stays cheap.
    if name == "namespace":
        from .collection import namespace

        return namespace
    raise AttributeError(f"module 'tpo_tasks' has no attribute {name!r}")
