"""The compensation rules at their edges, through the report finance reads."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from oncall import services
from oncall.models import CompensationPolicy
from oncall.selectors import compensation_report
from tests.incidents.factories import IncidentFactory, TeamFactory, severity
from tests.oncall.factories import PageFactory, RotationFactory, ShiftFactory, engineer

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def row_for(username: str, start: date, end: date, **kwargs):
    report = compensation_report(start=start, end=end, **kwargs)
    [row] = [r for r in report.rows if r.username == username]
    return row


def week_shift(user, zone, monday: date, rotation=None):
    """Monday 09:00 to the next Monday 09:00, wall clock in ``zone``."""
    start = datetime.combine(monday, time(9), tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=7), time(9), tzinfo=zone)
    kwargs = {"rotation": rotation} if rotation else {}
    return ShiftFactory(engineer=user, starts_at=start, ends_at=end, **kwargs)


class TestStipendAcrossDst:
    @pytest.mark.parametrize(
        ("zone_name", "monday", "elapsed"),
        [
            ("America/New_York", date(2026, 3, 2), "167.00"),  # DST starts Sun 8 March
            ("America/New_York", date(2026, 10, 26), "169.00"),  # DST ends Sun 1 November
            ("Europe/London", date(2026, 3, 23), "167.00"),  # BST starts Sun 29 March
            ("Europe/London", date(2026, 10, 19), "169.00"),  # BST ends Sun 25 October
        ],
    )
    def test_a_full_week_across_a_dst_change_pays_exactly_one_stipend(
        self, zone_name, monday, elapsed
    ):
        zone = ZoneInfo(zone_name)
        ada = engineer("ada", zone_name)
        week_shift(ada, zone, monday)
        row = row_for("ada", monday - timedelta(days=3), monday + timedelta(days=10))
        assert row.on_call_hours == Decimal(elapsed)  # real elapsed hours
        assert row.stipend == Decimal("500.00")
        assert row.total_pay == Decimal("500.00")
        assert row.currency == "USD"

    def test_half_a_week_pays_half(self):
        ada = engineer("ada", "UTC")
        start = datetime(2026, 3, 2, 9, tzinfo=UTC)
        ShiftFactory(engineer=ada, starts_at=start, ends_at=start + timedelta(hours=84))
        assert row_for("ada", date(2026, 3, 1), date(2026, 3, 31)).stipend == Decimal("250.00")


class TestStipendRounding:
    """Half a cent rounds up however the hours were split into shifts: the stipend is summed
    exactly before its one rounding."""

    def test_two_short_shifts_worth_exactly_half_a_cent_more_round_up(self):
        ada = engineer("ada", "UTC")
        start = datetime(2026, 3, 2, 9, tzinfo=UTC)
        # 7 + 56 minutes = 1.05 hours: 500 x 1.05 / 168 = 3.125 exactly.
        ShiftFactory(engineer=ada, starts_at=start, ends_at=start + timedelta(minutes=7))
        later = start + timedelta(hours=5)
        ShiftFactory(engineer=ada, starts_at=later, ends_at=later + timedelta(minutes=56))
        assert row_for("ada", date(2026, 3, 1), date(2026, 3, 31)).stipend == Decimal("3.13")

    def test_one_shift_worth_exactly_half_a_cent_more_rounds_up(self):
        services.compensation_policy_supersede(
            effective_from=date(2026, 1, 1),
            weekly_stipend=Decimal("450.00"),
            sev1_bonus=Decimal("200.00"),
            comp_hours_per_overnight_page=Decimal("4.00"),
            overnight_start=time(22),
            overnight_end=time(7),
        )
        ada = engineer("ada", "UTC")
        start = datetime(2026, 3, 2, 9, tzinfo=UTC)
        # 1 h 38 min at 450/168: 450 x (98 / 60) / 168 = 4.375 exactly.
        ShiftFactory(engineer=ada, starts_at=start, ends_at=start + timedelta(minutes=98))
        assert row_for("ada", date(2026, 3, 1), date(2026, 3, 31)).stipend == Decimal("4.38")


class TestShiftsAndOverrides:
    def test_partial_override_splits_the_stipend_by_hours(self):
        ada, bob = engineer("ada"), engineer("bob")
        shift = week_shift(ada, UTC, date(2026, 3, 2))
        services.shift_override(
            shift=shift,
            starts_at=datetime(2026, 3, 4, 9, tzinfo=UTC),
            ends_at=datetime(2026, 3, 6, 9, tzinfo=UTC),
            engineer=bob,
        )
        ada_row = row_for("ada", date(2026, 3, 1), date(2026, 3, 31))
        bob_row = row_for("bob", date(2026, 3, 1), date(2026, 3, 31))
        assert ada_row.on_call_hours == Decimal("120.00")
        assert ada_row.stipend == Decimal("357.14")  # 500 x 120 / 168 = 357.142857...
        assert bob_row.on_call_hours == Decimal("48.00")
        assert bob_row.stipend == Decimal("142.86")  # 500 x 48 / 168 = 142.857142...

    def test_overlapping_shifts_count_once(self):
        ada = engineer("ada")
        primary = week_shift(ada, UTC, date(2026, 3, 2))
        # The same engineer is also secondary in another rotation for part of that week.
        ShiftFactory(
            engineer=ada,
            rotation=RotationFactory(team=TeamFactory(name="Other")),
            role="secondary",
            starts_at=primary.starts_at + timedelta(days=2),
            ends_at=primary.ends_at + timedelta(days=1),
        )
        row = row_for("ada", date(2026, 3, 1), date(2026, 3, 31))
        assert row.on_call_hours == Decimal("192.00")  # 168 + the 24 hours past the week
        assert row.stipend == Decimal("571.43")  # 500 x 192 / 168

    def test_shifts_crossing_the_period_edges_are_clipped(self):
        ada = engineer("ada")
        ShiftFactory(
            engineer=ada,
            starts_at=datetime(2026, 1, 28, 9, tzinfo=UTC),
            ends_at=datetime(2026, 2, 4, 9, tzinfo=UTC),
        )
        ShiftFactory(
            engineer=ada,
            starts_at=datetime(2026, 2, 25, 9, tzinfo=UTC),
            ends_at=datetime(2026, 3, 4, 9, tzinfo=UTC),
        )
        row = row_for("ada", date(2026, 2, 1), date(2026, 2, 28))
        # 1 Feb 00:00 -> 4 Feb 09:00 is 81 h; 25 Feb 09:00 -> 1 Mar 00:00 is 87 h.
        assert row.on_call_hours == Decimal("168.00")
        assert row.stipend == Decimal("500.00")

    def test_period_edges_are_midnights_in_the_project_time_zone(self, settings):
        settings.TIME_ZONE = "America/New_York"
        ada = engineer("ada", "America/New_York")
        ShiftFactory(
            engineer=ada,
            starts_at=datetime(2026, 1, 31, 23, tzinfo=NY),
            ends_at=datetime(2026, 2, 1, 5, tzinfo=NY),
        )
        assert row_for("ada", date(2026, 2, 1), date(2026, 2, 28)).on_call_hours == Decimal("5.00")
        assert row_for("ada", date(2026, 1, 1), date(2026, 1, 31)).on_call_hours == Decimal("1.00")


class TestOvernightPages:
    @pytest.mark.parametrize("zone_name", ["Asia/Kolkata", "Australia/Adelaide", "Asia/Kathmandu"])
    @pytest.mark.parametrize(
        ("local", "overnight"),
        [
            (time(21, 59, 59), False),
            (time(22, 0, 0), True),
            (time(6, 59, 59), True),
            (time(7, 0, 0), False),
        ],
    )
    def test_window_edges_in_half_hour_zones(self, zone_name, local, overnight):
        zone = ZoneInfo(zone_name)
        ravi = engineer("ravi", zone_name)
        paged_local = datetime.combine(date(2026, 3, 10), local, tzinfo=zone)
        PageFactory(engineer=ravi, paged_at=paged_local.astimezone(UTC))
        row = row_for("ravi", date(2026, 3, 1), date(2026, 3, 31))
        assert row.overnight_pages == (1 if overnight else 0)
        assert row.comp_time_hours == (Decimal("4.00") if overnight else Decimal("0.00"))
        assert row.total_pay == Decimal("0.00")  # comp time is time off, not money

    def test_unacknowledged_pages_earn_nothing(self):
        ravi = engineer("ravi")
        sev1 = IncidentFactory(severity=severity("SEV-1"))
        PageFactory(
            engineer=ravi,
            paged_at=datetime(2026, 3, 10, 23, tzinfo=UTC),
            acknowledged_at=None,
            incident=sev1,
        )
        row = row_for("ravi", date(2026, 3, 1), date(2026, 3, 31))
        assert (row.overnight_pages, row.comp_time_hours) == (0, Decimal("0.00"))
        assert (row.sev1_incidents, row.sev1_bonus) == (0, Decimal("0.00"))

    def test_overnight_is_judged_in_the_engineers_own_zone_with_dst(self):
        # 03:30 UTC on 9 March is 23:30 EDT (DST began the day before): overnight in New York.
        ny = engineer("nyc", "America/New_York")
        PageFactory(engineer=ny, paged_at=datetime(2026, 3, 9, 3, 30, tzinfo=UTC))
        # The same UTC moment is 03:30 in London: overnight there too; 07:30 UTC is not.
        ldn = engineer("ldn", "Europe/London")
        PageFactory(engineer=ldn, paged_at=datetime(2026, 3, 9, 7, 30, tzinfo=UTC))
        report = compensation_report(start=date(2026, 3, 1), end=date(2026, 3, 31))
        rows = {r.username: r.overnight_pages for r in report.rows}
        assert rows == {"ldn": 0, "nyc": 1}


class TestSev1Bonus:
    def test_two_pages_for_one_sev1_earn_one_bonus(self):
        ada = engineer("ada")
        sev1 = IncidentFactory(severity=severity("SEV-1"))
        PageFactory(engineer=ada, incident=sev1, paged_at=datetime(2026, 3, 3, 12, tzinfo=UTC))
        PageFactory(engineer=ada, incident=sev1, paged_at=datetime(2026, 3, 3, 13, tzinfo=UTC))
        row = row_for("ada", date(2026, 3, 1), date(2026, 3, 31))
        assert row.sev1_incidents == 1
        assert row.sev1_bonus == Decimal("200.00")
        assert row.total_pay == Decimal("200.00")

    def test_two_sev1s_earn_two_and_other_severities_none(self):
        ada = engineer("ada")
        for sev in ("SEV-1", "SEV-1", "SEV-2", "SEV-3"):
            PageFactory(engineer=ada, incident=IncidentFactory(severity=severity(sev)))
        row = row_for("ada", date(2026, 3, 1), date(2026, 3, 31))
        assert (row.sev1_incidents, row.sev1_bonus) == (2, Decimal("400.00"))

    def test_a_sev1_first_acknowledged_in_the_previous_period_earns_nothing_in_this_one(self):
        ada = engineer("ada")
        sev1 = IncidentFactory(severity=severity("SEV-1"))
        PageFactory(engineer=ada, incident=sev1, paged_at=datetime(2026, 2, 28, 23, tzinfo=UTC))
        PageFactory(engineer=ada, incident=sev1, paged_at=datetime(2026, 3, 1, 1, tzinfo=UTC))
        march = row_for("ada", date(2026, 3, 1), date(2026, 3, 31))
        february = row_for("ada", date(2026, 2, 1), date(2026, 2, 28))
        assert (march.sev1_incidents, march.sev1_bonus) == (0, Decimal("0.00"))
        assert (february.sev1_incidents, february.sev1_bonus) == (1, Decimal("200.00"))

    def test_an_unacknowledged_earlier_page_does_not_move_the_bonus(self):
        ada = engineer("ada")
        sev1 = IncidentFactory(severity=severity("SEV-1"))
        PageFactory(
            engineer=ada,
            incident=sev1,
            paged_at=datetime(2026, 2, 28, 23, tzinfo=UTC),
            acknowledged_at=None,
        )
        PageFactory(engineer=ada, incident=sev1, paged_at=datetime(2026, 3, 1, 1, tzinfo=UTC))
        assert row_for("ada", date(2026, 3, 1), date(2026, 3, 31)).sev1_incidents == 1

    def test_the_most_severe_flag_not_the_name_decides(self):
        ada = engineer("ada")
        from incidents.models import Severity

        Severity.objects.filter(name="SEV-1").update(is_most_severe=False)
        Severity.objects.filter(name="SEV-2").update(is_most_severe=True)
        PageFactory(engineer=ada, incident=IncidentFactory(severity=severity("SEV-2")))
        assert row_for("ada", date(2026, 3, 1), date(2026, 3, 31)).sev1_incidents == 1


class TestPolicies:
    def test_a_policy_change_inside_the_period_prices_each_hour_and_page_by_its_moment(self):
        ada = engineer("ada")
        services.compensation_policy_supersede(
            effective_from=date(2026, 3, 5),
            weekly_stipend=Decimal("840.00"),
            sev1_bonus=Decimal("300.00"),
            comp_hours_per_overnight_page=Decimal("6.00"),
            overnight_start=time(22),
            overnight_end=time(7),
        )
        # 2 March 09:00 -> 5 March 00:00 = 63 h at 500/168; 5 March 00:00 -> 9 March 09:00 =
        # 105 h at 840/168.
        week_shift(ada, UTC, date(2026, 3, 2))
        sev1_before = IncidentFactory(severity=severity("SEV-1"))
        sev1_after = IncidentFactory(severity=severity("SEV-1"))
        PageFactory(
            engineer=ada, incident=sev1_before, paged_at=datetime(2026, 3, 3, 23, tzinfo=UTC)
        )
        PageFactory(
            engineer=ada, incident=sev1_after, paged_at=datetime(2026, 3, 6, 23, tzinfo=UTC)
        )
        row = row_for("ada", date(2026, 3, 1), date(2026, 3, 31))
        stipend = Decimal(500) * 63 / 168 + Decimal(840) * 105 / 168
        assert row.stipend == stipend.quantize(Decimal("0.01"))  # 187.50 + 525.00
        assert row.stipend == Decimal("712.50")
        assert row.sev1_bonus == Decimal("500.00")
        assert row.comp_time_hours == Decimal("10.00")
        assert row.total_pay == Decimal("1212.50")

    def test_rounding_happens_once_per_line_half_up(self):
        ada = engineer("ada")
        # Three separate one-hour shifts: 500/168 = 2.976190... each; per-shift rounding would
        # give 3 x 2.98 = 8.94, rounding the line gives 8.93 (8.928571...).
        for day in (2, 3, 4):
            start = datetime(2026, 3, day, 9, tzinfo=UTC)
            ShiftFactory(engineer=ada, starts_at=start, ends_at=start + timedelta(hours=1))
        assert row_for("ada", date(2026, 3, 1), date(2026, 3, 31)).stipend == Decimal("8.93")

    def test_no_policy_in_force_is_a_clear_error(self):
        CompensationPolicy.objects.all().delete()
        ada = engineer("ada")
        week_shift(ada, UTC, date(2026, 3, 2))
        with pytest.raises(ValidationError, match="No compensation policy is in force"):
            compensation_report(start=date(2026, 3, 1), end=date(2026, 3, 31))


class TestRows:
    def test_one_row_per_engineer_with_activity_sorted_by_username(self):
        team = TeamFactory(name="Payments")
        zed, amy, idle = engineer("zed", team=team), engineer("amy"), engineer("idle")
        week_shift(zed, UTC, date(2026, 3, 2))
        week_shift(zed, UTC, date(2026, 3, 16))
        PageFactory(engineer=amy, paged_at=datetime(2026, 3, 3, 12, tzinfo=UTC))
        ShiftFactory(
            engineer=idle,
            starts_at=datetime(2026, 4, 6, 9, tzinfo=UTC),
            ends_at=datetime(2026, 4, 13, 9, tzinfo=UTC),
        )
        report = compensation_report(start=date(2026, 3, 1), end=date(2026, 3, 31))
        assert [r.username for r in report.rows] == ["amy", "zed"]
        zed_row = report.rows[1]
        assert zed_row.values() == {
            "username": "zed",
            "full_name": "Zed Oncall",
            "team": "Payments",
            "on_call_hours": "336.00",
            "stipend": "1000.00",
            "sev1_incidents": 0,
            "sev1_bonus": "0.00",
            "overnight_pages": 0,
            "comp_time_hours": "0.00",
            "total_pay": "1000.00",
            "currency": "USD",
        }
        team_report = compensation_report(
            start=date(2026, 3, 1), end=date(2026, 3, 31), team="Payments"
        )
        assert [r.username for r in team_report.rows] == ["zed"]

    def test_end_before_start_is_refused(self):
        with pytest.raises(ValidationError):
            compensation_report(start=date(2026, 3, 2), end=date(2026, 3, 1))


def test_report_takes_a_constant_number_of_queries():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def build(count: int, offset: int):
        for n in range(count):
            user = engineer(f"eng{offset + n:03d}", "Europe/London", team=TeamFactory(name="T"))
            week_shift(user, LONDON, date(2026, 3, 2))
            sev1 = IncidentFactory(severity=severity("SEV-1"))
            PageFactory(engineer=user, incident=sev1, paged_at=datetime(2026, 3, 3, 23, tzinfo=UTC))
            PageFactory(engineer=user, paged_at=datetime(2026, 3, 4, 12, tzinfo=UTC))

    def run(**kwargs) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            report = compensation_report(start=date(2026, 3, 1), end=date(2026, 3, 31), **kwargs)
        return len(ctx.captured_queries), len(report.rows)

    build(2, 0)
    small, small_team = run(), run(team="t")
    assert small[1] == small_team[1] == 2
    build(30, 100)
    large, large_team = run(), run(team="t")
    assert large[1] == large_team[1] == 32
    assert small[0] == large[0]
    assert small_team[0] == large_team[0]


class TestCurrenciesAndFallBack:
    def test_a_currency_change_gives_one_row_per_currency_and_totals_per_currency(self):
        ada = engineer("ada")
        services.compensation_policy_supersede(
            effective_from=date(2026, 3, 16),
            currency="EUR",
            weekly_stipend=Decimal("400.00"),
            sev1_bonus=Decimal("150.00"),
            comp_hours_per_overnight_page=Decimal("4.00"),
            overnight_start=time(22),
            overnight_end=time(7),
        )
        week_shift(ada, UTC, date(2026, 3, 2))
        week_shift(ada, UTC, date(2026, 3, 16))
        report = compensation_report(start=date(2026, 3, 1), end=date(2026, 3, 31))
        assert [(r.username, r.currency, r.total_pay) for r in report.rows] == [
            ("ada", "EUR", Decimal("400.00")),
            ("ada", "USD", Decimal("500.00")),
        ]
        assert [(t["currency"], t["total_pay"]) for t in report.totals()] == [
            ("EUR", Decimal("400.00")),
            ("USD", Decimal("500.00")),
        ]

    def test_an_override_across_the_fall_back_night_never_pays_negative(self):
        # Europe/London goes back at 01:00 UTC on 25 October 2026.
        ada, bob = engineer("ada", "Europe/London"), engineer("bob", "Europe/London")
        shift = week_shift(ada, LONDON, date(2026, 10, 19))
        services.shift_override(
            shift=shift,
            starts_at=datetime(2026, 10, 25, 0, 45, tzinfo=UTC),
            ends_at=datetime(2026, 10, 25, 1, 15, tzinfo=UTC),
            engineer=bob,
        )
        rows = {
            r.username: r
            for r in compensation_report(start=date(2026, 10, 1), end=date(2026, 10, 31)).rows
        }
        assert rows["bob"].on_call_hours == Decimal("0.50")
        assert Decimal("0") < rows["bob"].stipend < Decimal("1.50")
        assert rows["ada"].stipend <= Decimal("500.00")
        assert rows["ada"].stipend + rows["bob"].stipend == Decimal("500.00")

    def test_team_names_match_in_any_case_and_unknown_teams_are_an_error(self):
        ada = engineer("ada", team=TeamFactory(name="Payments"))
        week_shift(ada, UTC, date(2026, 3, 2))
        rows = compensation_report(start=date(2026, 3, 1), end=date(2026, 3, 31), team="payments")
        assert [r.username for r in rows.rows] == ["ada"]
        with pytest.raises(ValidationError, match="Unknown team: Nope"):
            compensation_report(start=date(2026, 3, 1), end=date(2026, 3, 31), team="Nope")
