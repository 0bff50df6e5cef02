"""Django's Tasks framework, from wherever this Django has it: `django.tasks` on Django 6,
the `django-tasks` backport (the same API) on Django 5.2. The project imports it from here,
so task code reads the same on both. AnyTask, AnyResult and AnyContext are the classes with
their type parameters filled (django-stubs types them as generics; Django's own are not).

task() is Django's @task, with the outbox backend's own options (max_attempts, timeout)
given only to a backend that takes them: Django hands @task's options to the backend's task
class, and another backend's (django-tasks-db, RQ) would refuse them at import, so a project
whose TASKS names another engine would not start. Task code stays the same on any backend."""

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias, overload
{%- if cookiecutter.python_version == "3.11" %}

from django_tasks import TaskContext, TaskResult, TaskResultStatus, task_backends
from django_tasks import task as django_task
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.base import DEFAULT_TASK_BACKEND_ALIAS, Task, TaskError
from django_tasks.exceptions import InvalidTaskError as InvalidTask
from django_tasks.exceptions import TaskResultDoesNotExist
from django_tasks.signals import task_enqueued, task_finished, task_started
from django_tasks.utils import normalize_json
{%- else %}

from django.tasks import Task, TaskContext, TaskResult, TaskResultStatus, task_backends
from django.tasks import task as django_task
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import DEFAULT_TASK_BACKEND_ALIAS, TaskError
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued, task_finished, task_started
from django.utils.json import normalize_json
{%- endif %}

# Assignments, not `type` statements: OutboxTask subclasses AnyTask.
if TYPE_CHECKING:
    AnyTask: TypeAlias = Task[Any, Any]  # noqa: UP040, RUF100
{%- if cookiecutter.python_version == "3.11" %}
    AnyResult: TypeAlias = TaskResult[Any]  # noqa: UP040, RUF100
    AnyContext: TypeAlias = TaskContext  # noqa: UP040, RUF100
{%- else %}
    AnyResult: TypeAlias = TaskResult[Any, Any]  # noqa: UP040, RUF100
    AnyContext: TypeAlias = TaskContext[Any, Any]  # noqa: UP040, RUF100
{%- endif %}
else:
    AnyTask, AnyResult, AnyContext = Task, TaskResult, TaskContext

# The outbox backend's options of a task (outbox/backend.py, OutboxTask).
OUTBOX_OPTIONS = {"max_attempts", "timeout"}


@overload
def task(function: Callable[..., Any], /) -> AnyTask: ...
@overload
def task(function: None = None, /, **options: Any) -> Callable[[Callable[..., Any]], AnyTask]: ...
def task(
    function: Callable[..., Any] | None = None, /, **options: Any
) -> AnyTask | Callable[[Callable[..., Any]], AnyTask]:
    """@task, or @task(priority=..., max_attempts=..., ...): Django's, but for the outbox's
    options, which a backend whose task class has no such field does not get."""

    def decorate(function: Callable[..., Any]) -> AnyTask:
        alias = options.get("backend", DEFAULT_TASK_BACKEND_ALIAS)
        taken = {field.name for field in dataclasses.fields(task_backends[alias].task_class)}
        kept = {
            name: value
            for name, value in options.items()
            if name in taken or name not in OUTBOX_OPTIONS
        }
        make: Any = django_task  # its overloads cannot tell which options go through
        made: AnyTask = make(function, **kept)
        return made

    return decorate(function) if function is not None else decorate


__all__ = [
    "AnyContext",
    "AnyResult",
    "AnyTask",
    "BaseTaskBackend",
    "InvalidTask",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "normalize_json",
    "task",
    "task_enqueued",
    "task_finished",
    "task_started",
]
