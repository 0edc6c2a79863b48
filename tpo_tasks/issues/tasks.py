"""Invoke tasks of the ``issues`` namespace."""

from invoke import Collection

from ..config import defaults

ns = Collection("issues")
ns.configure({"tpo": defaults()})
