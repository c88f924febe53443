"""The engineers' on-call pages, through the test client."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from oncall import services
from oncall.models import CalendarFeed, CompTimeTaken, Handoff, PayPeriodStatus, ShiftRole
from tests.incidents.factories import IncidentFactory, ProfileFactory, TeamFactory
from tests.oncall.factories import (
    PageFactory,
    PayPeriodFactory,
    RotationFactory,
    RotationMemberFactory,
)

pytestmark = pytest.mark.django_db

ME = reverse("oncall:me")


@pytest.fixture
def rotation(engineer, other_engineer):
    """A rotation whose week 0 started yesterday: engineer is primary now, other next."""
    ProfileFactory(user=engineer)
    ProfileFactory(user=other_engineer)
    today = timezone.localdate()
    rotation = RotationFactory(
        team=TeamFactory(name="Platform"),
        starts_on=today - timedelta(days=1),
        handoff_weekday=(today - timedelta(days=1)).weekday(),
    )
    RotationMemberFactory(rotation=rotation, user=engineer, position=0)
    RotationMemberFactory(rotation=rotation, user=other_engineer, position=1)
    services.rotation_generate_shifts(rotation=rotation, weeks=4)
    return rotation


def test_my_on_call_shows_shifts_handoff_pages_balance_and_calendar(client, engineer, rotation):
    page = PageFactory(
        engineer=engineer, paged_at=timezone.now() - timedelta(minutes=1), acknowledged_at=None
    )
    client.force_login(engineer)
    response = client.get(ME)
    text = response.content.decode()
    assert response.status_code == 200
    assert "On call now:" in text
    assert "Primary" in text
    assert "hands off to" in text
    assert reverse("oncall:page_ack", args=[page.pk]) in text
    assert "Balance:" in text
    assert "Create my calendar link" in text


def test_acknowledge_a_page_in_one_click_and_only_your_own(client, engineer, other_engineer):
    mine = PageFactory(engineer=engineer, acknowledged_at=None, paged_at=timezone.now())
    theirs = PageFactory(engineer=other_engineer, acknowledged_at=None, paged_at=timezone.now())
    client.force_login(engineer)
    assert client.post(reverse("oncall:page_ack", args=[mine.pk])).status_code == 302
    assert client.post(reverse("oncall:page_ack", args=[theirs.pk])).status_code == 403
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.acknowledged_at is not None
    assert theirs.acknowledged_at is None


def test_write_a_handoff_and_the_incoming_engineer_reads_it(
    client, engineer, other_engineer, rotation
):
    shift = rotation.shifts.filter(engineer=engineer, role=ShiftRole.PRIMARY).first()
    client.force_login(engineer)
    data = {
        "rotation": rotation.pk,
        "handoff_at": shift.ends_at.isoformat(),
        "summary": "Kafka lag alert is flaky.",
    }
    assert client.post(reverse("oncall:handoff_write"), data).status_code == 302
    handoff = Handoff.objects.get()
    assert handoff.summary == "Kafka lag alert is flaky."
    client.force_login(other_engineer)
    # The incoming engineer sees it once the handoff has happened (or is about to).
    Handoff.objects.filter(pk=handoff.pk).update(handoff_at=timezone.now())
    assert "Kafka lag alert is flaky." in client.get(ME).content.decode()
    client.post(reverse("oncall:handoff_ack", args=[handoff.pk]))
    handoff.refresh_from_db()
    assert handoff.acknowledged_at is not None


def test_another_engineer_cannot_write_or_acknowledge_my_handoff(
    client, engineer, other_engineer, finance_user, rotation
):
    shift = rotation.shifts.filter(engineer=engineer, role=ShiftRole.PRIMARY).first()
    data = {
        "rotation": rotation.pk,
        "handoff_at": shift.ends_at.isoformat(),
        "summary": "Forged summary",
    }
    client.force_login(other_engineer)
    assert client.post(reverse("oncall:handoff_write"), data).status_code == 403
    assert not Handoff.objects.exists()  # refused, and nothing written
    handoff = services.handoff_for(rotation=rotation, handoff_at=shift.ends_at)
    services.handoff_write(handoff=handoff, author=engineer, summary="Real summary")
    client.force_login(engineer)  # the outgoing engineer is not the one to acknowledge it
    assert client.post(reverse("oncall:handoff_ack", args=[handoff.pk])).status_code == 403
    client.force_login(finance_user)
    assert client.post(reverse("oncall:handoff_write"), data).status_code == 403
    handoff.refresh_from_db()
    assert (handoff.summary, handoff.acknowledged_at) == ("Real summary", None)


def test_empty_handoff_summary_is_a_field_error(client, engineer, rotation):
    shift = rotation.shifts.filter(engineer=engineer, role=ShiftRole.PRIMARY).first()
    client.force_login(engineer)
    response = client.post(
        reverse("oncall:handoff_write"),
        {"rotation": rotation.pk, "handoff_at": shift.ends_at.isoformat(), "summary": ""},
    )
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


def test_log_comp_time_and_bad_hours(client, engineer):
    client.force_login(engineer)
    day = timezone.localdate().isoformat()
    client.post(reverse("oncall:comp_time_log"), {"day": day, "hours": "4", "note": "sleep"})
    assert CompTimeTaken.objects.get().hours == Decimal("4.00")
    response = client.post(reverse("oncall:comp_time_log"), {"day": day, "hours": "0"})
    assert response.status_code == 200
    assert "greater than or equal to 0.25" in response.content.decode()
    assert CompTimeTaken.objects.count() == 1
    # A year typed with two digits: the date picker sends 0026, which no day off is in.
    response = client.post(reverse("oncall:comp_time_log"), {"day": "0026-11-20", "hours": "4"})
    assert response.status_code == 200
    assert "cannot be before 1900; check the year" in response.content.decode()
    assert CompTimeTaken.objects.count() == 1


def test_no_comp_time_in_a_closed_pay_period_nor_years_ahead(client, engineer, manager):
    # A closed period's balances were paid as they were; a mistyped year would use up the
    # balance. Both are refused beside the date, by the page and by the admin.
    today = timezone.localdate()
    closed = PayPeriodFactory(
        start_date=today - timedelta(days=60), end_date=today - timedelta(days=31)
    )
    closed.status, closed.closed_at = PayPeriodStatus.CLOSED, timezone.now()
    closed.save()
    client.force_login(engineer)
    inside = (today - timedelta(days=40)).isoformat()
    response = client.post(reverse("oncall:comp_time_log"), {"day": inside, "hours": "4"})
    assert response.status_code == 200
    assert "which finance has closed" in response.content.decode()
    far = (today + timedelta(days=400)).isoformat()
    response = client.post(reverse("oncall:comp_time_log"), {"day": far, "hours": "4"})
    assert "at most a year ahead" in response.content.decode()
    admin = Client()
    admin.force_login(manager)
    response = admin.post(
        reverse("admin:oncall_comptimetaken_add"),
        {"engineer": engineer.pk, "date": inside, "hours": "4", "note": ""},
    )
    assert response.status_code == 200
    assert "which finance has closed" in response.content.decode()
    assert not CompTimeTaken.objects.exists()
    # A day of an open period, or booked ahead, is fine.
    client.post(reverse("oncall:comp_time_log"), {"day": today.isoformat(), "hours": "4"})
    assert CompTimeTaken.objects.count() == 1


def test_a_day_off_booked_ahead_lowers_my_balance_at_once(client, engineer):
    # One acknowledged overnight page (03:00 in the project's zone) earned 4 hours.
    night = timezone.make_aware(
        datetime.combine(timezone.localdate() - timedelta(days=3), time(3, 0))
    )
    PageFactory(engineer=engineer, paged_at=night, acknowledged_at=night + timedelta(minutes=2))
    client.force_login(engineer)
    next_week = (timezone.localdate() + timedelta(days=7)).isoformat()
    client.post(reverse("oncall:comp_time_log"), {"day": next_week, "hours": "3"})
    text = client.get(ME).content.decode()
    assert "Balance: <strong>1.00 h</strong>" in text
    assert "(earned 4.00 h, taken 3.00 h)" in text


def test_calendar_link_and_digest_preference(client, engineer):
    client.force_login(engineer)
    client.post(reverse("oncall:calendar_feed_new"))
    token = CalendarFeed.objects.get(user=engineer).token
    assert token in client.get(ME).content.decode()
    client.post(reverse("oncall:digest"), {"mute_digest": "on"})
    engineer.profile.refresh_from_db()
    assert engineer.profile.mute_digest is True


def test_on_call_now_and_rotation_calendar(client, engineer, rotation):
    client.force_login(engineer)
    now_page = client.get(reverse("oncall:now")).content.decode()
    assert "Platform" in now_page
    assert engineer.get_full_name() in now_page
    calendar = client.get(reverse("oncall:rotation", args=[rotation.pk]))
    assert calendar.status_code == 200
    assert len(calendar.context["weeks"]) == 8


def test_my_on_call_query_count_is_constant(client, engineer, rotation):
    client.force_login(engineer)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(ME).status_code == 200
        return len(ctx.captured_queries)

    small = count()
    for n in range(20):
        PageFactory(
            engineer=engineer,
            paged_at=timezone.now() - timedelta(hours=n),
            acknowledged_at=None
            if n % 2
            else timezone.now() - timedelta(hours=n) + timedelta(minutes=1),
        )
    services.rotation_generate_shifts(rotation=rotation, weeks=8)
    assert count() == small


@pytest.mark.parametrize(
    ("name", "field"),
    [("oncall:handoff_write", "rotation"), ("incidents:runbook_start", "runbook")],
)
@pytest.mark.parametrize("value", ["abc", "", "²"])
def test_a_hand_made_post_without_a_number_is_a_400(client, engineer, name, field, value):
    args = [IncidentFactory().pk] if name.startswith("incidents") else []
    client.force_login(engineer)
    response = client.post(reverse(name, args=args), {field: value})
    assert response.status_code == 400


class TestAWrittenHandoffAndAnOverride:
    """A written handoff stays with the two people it was written for."""

    NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)

    def _rotation(self):
        from oncall.models import Shift, ShiftRole
        from tests.incidents.factories import EngineerFactory, TeamFactory
        from tests.oncall.factories import RotationFactory, RotationMemberFactory

        ann, bob, cat = (EngineerFactory(username=n) for n in ("ann", "bob", "cat"))
        rotation = RotationFactory(team=TeamFactory(name="Platform"), starts_on=date(2026, 3, 9))
        RotationMemberFactory(rotation=rotation, user=ann, position=0)
        RotationMemberFactory(rotation=rotation, user=cat, position=1)
        services.rotation_generate_shifts(rotation=rotation, weeks=2, now=self.NOW)
        shift = Shift.objects.get(engineer=ann, role=ShiftRole.PRIMARY)
        handoff = services.handoff_for(rotation=rotation, handoff_at=shift.ends_at)
        services.handoff_write(handoff=handoff, author=ann, summary="Ann's notes for Cat")
        return rotation, ann, bob, cat, shift

    def test_whoever_covers_the_last_day_is_not_offered_it(self, manager):
        from oncall.selectors import my_on_call

        _, _, bob, _, shift = self._rotation()
        services.shift_override(
            shift=shift,
            starts_at=shift.ends_at - timedelta(days=1),
            ends_at=shift.ends_at,
            engineer=bob,
            by=manager,
        )
        assert my_on_call(user=bob, now=self.NOW).handoff_to_write is None

    def test_its_writer_sees_whom_it_was_written_for(self, manager):
        from oncall.models import Shift, ShiftRole
        from oncall.selectors import my_on_call

        _, ann, bob, cat, _ = self._rotation()
        incoming = Shift.objects.get(engineer=cat, role=ShiftRole.PRIMARY)
        services.shift_override(
            shift=incoming,
            starts_at=incoming.starts_at,
            ends_at=incoming.starts_at + timedelta(days=1),
            engineer=bob,
            by=manager,
        )
        assert my_on_call(user=ann, now=self.NOW).handoff_to_write["incoming"] == cat


def test_the_handoff_offered_is_the_one_due_first_of_a_shift_under_way():
    from oncall.selectors import my_on_call
    from tests.incidents.factories import EngineerFactory, TeamFactory
    from tests.oncall.factories import RotationFactory, ShiftFactory

    ann, cat = EngineerFactory(username="ann"), EngineerFactory(username="cat")
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    soon, later = (
        RotationFactory(team=TeamFactory(name="A")),
        RotationFactory(team=TeamFactory(name="B")),
    )
    # The shift in "later" began first; the one in "soon" ends first.
    for rotation, starts, ends in (
        (later, now - timedelta(days=6), now + timedelta(days=3)),
        (soon, now - timedelta(days=1), now + timedelta(hours=2)),
    ):
        ShiftFactory(rotation=rotation, engineer=ann, starts_at=starts, ends_at=ends)
        ShiftFactory(
            rotation=rotation, engineer=cat, starts_at=ends, ends_at=ends + timedelta(days=7)
        )
    offered = my_on_call(user=ann, now=now).handoff_to_write
    assert (offered["rotation"], offered["handoff_at"]) == (soon, now + timedelta(hours=2))
    # Cat's weeks have not begun: nothing to hand over yet.
    assert my_on_call(user=cat, now=now).handoff_to_write is None
