"""Indexing becomes a task of the Tasks framework (search.indexing.index_posts): the changes
still waiting as outbox messages move over, so none is lost across the upgrade."""

import uuid

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

INDEX_POSTS = "search.indexing.index_posts"
TOPIC = "search.post"
POSTS_PER_TASK = 500


def move_waiting_changes(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Message = apps.get_model("outbox", "Message")
    QueuedTask = apps.get_model("outbox", "QueuedTask")
    waiting = Message.objects.filter(topic=TOPIC).exclude(state="done")
    ids = sorted({int(key) for key in waiting.values_list("key", flat=True) if key.isdigit()})
    QueuedTask.objects.bulk_create(
        QueuedTask(
            id=uuid.uuid4().hex,
            task_path=INDEX_POSTS,
            args=[ids[start : start + POSTS_PER_TASK]],
            max_attempts=100_000,
            timeout=60.0,  # the task's own
        )
        for start in range(0, len(ids), POSTS_PER_TASK)
    )
    Message.objects.filter(topic=TOPIC).delete()


class Migration(migrations.Migration):
    dependencies = [("outbox", "0002_queuedtask")]
    run_before = [("outbox", "0003_delete_message")]

    operations = [migrations.RunPython(move_waiting_changes, migrations.RunPython.noop)]
