from django.db import migrations

from incidents.beat import register, unregister

TASKS = [
    (
        "Escalate unacknowledged pages",
        "oncall.sweep_unacknowledged_pages",
        "Pages the secondary, then the team's manager, when a page is not acknowledged in time.",
        30,
    ),
    (
        "Handoff summary requests",
        "oncall.sweep_handoff_requests",
        "Asks the outgoing engineer for the handoff summary an hour before the handoff.",
        300,
    ),
    (
        "Shift heads-up",
        "oncall.sweep_shift_heads_up",
        "Reminds engineers the evening before their shift starts.",
        900,
    ),
]


def forwards(apps, schema_editor):
    register(apps, TASKS)


def backwards(apps, schema_editor):
    unregister(apps, [name for name, *_ in TASKS])


class Migration(migrations.Migration):
    dependencies = [
        ("oncall", "0003_page_escalation_level_page_team"),
        ("incidents", "0005_periodic_tasks"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
