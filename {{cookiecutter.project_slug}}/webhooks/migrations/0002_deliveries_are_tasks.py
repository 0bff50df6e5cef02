"""Deliveries become tasks of the Tasks framework (outbox.QueuedTask): the admin's proxy
follows them, and the deliveries still waiting as outbox messages move over, so none is lost
across the upgrade."""

import uuid

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

DELIVER = "webhooks.delivery.deliver"
TOPIC = "webhooks.deliver"


def move_waiting_deliveries(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Message = apps.get_model("outbox", "Message")
    QueuedTask = apps.get_model("outbox", "QueuedTask")
    waiting = Message.objects.filter(topic=TOPIC).exclude(state="done")
    QueuedTask.objects.bulk_create(
        QueuedTask(
            id=uuid.uuid4().hex,
            task_path=DELIVER,
            args=[m.key, m.payload["url"], m.payload["event"], m.payload["posts"]],
            status="READY" if m.state == "pending" else "FAILED",
            enqueued_at=m.created_at,
            due_at=m.due_at,
            finished_at=None if m.state == "pending" else m.done_at,
            max_attempts=100_000,
            timeout=315.0,  # the task's: a connection's wait, then the call's bound
        )
        for m in waiting.iterator()
    )
    Message.objects.filter(topic=TOPIC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("outbox", "0002_queuedtask"),
        ("webhooks", "0001_initial"),
    ]
    run_before = [("outbox", "0003_delete_message")]

    operations = [
        migrations.DeleteModel(name="Delivery"),
        migrations.CreateModel(
            name="Delivery",
            fields=[],
            options={
                "verbose_name": "webhook delivery",
                "verbose_name_plural": "webhook deliveries",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("outbox.queuedtask",),
        ),
        migrations.RunPython(move_waiting_deliveries, migrations.RunPython.noop),
    ]
