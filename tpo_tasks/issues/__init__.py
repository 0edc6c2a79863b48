"""The ``issues`` namespace; its Invoke tasks live in :mod:`tpo_tasks.issues.tasks`."""
