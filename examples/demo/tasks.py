# Lets `inv` find the tpo tasks and this folder's invoke.yaml.
from tpo_tasks import namespace  # noqa: F401
