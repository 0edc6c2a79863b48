"""Invoke tasks of the ``checks`` namespace."""

from invoke import Collection

from ..defaults import defaults

ns = Collection("checks")
ns.configure({"tpo": defaults()})
