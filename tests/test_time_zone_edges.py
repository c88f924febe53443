"""Moments named in text read in the reader's zone with the zone named, and times typed in
the hour the clocks go back are read, not refused (found by the time-zone review)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import runbooks
from incidents import services as incident_services
from incidents.forms import NoteForm
from incidents.models import Notification, Runbook
from oncall.models import Page, Shift
from tests.incidents.factories import ProfileFactory, TeamFactory, UserFactory
from tests.oncall.factories import RotationFactory, ShiftFactory, engineer

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def test_admin_headings_name_pages_and_shifts_in_the_readers_zone():
    ada = engineer("ada", "America/New_York")
    shift = ShiftFactory(
        engineer=ada,
        starts_at=datetime(2026, 3, 9, 9, tzinfo=NEW_YORK),
        ends_at=datetime(2026, 3, 16, 9, tzinfo=NEW_YORK),
    )
    page = Page.objects.create(
        engineer=ada,
        team=shift.rotation.team,
        paged_at=datetime(2026, 3, 10, 23, 15, tzinfo=NEW_YORK),
        ack_due_at=datetime(2026, 3, 10, 23, 20, tzinfo=NEW_YORK),
    )
    with timezone.override(NEW_YORK):
        assert str(page) == "Page to ada at 2026-03-10 23:15 EDT"
        assert str(shift).endswith("2026-03-09 09:00 EDT")


def test_an_override_typed_in_the_hour_the_clocks_go_back_is_made(manager, manager_client):
    ProfileFactory(user=manager, time_zone="Europe/London")
    ada, bob = engineer("ada", "Europe/London"), engineer("bob", "Europe/London")
    rotation = RotationFactory(time_zone="Europe/London", starts_on=date(2026, 10, 19))
    shift = ShiftFactory(
        rotation=rotation,
        engineer=ada,
        starts_at=datetime(2026, 10, 19, 9, tzinfo=LONDON),
        ends_at=datetime(2026, 10, 26, 9, tzinfo=LONDON),
    )
    data = {
        "action": "override_part",
        "_selected_action": [shift.pk],
        "apply": "1",
        "engineer": bob.pk,
        "starts_at_0": "2026-10-25",
        "starts_at_1": "01:30:00",
        "ends_at_0": "2026-10-25",
        "ends_at_1": "09:00:00",
        "reason": "sick",
    }
    response = manager_client.post(reverse("admin:oncall_shift_changelist"), data, follow=True)
    assert "Override created." in response.content.decode()
    # 01:30 happens twice that night: the first, 01:30 BST, is 00:30 UTC.
    assert Shift.objects.get(engineer=bob).starts_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_the_corrects_choices_tell_the_two_0130s_apart(engineer):
    at = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST
    incident = incident_services.incident_declare(
        title="Clock trouble", severity="SEV-3", declared_by=engineer, at=at
    )
    incident_services.note_add(
        incident=incident, author=engineer, text="second", at=at + timedelta(hours=1)
    )
    with timezone.override(LONDON):
        labels = [label for value, label in NoteForm(incident=incident).fields["corrects"].choices]
    assert any(label.startswith("2026-10-25 01:30:00 BST") for label in labels)
    assert any(label.startswith("2026-10-25 01:30:00 GMT") for label in labels)


def test_the_stale_runbook_mail_names_the_review_day_of_the_readers_calendar():
    boss = UserFactory(username="boss", email="boss@example.com")
    ProfileFactory(user=boss, time_zone="America/New_York")
    team = TeamFactory(name="Payments", engineering_manager=boss)
    reviewed = datetime(2025, 11, 11, 21, tzinfo=NEW_YORK)  # 12 November in UTC
    Runbook.objects.create(title="Cache flush", owner_team=team, last_reviewed_at=reviewed)
    assert runbooks.remind_stale_runbooks(now=datetime(2026, 3, 2, 9, tzinfo=UTC)) == 1
    body = Notification.objects.get(recipient=boss).body
    assert "Cache flush (last reviewed 2025-11-11)" in body
