from django.db import migrations

from incidents.beat import register, unregister

TASKS = [
    (
        "Stale runbook reminder",
        "incidents.remind_stale_runbooks",
        "On the 1st of each month: each owner team hears about its runbooks not reviewed in 90 "
        "days.",
        {"minute": "0", "hour": "8", "day_of_month": "1"},
    ),
]


def forwards(apps, schema_editor):
    register(apps, TASKS)


def backwards(apps, schema_editor):
    unregister(apps, [name for name, *_ in TASKS])


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0008_seed_runbooks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
