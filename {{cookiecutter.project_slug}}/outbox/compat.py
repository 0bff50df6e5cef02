"""Django's Tasks framework, from wherever this Django has it: `django.tasks` on Django 6,
the `django-tasks` backport (the same API) on Django 5.2. The project imports it from here,
so task code reads the same on both. AnyTask, AnyResult and AnyContext are the classes with
their type parameters filled (django-stubs types them as generics; Django's own are not)."""

from typing import TYPE_CHECKING, Any, TypeAlias
{%- if cookiecutter.python_version == "3.11" %}

from django_tasks import TaskContext, TaskResult, TaskResultStatus, task
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.base import Task, TaskError
from django_tasks.exceptions import InvalidTaskError as InvalidTask
from django_tasks.exceptions import TaskResultDoesNotExist
from django_tasks.signals import task_enqueued, task_finished, task_started
from django_tasks.utils import normalize_json
{%- else %}

from django.tasks import Task, TaskContext, TaskResult, TaskResultStatus, task
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import TaskError
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
