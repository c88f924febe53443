from django.db import migrations

from incidents.beat import register, unregister

TASKS = [
    (
        "Forget old API idempotency keys",
        "incidents.purge_idempotency_keys",
        "Deletes Idempotency-Key records older than API_IDEMPOTENCY_KEY_TTL (24 h).",
        {"minute": "17", "hour": "*"},
    ),
]


def forwards(apps, schema_editor):
    register(apps, TASKS)


def backwards(apps, schema_editor):
    unregister(apps, [name for name, *_ in TASKS])


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0010_api_tokens_idempotency_dedup_key"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
