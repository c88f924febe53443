"""Shift heads-ups and handoff requests are keyed per person since this release
(``shift-heads-up:<shift>:<engineer>``, ``handoff-request:<handoff>:<engineer>``). Rows recorded
under the earlier keys get the new ones, so the first sweep after the upgrade finds them sent
and does not send them again."""

import re

from django.db import migrations

OLD_KEY = re.compile(r"\A(shift-heads-up|handoff-request):(\d+)\Z")


def forwards(apps, schema_editor):
    Notification = apps.get_model("incidents", "Notification")
    taken = set(
        Notification.objects.filter(
            key__regex=r"^(shift-heads-up|handoff-request):[0-9]+:[0-9]+$"
        ).values_list("key", flat=True)
    )
    for notification in Notification.objects.filter(
        key__regex=r"^(shift-heads-up|handoff-request):[0-9]+$", recipient__isnull=False
    ).only("pk", "key", "recipient_id"):
        new_key = f"{notification.key}:{notification.recipient_id}"
        if OLD_KEY.match(notification.key) and new_key not in taken:
            Notification.objects.filter(pk=notification.pk).update(key=new_key)
            taken.add(new_key)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0018_time_zones_not_database_abbreviations")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
