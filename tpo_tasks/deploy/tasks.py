"""Invoke tasks of the ``deploy`` namespace."""

from invoke import Collection

from ..config import defaults

ns = Collection("deploy")
ns.configure({"tpo": defaults()})
