from django.db import migrations

from incidents.beat import register, unregister

TASKS = [
    (
        "Send pending notifications",
        "incidents.dispatch_notifications",
        "Sends what is still pending: retries that are due and sends lost with a worker.",
        30,
    ),
    (
        "Status update reminders",
        "incidents.sweep_status_updates",
        "Reminds the communications lead when an open incident's update is overdue.",
        30,
    ),
    (
        "Incident escalations",
        "incidents.sweep_escalations",
        "Escalates incidents unresolved past their severity's threshold.",
        30,
    ),
]


def forwards(apps, schema_editor):
    register(apps, TASKS)


def backwards(apps, schema_editor):
    unregister(apps, [name for name, *_ in TASKS])


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0004_profile_mute_digest_timelineevent_dedup_key_and_more"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
