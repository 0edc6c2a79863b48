"""Invoke tasks of the ``release`` namespace."""

from invoke import Collection

from ..config import defaults

ns = Collection("release")
ns.configure({"tpo": defaults()})
