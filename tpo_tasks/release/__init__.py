"""The ``release`` namespace: versions, changelog, tags and release planning."""
