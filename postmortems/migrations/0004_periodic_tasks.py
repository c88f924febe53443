from django.db import migrations

from incidents.beat import register, unregister

TASKS = [
    (
        "Post-mortem deadline reminders",
        "postmortems.sweep_deadlines",
        "Reminds owners before the draft, review and publish deadlines; overdue notices after.",
        300,
    ),
    (
        "Action item reminders",
        "postmortems.sweep_action_items",
        "Due-soon and overdue reminders to owners; escalation to their manager after the grace.",
        3600,
    ),
    (
        "Weekly action item digest",
        "postmortems.send_action_item_digests",
        "Every Monday morning: each owner's open action items (owners may mute it).",
        {"minute": "0", "hour": "7", "day_of_week": "1"},
    ),
]


def forwards(apps, schema_editor):
    register(apps, TASKS)


def backwards(apps, schema_editor):
    unregister(apps, [name for name, *_ in TASKS])


class Migration(migrations.Migration):
    dependencies = [
        ("postmortems", "0003_reminder_settings"),
        ("incidents", "0005_periodic_tasks"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
