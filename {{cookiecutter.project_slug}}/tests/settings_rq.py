"""The tests' settings with RQ (django-tasks-rq) as the task backend, as a team that moved
its tasks to a queue in Redis would set it: TASKS names the engine from the start, so the
project's task modules are imported under it too (tests/test_tasks_rq.py)."""

from .settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "django_rq"]  # noqa: F405
TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend"}}
# A database of Redis's own for the queue: the tests empty it.
RQ_QUEUES = {"default": {"URL": REDIS_URL.rsplit("/", 1)[0] + "/15"}}  # noqa: F405
OUTBOX_WORKER = False  # the RQ worker runs the tasks
