"""Reminders recorded before their keys named the moment they fell due (status updates) and
for whom (action items, post-mortem deadlines): rewritten to the new keys, so the first sweep
after the upgrade does not send them again."""

from datetime import UTC, datetime

from django.db import migrations

STAMP = "%Y%m%dT%H%M%SZ"


def _new_key(key: str, recipient_id, cadences: dict) -> str | None:
    parts = key.split(":")
    kind = parts[0]
    # A team webhook's copy is the message's key plus ":webhook:<team>".
    if kind == "status-update-overdue" and len(parts) in (4, 6) and parts[3].isdigit():
        cadence = cadences.get(int(parts[1]))
        if cadence is None:
            return None
        since = datetime.strptime(parts[2], STAMP).replace(tzinfo=UTC)
        due = since + cadence * int(parts[3])
        return ":".join([*parts[:3], due.strftime(STAMP), *parts[4:]])
    if recipient_id is None:
        return None
    if kind in ("ai-due-soon", "ai-overdue") and len(parts) == 3:
        return f"{key}:{recipient_id}"
    if kind == "pm-due-soon" and len(parts) == 4:
        return f"{key}:{recipient_id}"
    return None


def rewrite(apps, schema_editor):
    Notification = apps.get_model("incidents", "Notification")
    Incident = apps.get_model("incidents", "Incident")
    rows = list(
        Notification.objects.filter(
            key__regex=r"^(status-update-overdue|ai-due-soon|ai-overdue|pm-due-soon):"
        ).values_list("pk", "key", "recipient_id")
    )
    if not rows:
        return
    cadences = dict(Incident.objects.values_list("pk", "severity__update_every"))
    taken = set(Notification.objects.values_list("key", flat=True))
    for pk, key, recipient_id in rows:
        new = _new_key(key, recipient_id, cadences)
        if new is None or new in taken:
            continue
        Notification.objects.filter(pk=pk).update(key=new)
        taken.add(new)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0015_notification_obsolete")]

    operations = [migrations.RunPython(rewrite, migrations.RunPython.noop)]
