"""The runbook's compensation policy: USD 500.00 per week on call, 200.00 per SEV-1 handled,
4 hours of comp time per overnight page (22:00-07:00 in the engineer's zone), open-ended.

It starts far in the past so imported history is priced too. Managers supersede it with a new
effective-dated policy instead of editing it."""

from datetime import date, time
from decimal import Decimal

from django.db import migrations


def create(apps, schema_editor):
    CompensationPolicy = apps.get_model("oncall", "CompensationPolicy")
    if not CompensationPolicy.objects.exists():
        CompensationPolicy.objects.create(
            effective_from=date(2000, 1, 1),
            effective_to=None,
            currency="USD",
            weekly_stipend=Decimal("500.00"),
            sev1_bonus=Decimal("200.00"),
            comp_hours_per_overnight_page=Decimal("4.00"),
            overnight_start=time(22, 0),
            overnight_end=time(7, 0),
        )


class Migration(migrations.Migration):
    dependencies = [("oncall", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
