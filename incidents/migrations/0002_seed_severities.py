"""The runbook's default severity policy, escalation levels and communication templates.

Managers change all of this in the admin afterwards; this only seeds a new installation and
never overwrites rows that already exist.
"""

from datetime import timedelta

from django.db import migrations

ESCALATION_LEVELS = [
    {"name": "VP Engineering", "kind": "named"},
    {"name": "Engineering Manager", "kind": "team_manager"},
    {"name": "CTO", "kind": "named"},
]

SEVERITIES = [
    {
        "name": "SEV-1",
        "label": "Critical",
        "rank": 1,
        "is_most_severe": True,
        "description": "Complete outage, data loss, or security breach.",
        "examples": "Service down for all users; payment processing broken; data corruption; "
        "confirmed security breach.",
        "acknowledge_within": timedelta(minutes=5),
        "update_every": timedelta(minutes=15),
        "escalate_after": timedelta(minutes=30),
        "escalation_level": "VP Engineering",
        "postmortem_rule": "required",
        "color": "#b91c1c",
    },
    {
        "name": "SEV-2",
        "label": "High",
        "rank": 2,
        "is_most_severe": False,
        "description": "Partial degradation: a major feature impaired for some users.",
        "examples": "Login broken for a subset of users; database slow; performance degraded "
        "by more than half.",
        "acknowledge_within": timedelta(minutes=15),
        "update_every": timedelta(minutes=30),
        "escalate_after": timedelta(hours=2),
        "escalation_level": "Engineering Manager",
        "postmortem_rule": "required",
        "color": "#c2410c",
    },
    {
        "name": "SEV-3",
        "label": "Medium",
        "rank": 3,
        "is_most_severe": False,
        "description": "Minor degradation with a workaround, or internal-only impact.",
        "examples": "Non-critical API errors; a UI bug with a workaround; internal tool slow.",
        "acknowledge_within": timedelta(hours=1),
        "update_every": timedelta(hours=4),
        "escalate_after": None,
        "escalation_level": None,
        "postmortem_rule": "optional",
        "color": "#a16207",
    },
]

TEMPLATES = [
    {
        "kind": "announcement",
        "status": "Investigating",
        "impact": "{impact}",
        "action": "Incident declared; responders are assembling in {channel}.",
        "eta": "unknown",
        "body": "@here Incident declared: {title}\nSeverity: {severity}\nImpact: {impact}\n"
        "Incident Channel: {channel}\nReference: {reference}",
    },
    {
        "kind": "initial",
        "status": "Investigating",
        "impact": "Some customers may be experiencing {impact}.",
        "action": "We are investigating reports of {title}. We will provide updates as we "
        "learn more.",
        "eta": "unknown",
        "body": "Investigating: We are investigating reports of {title}. Some customers may be "
        "experiencing {impact}. We will provide updates as we learn more.",
    },
    {
        "kind": "update",
        "status": "{status}",
        "impact": "{impact}",
        "action": "",
        "eta": "unknown",
        "body": "Status: {status}\nImpact: {impact}\nAction: \nETA: unknown",
    },
    {
        "kind": "resolution",
        "status": "Resolved",
        "impact": "The issue affecting {services} has been resolved.",
        "action": "All systems are operating normally. We are monitoring; a detailed "
        "post-mortem will follow.",
        "eta": "Resolved",
        "body": "Resolved: The issue affecting {services} has been resolved as of "
        "{resolved_at}. All systems are operating normally. We apologize for any "
        "inconvenience. A detailed post-mortem will be published within 48 hours.",
    },
]


def seed(apps, schema_editor):
    EscalationLevel = apps.get_model("incidents", "EscalationLevel")
    Severity = apps.get_model("incidents", "Severity")
    CommunicationTemplate = apps.get_model("incidents", "CommunicationTemplate")
    levels = {}
    for row in ESCALATION_LEVELS:
        level, _ = EscalationLevel.objects.get_or_create(name=row["name"], defaults=row)
        levels[level.name] = level
    for row in SEVERITIES:
        values = dict(row)
        level_name = values.pop("escalation_level")
        values["escalation_level"] = levels[level_name] if level_name else None
        Severity.objects.get_or_create(name=values["name"], defaults=values)
    for row in TEMPLATES:
        CommunicationTemplate.objects.get_or_create(kind=row["kind"], defaults=row)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
