"""The ``deploy`` namespace; its Invoke tasks live in :mod:`tpo_tasks.deploy.tasks`."""
