"""The project's tasks on another engine: django-tasks-db, the Django Tasks project's own
database backend, run by its `db_worker`. The task code is the same; only TASKS changes
(docs/outbox.md says what a team gains and gives up)."""

import pytest
from asgiref.sync import async_to_sync
from django.conf import LazySettings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from outbox.compat import TaskResultStatus
from outbox.models import QueuedTask

from .task_examples import add, always_fails, name_of_group
from .test_tasks import enqueue_then_change, enqueue_then_roll_back

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def swapped(settings: LazySettings) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def run_what_is_due() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


def test_a_rolled_back_transaction_leaves_no_task_there_either() -> None:
    with pytest.raises(RuntimeError):
        enqueue_then_roll_back()
    run_what_is_due()

    assert DBTaskResult.objects.count() == 0


def test_a_committed_task_runs_with_the_state_that_committed() -> None:
    group = Group.objects.create(name="draft")

    result_id = enqueue_then_change(group.pk, row_written=False)
    run_what_is_due()
    result = name_of_group.get_result(result_id)

    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "published"
    assert not QueuedTask.objects.exists()  # none of it went through the outbox


def test_results_and_errors_read_as_on_the_outbox() -> None:
    added = add.enqueue(2, 3)
    failed = always_fails.enqueue()
    run_what_is_due()

    assert async_to_sync(add.aget_result)(added.id).return_value == 5
    result = always_fails.get_result(failed.id)
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is RuntimeError
