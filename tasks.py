from tpo_tasks import namespace  # noqa: F401
