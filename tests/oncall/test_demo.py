import io

import pytest
from django.core.management import call_command

from oncall.models import Handoff, Page, PayPeriod, PayPeriodStatus, Rotation, Shift

pytestmark = pytest.mark.django_db


def test_seed_demo_adds_on_call_data_idempotently(settings):
    settings.ALLOW_DEMO_DATA = True
    call_command("seed_demo", stdout=io.StringIO())
    counts = [m.objects.count() for m in (Rotation, Shift, Handoff, Page, PayPeriod)]
    assert Rotation.objects.count() == 3
    assert Shift.objects.count() > 3 * 8
    assert Handoff.objects.exclude(written_at=None).exists()
    assert Page.objects.filter(acknowledged_at__isnull=True).exists()
    assert PayPeriod.objects.filter(status=PayPeriodStatus.CLOSED).exists()
    assert PayPeriod.objects.get(status=PayPeriodStatus.CLOSED).lines.exists()
    overnight_hours = {
        p.paged_at.astimezone(p.engineer.profile.zone).hour for p in Page.objects.all()
    }
    assert overnight_hours & {23, 2, 4}
    call_command("seed_demo", stdout=io.StringIO())
    assert counts == [m.objects.count() for m in (Rotation, Shift, Handoff, Page, PayPeriod)]
