"""The outbox's messages go: all work is tasks now. The apps whose work was messages move
what still waited over to tasks first (their migrations say run_before this one)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("outbox", "0002_queuedtask")]

    operations = [migrations.DeleteModel(name="Message")]
