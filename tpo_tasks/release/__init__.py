"""The ``release`` namespace; its Invoke tasks live in :mod:`tpo_tasks.release.tasks`."""
