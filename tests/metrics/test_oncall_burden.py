from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.metrics import Period
from incidents.models import IncidentRole, RoleAssignment
from oncall.models import CompensationPolicy
from oncall.selectors import oncall_burden
from tests.incidents.factories import IncidentFactory, TeamFactory
from tests.metrics.fixtures import utc
from tests.oncall.factories import PageFactory, ShiftFactory, engineer

pytestmark = pytest.mark.django_db

MARCH = Period(date(2026, 3, 1), date(2026, 4, 1))


def page(user, at, incident=None, acknowledged=True):
    return PageFactory(
        engineer=user,
        paged_at=at,
        incident=incident,
        acknowledged_at=at + timedelta(minutes=2) if acknowledged else None,
    )


@pytest.fixture
def people():
    """
    ada (Europe/London, Platform): primary 2 Mar 09:00 - 9 Mar 09:00 and secondary
    8 Mar 09:00 - 10 Mar 09:00 (192 h, overlap once); pages Tue 3 Mar 23:30 (overnight),
    Sat 7 Mar 12:00 (weekend, unacknowledged), Sun 8 Mar 06:00 (both), one on 28 Feb
    (outside); incident X by page twice, incident Y as commander.

    bo (America/Los_Angeles, Platform): no shift; pages (UTC → Los Angeles, PDT from 8 March)
    Tue 10 Mar 15:00 → 08:00 (neither), Thu 12 Mar 04:00 → Wed 21:00 (neither, though
    04:00 UTC would be overnight), Sat 14 Mar 18:00 → 11:00 (weekend, incident X),
    Mon 16 Mar 05:30 → Sun 22:30 (overnight and weekend in LA, a weekday in UTC).

    cy (Asia/Kolkata, Identity): 30 Mar 00:00 - 2 Apr 00:00, clipped to 48 h.
    """
    platform, identity = TeamFactory(name="Platform"), TeamFactory(name="Identity")
    ada = engineer("ada", "Europe/London", team=platform)
    bo = engineer("bo", "America/Los_Angeles", team=platform)
    cy = engineer("cy", "Asia/Kolkata", team=identity)
    x, y = IncidentFactory(), IncidentFactory()
    ShiftFactory(engineer=ada, starts_at=utc(2026, 3, 2, 9), ends_at=utc(2026, 3, 9, 9))
    ShiftFactory(
        engineer=ada, role="secondary", starts_at=utc(2026, 3, 8, 9), ends_at=utc(2026, 3, 10, 9)
    )
    page(ada, utc(2026, 3, 3, 23, 30), incident=x)
    page(ada, utc(2026, 3, 7, 12), acknowledged=False)
    page(ada, utc(2026, 3, 8, 6), incident=x)
    page(ada, utc(2026, 2, 28, 23))
    RoleAssignment.objects.create(
        incident=y, role=IncidentRole.COMMANDER, user=ada, assigned_at=utc(2026, 3, 4)
    )
    page(bo, utc(2026, 3, 10, 15))
    page(bo, utc(2026, 3, 12, 4))
    page(bo, utc(2026, 3, 14, 18), incident=x)
    page(bo, utc(2026, 3, 16, 5, 30))
    ShiftFactory(engineer=cy, starts_at=utc(2026, 3, 30), ends_at=utc(2026, 4, 2))
    return {"ada": ada, "bo": bo, "cy": cy, "platform": platform}


def figures(row):
    return (
        row.on_call_hours,
        row.pages,
        row.overnight_pages,
        row.weekend_pages,
        row.incidents_handled,
    )


def test_per_engineer_in_their_own_zone(people):
    burden = oncall_burden(period=MARCH)
    rows = {r.name: r for r in burden.engineers}
    assert figures(rows["Ada Oncall"]) == (Decimal("192.00"), 3, 2, 2, 2)
    assert figures(rows["Bo Oncall"]) == (Decimal("0.00"), 4, 1, 2, 1)
    assert figures(rows["Cy Oncall"]) == (Decimal("48.00"), 0, 0, 0, 0)
    assert [r.name for r in burden.engineers] == ["Bo Oncall", "Ada Oncall", "Cy Oncall"]


def test_per_team_incidents_are_distinct(people):
    teams = {r.name: r for r in oncall_burden(period=MARCH).teams}
    # Platform: X (ada and bo) and Y (ada) are two incidents, not three.
    assert figures(teams["Platform"]) == (Decimal("192.00"), 7, 3, 4, 2)
    assert figures(teams["Identity"]) == (Decimal("48.00"), 0, 0, 0, 0)
    assert [r.name for r in oncall_burden(period=MARCH).teams] == ["Identity", "Platform"]


def test_team_filter_keeps_its_members(people):
    burden = oncall_burden(period=MARCH, team=people["platform"])
    assert {r.name for r in burden.engineers} == {"Ada Oncall", "Bo Oncall"}
    assert [r.name for r in burden.teams] == ["Platform"]


def test_the_overnight_window_follows_the_compensation_policy(people):
    # Without any policy in force the runbook's 22:00-07:00 still applies.
    CompensationPolicy.objects.all().delete()
    rows = {r.name: r for r in oncall_burden(period=MARCH).engineers}
    assert rows["Ada Oncall"].overnight_pages == 2


def test_an_empty_period():
    burden = oncall_burden(period=MARCH)
    assert (burden.engineers, burden.teams) == ([], [])


def test_constant_queries(people):
    def run():
        with CaptureQueriesContext(connection) as ctx:
            oncall_burden(period=MARCH)
        return len(ctx.captured_queries)

    few = run()
    for n in range(20):
        user = engineer(f"e{n}", "Europe/Berlin", team=TeamFactory(name=f"T{n % 3}"))
        ShiftFactory(engineer=user, starts_at=utc(2026, 3, 5, n), ends_at=utc(2026, 3, 6, n))
        page(user, utc(2026, 3, 5, n), incident=IncidentFactory())
    assert run() == few == (2 if connection.vendor == "postgresql" else 5)


def test_a_running_period_counts_the_hours_on_call_so_far_not_the_shifts_ahead(people):
    # 9 March 09:00: ada's primary week is over, her secondary has run a day; cy's shift at
    # the end of March has not begun.
    burden = oncall_burden(period=MARCH, now=utc(2026, 3, 9, 9))
    rows = {r.name: r for r in burden.engineers}
    assert rows["Ada Oncall"].on_call_hours == Decimal("168.00")
    assert "Cy Oncall" not in rows
    # The period over, every hour of it counts.
    rows = {r.name: r for r in oncall_burden(period=MARCH, now=utc(2026, 5, 1)).engineers}
    assert rows["Ada Oncall"].on_call_hours == Decimal("192.00")
    assert rows["Cy Oncall"].on_call_hours == Decimal("48.00")


def test_a_period_still_to_come_has_no_hours_yet(people):
    burden = oncall_burden(period=MARCH, now=utc(2026, 2, 1))
    assert all(row.on_call_hours == Decimal("0.00") for row in burden.engineers)
