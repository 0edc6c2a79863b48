"""The ``checks`` namespace; its Invoke tasks live in :mod:`tpo_tasks.checks.tasks`."""
