from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("outbox", "0003_delete_message")]

    operations = [
        migrations.AddField(
            model_name="queuedtask",
            name="traceparent",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
    ]
