"""Pay and schedule edges: late acknowledgements, regenerating after a handoff change, people
who left, rewritten handoffs, the report's limits and its drill-down per currency."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from incidents.access import ENGINEERS
from incidents.models import IncidentStatus
from oncall import services
from oncall.models import PayPeriod, PayPeriodStatus, Shift, ShiftRole
from oncall.selectors import REPORT_TOO_LATE, REPORT_TOO_LONG, compensation_report, on_call_at
from tests.incidents.factories import IncidentFactory, TeamFactory, severity
from tests.oncall.factories import (
    PageFactory,
    PayPeriodFactory,
    RotationFactory,
    RotationMemberFactory,
    ShiftFactory,
    engineer,
)

pytestmark = pytest.mark.django_db

MARCH = {"start": date(2026, 3, 1), "end": date(2026, 3, 31)}


def _rotation(team, *people, **fields):
    rotation = RotationFactory(team=team, starts_on=date(2026, 3, 2), **fields)
    for position, person in enumerate(people):
        RotationMemberFactory(rotation=rotation, user=person, position=position)
    return rotation


class TestLateAcknowledgement:
    @pytest.fixture
    def handled_elsewhere(self):
        """An overnight SEV-1: ada's page went unanswered, bob answered and it was resolved."""
        ada, bob = engineer("ada"), engineer("bob")
        ada.groups.add(Group.objects.get(name=ENGINEERS))
        paged = datetime(2026, 3, 3, 23, 0, tzinfo=UTC)
        incident = IncidentFactory(
            severity=severity("SEV-1"),
            status=IncidentStatus.RESOLVED,
            started_at=paged,
            detected_at=paged,
            acknowledged_at=paged + timedelta(minutes=6),
            resolved_at=paged + timedelta(hours=1),
        )
        unanswered = PageFactory(
            engineer=ada, incident=incident, paged_at=paged, acknowledged_at=None
        )
        PageFactory(
            engineer=bob,
            incident=incident,
            paged_at=paged + timedelta(minutes=5),
            acknowledged_at=paged + timedelta(minutes=6),
        )
        return ada, unanswered, incident

    def test_a_page_cannot_be_acknowledged_once_its_incident_is_resolved(self, handled_elsewhere):
        ada, page, incident = handled_elsewhere
        with pytest.raises(ValidationError, match="was resolved"):
            services.page_acknowledge(
                page=page, by=ada, at=incident.resolved_at + timedelta(days=3)
            )
        page.refresh_from_db()
        assert page.acknowledged_at is None
        rows = {r.username: r for r in compensation_report(**MARCH).rows}
        assert rows["ada"].sev1_bonus == 0
        assert rows["ada"].comp_time_hours == 0
        assert rows["bob"].sev1_incidents == 1

    def test_before_the_resolution_it_still_can(self, handled_elsewhere):
        ada, page, incident = handled_elsewhere
        services.page_acknowledge(page=page, by=ada, at=incident.resolved_at - timedelta(minutes=1))
        assert {r.username: r.sev1_incidents for r in compensation_report(**MARCH).rows} == {
            "ada": 1,
            "bob": 1,
        }

    def test_my_on_call_no_longer_offers_it(self, handled_elsewhere, client):
        ada, page, incident = handled_elsewhere
        client.force_login(ada)
        with time_machine.travel(incident.resolved_at + timedelta(days=3), tick=False):
            response = client.get("/oncall/me/")
            assert f"/oncall/pages/{page.pk}/acknowledge/" not in response.content.decode()
            refused = client.post(f"/oncall/pages/{page.pk}/acknowledge/", follow=True)
        assert "was resolved" in refused.content.decode()
        page.refresh_from_db()
        assert page.acknowledged_at is None


class TestGenerating:
    def test_a_changed_handoff_time_leaves_no_hour_uncovered(self):
        team = TeamFactory(name="Platform")
        people = [engineer(name, team=team) for name in ("ada", "bob", "cy")]
        rotation = _rotation(team, *people, time_zone="UTC")
        now = datetime(2026, 3, 3, 12, tzinfo=UTC)
        services.rotation_generate_shifts(rotation=rotation, weeks=2, now=now)
        rotation.handoff_time = time(17)
        rotation.save()
        services.rotation_generate_shifts(rotation=rotation, weeks=4, now=now)

        for role in (ShiftRole.PRIMARY, ShiftRole.SECONDARY):
            shifts = list(Shift.objects.filter(rotation=rotation, role=role).order_by("starts_at"))
            for before, after in pairwise(shifts):
                assert before.ends_at == after.starts_at, (role, before, after)
        # The old shifts end at Monday 09:00; the new weeks start at 17:00.
        gap = datetime(2026, 3, 16, 12, tzinfo=UTC)
        assert on_call_at(team=team, at=gap)[ShiftRole.PRIMARY] is not None
        # Running it again adds nothing.
        assert services.rotation_generate_shifts(rotation=rotation, weeks=4, now=now) == []

    def test_someone_who_left_is_not_put_on_call(self):
        team = TeamFactory(name="Platform")
        ada, bob, cy = (engineer(name, team=team) for name in ("ada", "bob", "cy"))
        rotation = _rotation(team, ada, bob, cy)
        ada.is_active = False
        ada.save()
        services.rotation_generate_shifts(
            rotation=rotation, weeks=4, now=datetime(2026, 3, 3, tzinfo=UTC)
        )
        on_call = set(Shift.objects.filter(rotation=rotation).values_list("engineer__username"))
        assert on_call == {("bob",), ("cy",)}

    def test_nobody_active_is_refused(self):
        team = TeamFactory(name="Platform")
        ada = engineer("ada", team=team)
        rotation = _rotation(team, ada)
        ada.is_active = False
        ada.save()
        with pytest.raises(ValidationError, match="no active members"):
            services.rotation_generate_shifts(rotation=rotation, weeks=1)


def test_a_handoff_rewritten_after_it_was_read_is_unread_and_told_again(
    django_capture_on_commit_callbacks,
):
    team = TeamFactory(name="Platform")
    ada, bob = engineer("ada", team=team), engineer("bob", team=team)
    rotation = _rotation(team, ada, bob, has_secondary=False)
    services.rotation_generate_shifts(
        rotation=rotation, weeks=2, now=datetime(2026, 3, 3, tzinfo=UTC)
    )
    at = datetime(2026, 3, 9, 9, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        handoff = services.handoff_for(rotation=rotation, handoff_at=at)
        services.handoff_write(
            handoff=handoff, author=ada, summary="All quiet.", at=at - timedelta(hours=1)
        )
        # Saved again before bob read it: still one notice.
        services.handoff_write(
            handoff=handoff, author=ada, summary="All quiet!", at=at - timedelta(minutes=50)
        )
        services.handoff_acknowledge(handoff=handoff, by=bob, at=at - timedelta(minutes=30))
        services.handoff_write(
            handoff=handoff,
            author=ada,
            summary="The database fails over every hour: do NOT restart it.",
            at=at - timedelta(minutes=15),
        )
    handoff.refresh_from_db()
    assert handoff.acknowledged_at is None
    to_bob = [m for m in mail.outbox if m.to == [bob.email]]
    assert [m.subject.split("] ")[-1] for m in to_bob] == [
        f"Handoff summary from {ada.get_full_name()}",
        f"Changed handoff summary from {ada.get_full_name()}",
    ]
    assert "do NOT restart it" in to_bob[-1].body


def test_my_on_call_balance_counts_tonights_page_west_of_the_project_zone(client):
    lee = engineer("lee", "America/Los_Angeles")
    lee.groups.add(Group.objects.get(name=ENGINEERS))
    # 22:30 in Los Angeles is already tomorrow in UTC, the project's zone.
    paged = datetime(2026, 3, 5, 22, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    PageFactory(engineer=lee, paged_at=paged, acknowledged_at=paged + timedelta(minutes=2))
    client.force_login(lee)
    with time_machine.travel(paged + timedelta(minutes=30), tick=False):
        balance = client.get("/oncall/me/").context["balance"]
    assert balance["granted"] == Decimal("4.00")


class TestReportLimits:
    def test_the_last_date_is_refused_with_a_message(self, client, finance_user):
        client.force_login(finance_user)
        query = "start=2026-01-01&end=9999-12-31"
        for url in (
            f"/oncall/compensation/?{query}",
            f"/oncall/compensation/export.csv?{query}",
            f"/oncall/compensation/engineer/{finance_user.pk}/?{query}",
        ):
            response = client.get(url)
            assert response.status_code == 400, url
            assert REPORT_TOO_LATE in response.content.decode(), url
        with pytest.raises(CommandError, match="before 9999-12-31"):
            call_command(
                "compensation_report", "--start", "9999-01-01", "--end", "9999-12-31",
                stdout=StringIO(),
            )  # fmt: skip

    def test_the_page_covers_at_most_366_days(self, client, finance_user):
        client.force_login(finance_user)
        longest = client.get("/oncall/compensation/?start=2025-01-01&end=2026-01-01")
        assert longest.status_code == 200
        response = client.get("/oncall/compensation/?start=2025-01-01&end=2026-01-02")
        assert response.status_code == 400
        assert REPORT_TOO_LONG in response.content.decode()

    def test_the_team_picker_matches_any_letter_case(self, client, finance_user):
        team = TeamFactory(name="Platform")
        ShiftFactory(
            engineer=engineer("ada", team=team),
            starts_at=datetime(2026, 3, 9, 9, tzinfo=UTC),
            ends_at=datetime(2026, 3, 16, 9, tzinfo=UTC),
        )
        engineer("bob")
        client.force_login(finance_user)
        response = client.get("/oncall/compensation/?start=2026-03-01&end=2026-03-31&team=pLATFORM")
        assert response.status_code == 200
        assert [row.username for row, _balance in response.context["rows"]] == ["ada"]


def test_the_drill_down_shows_every_currency(client, finance_user):
    services.compensation_policy_supersede(
        effective_from=date(2026, 3, 16),
        currency="EUR",
        weekly_stipend=Decimal("450.00"),
        sev1_bonus=Decimal("180.00"),
        comp_hours_per_overnight_page=Decimal("4"),
        overnight_start=time(22),
        overnight_end=time(7),
    )
    ada = engineer("ada")
    ShiftFactory(
        engineer=ada,
        starts_at=datetime(2026, 3, 9, 9, tzinfo=UTC),
        ends_at=datetime(2026, 3, 23, 9, tzinfo=UTC),
    )
    client.force_login(finance_user)
    query = "start=2026-03-01&end=2026-03-31"
    listed = {
        row.currency: row.total_pay
        for row, _ in client.get(f"/oncall/compensation/?{query}").context["rows"]
    }
    text = client.get(f"/oncall/compensation/engineer/{ada.pk}/?{query}").content.decode()
    assert set(listed) == {"EUR", "USD"}
    for currency, total in listed.items():
        assert f"total {total} {currency}" in text


class TestFinanceClosesAPayPeriod:
    # Not inside a test transaction: the request is its own, as in production, so a close
    # that locks rows outside a transaction fails here as it would for finance.
    @pytest.mark.django_db(transaction=True, serialized_rollback=True)
    def test_from_the_report_page(self, client, finance_user):
        period = PayPeriodFactory()
        client.force_login(finance_user)
        page = client.get("/oncall/compensation/", {"period": period.pk}).content.decode()
        close = f"/oncall/compensation/periods/{period.pk}/close/"
        assert f'action="{close}"' in page
        response = client.post(close, follow=True)
        assert "closed: its figures are frozen" in response.content.decode()
        assert PayPeriod.objects.get(pk=period.pk).status == PayPeriodStatus.CLOSED
        assert f'action="{close}"' not in response.content.decode()
        again = client.post(close, follow=True)
        assert "already closed" in again.content.decode()

    def test_not_before_it_ends_and_not_by_engineers(self, client, finance_user, engineer):
        running = PayPeriodFactory(start_date=date(2026, 11, 1), end_date=date(2026, 11, 30))
        client.force_login(finance_user)
        with time_machine.travel(datetime(2026, 11, 23, 12, tzinfo=UTC), tick=False):
            page = client.get("/oncall/compensation/", {"period": running.pk}).content.decode()
            assert "/close/" not in page
            client.post(f"/oncall/compensation/periods/{running.pk}/close/")
        running.refresh_from_db()
        assert running.status == PayPeriodStatus.OPEN
        client.force_login(engineer)
        ended = PayPeriodFactory()
        assert client.post(f"/oncall/compensation/periods/{ended.pk}/close/").status_code == 403


class TestAProjectZoneWithDaylightSaving:
    def test_on_call_hours_are_real_hours_across_the_change(self, settings):
        settings.TIME_ZONE = "Europe/Dublin"
        ada = engineer("ada", "Europe/Dublin")
        ShiftFactory(
            engineer=ada,
            starts_at=datetime(2026, 2, 25, 9, tzinfo=UTC),
            ends_at=datetime(2026, 4, 5, 9, tzinfo=UTC),
        )
        [row] = compensation_report(**MARCH).rows
        # March in Dublin is 31 days less the hour the clocks skip on the 29th.
        assert row.on_call_hours == Decimal("743.00")

    def test_the_default_period_is_the_last_month_in_the_project_zone(
        self, client, finance_user, settings
    ):
        from incidents.services import profile_get_or_create

        profile = profile_get_or_create(user=finance_user)
        profile.time_zone = "America/St_Johns"
        profile.save()
        client.force_login(finance_user)
        # 01:00 UTC on 1 April: March is over in UTC (the project's zone), not yet in St John's.
        with time_machine.travel(datetime(2026, 4, 1, 1, tzinfo=UTC), tick=False):
            report = client.get("/oncall/compensation/").context["report"]
        assert (report.start, report.end) == (date(2026, 3, 1), date(2026, 3, 31))

    def test_the_drill_down_shows_the_engineers_own_clock(self, client, finance_user):
        ravi = engineer("ravi", "Asia/Kathmandu")
        paged = datetime(2026, 3, 10, 17, tzinfo=UTC)  # 22:45 in Kathmandu
        PageFactory(engineer=ravi, paged_at=paged, acknowledged_at=paged + timedelta(minutes=2))
        client.force_login(finance_user)
        page = client.get(
            f"/oncall/compensation/engineer/{ravi.pk}/",
            {"start": "2026-03-01", "end": "2026-03-31"},
        ).content.decode()
        assert "2026-03-10 22:45:00 Asia/Kathmandu" in page


def test_a_period_closes_with_the_longest_names_and_largest_amounts_it_accepts():
    """Closing freezes exactly what the report shows: a full name of two 150-character names
    and a month at the largest stipend and bonus a policy takes still fit its lines."""
    from oncall.models import CompensationPolicy

    CompensationPolicy.objects.update(
        weekly_stipend=Decimal("9999999999.99"),
        sev1_bonus=Decimal("9999999999.99"),
        comp_hours_per_overnight_page=Decimal("999.99"),
    )
    long_named = engineer("longname")
    long_named.first_name, long_named.last_name = "A" * 150, "B" * 150
    long_named.save()
    monday = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for week in range(4):
        ShiftFactory(engineer=long_named, starts_at=monday + timedelta(weeks=week))
    march = PayPeriodFactory(**{"start_date": MARCH["start"], "end_date": MARCH["end"]})
    live = compensation_report(**MARCH).rows

    services.pay_period_close(pay_period=march, by=None, at=datetime(2026, 4, 2, tzinfo=UTC))

    frozen = compensation_report(**MARCH)
    assert frozen.frozen
    assert frozen.rows == live
    [row] = frozen.rows
    assert row.full_name == "A" * 150 + " " + "B" * 150
    assert row.stipend == Decimal("39999999999.96")
