import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from bench.generator import Generator, Plan
from incidents import services
from incidents.models import Incident, TimelineEvent
from oncall.models import Page, Shift
from oncall.selectors import compensation_report
from postmortems.models import ActionItem, Postmortem

pytestmark = pytest.mark.django_db

PLAN = Plan(incidents=120, engineers=12, months=3, seed=7, until=date(2026, 11, 1))


def fingerprint():
    return (
        list(Incident.objects.order_by("reference").values_list("reference", "title", "status")),
        TimelineEvent.objects.count(),
        Page.objects.count(),
        Shift.objects.count(),
        Postmortem.objects.count(),
        ActionItem.objects.count(),
    )


def test_the_generator_is_deterministic_and_keeps_the_invariants():
    from django.db import transaction

    with transaction.atomic():
        Generator(PLAN, progress=lambda _: None).run()
        first = fingerprint()
        transaction.set_rollback(True)
    Generator(PLAN, progress=lambda _: None).run()
    assert fingerprint() == first
    assert Incident.objects.count() == 120
    assert 9 <= TimelineEvent.objects.count() / 120 <= 11
    # The next declared incident continues the year's numbering.
    last = Incident.objects.filter(reference__startswith="INC-2026-").order_by("-reference").first()
    new = services.incident_declare(title="new", severity="SEV-3", declared_by=None)
    assert int(new.reference[-4:]) == int(last.reference[-4:]) + 1
    # Compensation can be computed over the generated history.
    report = compensation_report(start=date(2026, 9, 1), end=date(2026, 9, 30))
    assert report.rows
    overnight = sum(row.overnight_pages for row in report.rows)
    pages = Page.objects.filter(acknowledged_at__isnull=False).count()
    assert overnight > 0
    assert pages > overnight


def test_the_command_prints_progress_and_refuses_a_second_run():
    out = io.StringIO()
    args = ["--incidents", "30", "--engineers", "6", "--months", "1", "--until", "2026-11-01"]
    call_command("generate_history", *args, stdout=out)
    assert "history of 30/30 incidents" in out.getvalue()
    assert "Created" in out.getvalue()
    with pytest.raises(CommandError, match="already here"):
        call_command("generate_history", *args, stdout=io.StringIO())


def test_the_command_refuses_a_database_that_holds_incidents():
    services.incident_declare(title="Demo outage", severity="SEV-2", declared_by=None)
    args = ["--incidents", "10", "--engineers", "3", "--months", "1", "--until", "2026-11-01"]
    with pytest.raises(CommandError, match="already holds incidents"):
        call_command("generate_history", *args, stdout=io.StringIO())
    assert Incident.objects.count() == 1
