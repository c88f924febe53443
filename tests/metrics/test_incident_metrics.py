from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.metrics import (
    MTTD_GOAL,
    PercentileCont,
    Period,
    Share,
    incident_metrics,
    incidents_by_week,
    percentile,
    seconds_between,
    severity_levels,
)
from incidents.models import Incident, RootCauseCategory, Severity
from tests.incidents.factories import ServiceFactory, TeamFactory
from tests.metrics.fixtures import HOUR, MIN, first_quarter_2026, incident, utc

pytestmark = pytest.mark.django_db

Q1 = Period(date(2026, 1, 1), date(2026, 4, 1))
AFTER_Q1 = utc(2026, 4, 10)
S = timedelta(seconds=1)


def by_name(metrics):
    return {f.name: f for f in [*metrics.by_severity, metrics.total]}


# --- Percentiles -----------------------------------------------------------------------------


class TestPercentile:
    def test_linear_interpolation_between_closest_ranks(self):
        assert percentile([4, 1, 3, 2], 0.5) == 2.5  # position 1.5: 2 + 0.5 * (3 - 2)
        assert percentile([1, 2, 3, 4], 0.9) == pytest.approx(3.7)  # position 2.7
        assert percentile([1, 2, 3, 4], 0) == 1
        assert percentile([1, 2, 3, 4], 1) == 4
        assert percentile([10, 20], 0.9) == 19  # position 0.9: 10 + 0.9 * 10

    def test_one_value_and_none(self):
        assert percentile([7], 0.9) == 7
        assert percentile([], 0.5) is None

    def test_fraction_must_be_between_0_and_1(self):
        with pytest.raises(ValueError, match="between 0 and 1"):
            percentile([1], 1.5)
        with pytest.raises(ValueError, match="between 0 and 1"):
            PercentileCont("x", -0.1)

    @pytest.mark.parametrize(
        ("minutes", "fraction"),
        [((1, 2, 6), 0.9), ((3, 4, 8, 15, 20, 30), 0.5), ((40, 60, 120, 180, 240), 0.9)],
    )
    def test_the_database_agrees_with_the_python_definition(self, minutes, fraction):
        # PostgreSQL's own percentile_cont, or the aggregate registered on SQLite.
        for value in minutes:
            incident("SEV-3", utc(2026, 1, 5), ttd=value * MIN)
        got = Incident.objects.aggregate(
            p=PercentileCont(seconds_between("started_at", "detected_at"), fraction)
        )["p"]
        expected = percentile([m * 60.0 for m in minutes], fraction)
        assert got == expected  # the same arithmetic, to the last bit


# --- The hand-computed quarter ------------------------------------------------------------------


class TestFirstQuarter:
    @pytest.fixture
    def figures(self):
        first_quarter_2026()
        return by_name(incident_metrics(period=Q1, now=AFTER_Q1))

    def test_counts_by_severity_with_open_and_customer_impacting(self, figures):
        counts = {name: (f.incidents, f.open, f.customer_impacting) for name, f in figures.items()}
        assert counts == {
            "SEV-1": (3, 1, 2),
            "SEV-2": (3, 1, 0),
            "SEV-3": (1, 0, 0),
            "All": (7, 2, 2),
        }

    def test_time_to_detect(self, figures):
        # SEV-1 [1, 2, 6] min: mean 3, median 2, p90 at 1.8 → 2 + 0.8 x 4 = 5.2 min.
        sev1 = figures["SEV-1"].time_to_detect
        assert (sev1.count, sev1.mean, sev1.median, sev1.p90) == (3, 3 * MIN, 2 * MIN, 312 * S)
        # SEV-2 [3, 4, 5] min: p90 at 1.8 → 4 + 0.8 = 4.8 min.
        sev2 = figures["SEV-2"].time_to_detect
        assert (sev2.mean, sev2.median, sev2.p90) == (4 * MIN, 4 * MIN, 288 * S)
        # All [1, 2, 3, 4, 5, 6, 7]: mean 4, median 4, p90 at 5.4 → 6.4 min.
        every = figures["All"].time_to_detect
        assert (every.count, every.mean, every.median, every.p90) == (7, 4 * MIN, 4 * MIN, 384 * S)

    def test_time_to_acknowledge_leaves_out_the_unacknowledged(self, figures):
        # SEV-1 [3, 4, 8]: mean 5, median 4, p90 at 1.8 → 4 + 0.8 x 4 = 7.2 min.
        sev1 = figures["SEV-1"].time_to_acknowledge
        assert (sev1.count, sev1.mean, sev1.median, sev1.p90) == (3, 5 * MIN, 4 * MIN, 432 * S)
        # SEV-2 [15, 20] (F never acknowledged): mean 17.5, p90 at 0.9 → 19.5 min.
        sev2 = figures["SEV-2"].time_to_acknowledge
        assert (sev2.count, sev2.mean, sev2.median, sev2.p90) == (
            2,
            1050 * S,
            1050 * S,
            1170 * S,
        )
        # All [3, 4, 8, 15, 20, 30]: mean 80/6 = 13 min 20 s, median 11.5, p90 at 4.5 → 25.
        every = figures["All"].time_to_acknowledge
        assert (every.count, every.mean, every.median, every.p90) == (
            6,
            800 * S,
            690 * S,
            25 * MIN,
        )

    def test_time_to_resolve_leaves_out_unresolved_incidents(self, figures):
        # SEV-1 [40, 120] (C open): mean 80, median 80, p90 at 0.9 → 40 + 0.9 x 80 = 112 min.
        sev1 = figures["SEV-1"].time_to_resolve
        assert (sev1.count, sev1.mean, sev1.median, sev1.p90) == (2, 80 * MIN, 80 * MIN, 112 * MIN)
        # SEV-2 [60, 240] (F open): mean 150, p90 → 60 + 0.9 x 180 = 222 min.
        sev2 = figures["SEV-2"].time_to_resolve
        assert (sev2.count, sev2.mean, sev2.median, sev2.p90) == (
            2,
            150 * MIN,
            150 * MIN,
            222 * MIN,
        )
        # All [40, 60, 120, 180, 240]: mean 128, median 120, p90 at 3.6 → 180 + 0.6 x 60.
        every = figures["All"].time_to_resolve
        assert (every.count, every.mean, every.median, every.p90) == (
            5,
            128 * MIN,
            120 * MIN,
            216 * MIN,
        )

    def test_response_target_counts_an_overdue_unacknowledged_incident_as_missed(self, figures):
        # SEV-1 target 5 min: A 3 ✓, B 8 ✗, C 4 ✓. SEV-2 15 min: D exactly 15 ✓ (within),
        # E 20 ✗, F never acknowledged and long past its target ✗. SEV-3 60 min: H 30 ✓.
        shares = {
            name: (f.response_target.met, f.response_target.counted) for name, f in figures.items()
        }
        assert shares == {"SEV-1": (2, 3), "SEV-2": (1, 3), "SEV-3": (1, 1), "All": (4, 7)}
        assert figures["All"].response_target.ratio == Decimal("0.5714")

    def test_goals(self, figures):
        # MTTD under 5 min (strictly): 1, 2, 3, 4 are; 5, 6, 7 are not.
        assert (figures["All"].detect_goal.met, figures["All"].detect_goal.counted) == (4, 7)
        # MTTR SEV-1 under 1 h: A (40 min) yes, B (2 h) no. SEV-2 under 4 h: E yes, D (4 h) no.
        assert figures["SEV-1"].resolve_goal == HOUR
        assert (
            figures["SEV-1"].resolve_goal_share.met,
            figures["SEV-1"].resolve_goal_share.counted,
        ) == (1, 2)
        assert figures["SEV-2"].resolve_goal == 4 * HOUR
        assert (
            figures["SEV-2"].resolve_goal_share.met,
            figures["SEV-2"].resolve_goal_share.counted,
        ) == (1, 2)
        assert figures["SEV-3"].resolve_goal is None
        assert figures["SEV-3"].resolve_goal_share is None

    def test_goal_verdicts_compare_the_mean(self):
        first_quarter_2026()
        goals = {g.key: g for g in incident_metrics(period=Q1, now=AFTER_Q1).goals}
        assert goals["mttd"].target == MTTD_GOAL
        assert (goals["mttd"].actual, goals["mttd"].met) == (4 * MIN, True)
        assert (goals["mttr-0"].name, goals["mttr-0"].actual, goals["mttr-0"].met) == (
            "MTTR SEV-1 under 1 h",
            80 * MIN,
            False,
        )
        assert (goals["mttr-1"].name, goals["mttr-1"].actual, goals["mttr-1"].met) == (
            "MTTR SEV-2 under 4 h",
            150 * MIN,
            True,
        )

    def test_a_level_ranked_above_the_most_severe_one_shares_its_goal_and_tier(self):
        # A manager adds SEV-0 above SEV-1 and leaves the on-call bonus flag on SEV-1.
        sev1 = Severity.objects.get(name="SEV-1")
        Severity.objects.create(
            name="SEV-0",
            label="Catastrophic",
            rank=0,
            description="Everything is down.",
            acknowledge_within=sev1.acknowledge_within,
            update_every=sev1.update_every,
        )
        incident("SEV-0", utc(2026, 2, 2, 10), ttd=MIN, tta=MIN, ttr=2 * HOUR)
        levels = severity_levels()
        sev0 = Severity.objects.get(name="SEV-0")
        assert (levels.tier(sev0.pk), levels.resolve_goal(sev0.pk)) == (0, HOUR)
        goals = incident_metrics(period=Q1, now=AFTER_Q1, levels=levels).goals
        assert [g.name for g in goals] == [
            "MTTD under 5 min",
            "MTTR SEV-0 under 1 h",
            "MTTR SEV-1 under 1 h",
            "MTTR SEV-2 under 4 h",
        ]
        assert (goals[1].actual, goals[1].met) == (2 * HOUR, False)

    def test_a_retired_level_is_never_milder_than_the_next_active_one(self):
        Severity.objects.filter(name="SEV-2").update(is_active=False)
        levels = severity_levels()
        tiers = {s.name: levels.tier(s.pk) for s in Severity.objects.all()}
        assert tiers == {"SEV-1": 0, "SEV-2": 1, "SEV-3": 1}

    def test_unacknowledged_incident_within_its_target_is_pending(self):
        # Ten minutes after detection a SEV-2 (15 min target) is neither met nor missed.
        started = utc(2026, 3, 31, 12)
        incident("SEV-2", started, ttd=MIN)
        figures = by_name(incident_metrics(period=Q1, now=started + 11 * MIN))
        assert (figures["SEV-2"].response_target.met, figures["SEV-2"].response_target.counted) == (
            0,
            0,
        )
        figures = by_name(incident_metrics(period=Q1, now=started + 17 * MIN))
        assert (figures["SEV-2"].response_target.met, figures["SEV-2"].response_target.counted) == (
            0,
            1,
        )

    def test_team_and_service_filters(self):
        rows = first_quarter_2026()
        team = rows["A"].team
        service = ServiceFactory()
        rows["B"].services.add(service)
        rows["E"].services.add(service)
        figures = by_name(incident_metrics(period=Q1, team=team, now=AFTER_Q1))
        assert figures["All"].incidents == 1
        assert figures["SEV-1"].time_to_resolve.mean == 40 * MIN
        figures = by_name(incident_metrics(period=Q1, service=service, now=AFTER_Q1))
        assert (figures["SEV-1"].incidents, figures["SEV-2"].incidents) == (1, 1)


class TestEdges:
    def test_an_empty_period(self):
        metrics = incident_metrics(period=Q1, now=AFTER_Q1)
        assert [f.name for f in metrics.by_severity] == ["SEV-1", "SEV-2", "SEV-3"]
        total = metrics.total
        assert (total.incidents, total.open, total.customer_impacting) == (0, 0, 0)
        assert total.time_to_resolve.count == 0
        assert total.time_to_resolve.mean is None
        assert total.time_to_resolve.p90 is None
        assert total.response_target.ratio is None
        assert all(goal.met is None for goal in metrics.goals)
        assert metrics.repeats == []
        weeks = incidents_by_week(period=Q1, now=AFTER_Q1)
        assert len(weeks) == 14  # Mon 2025-12-29 .. Mon 2026-03-30
        assert sum(w.total for w in weeks) == 0

    def test_only_unresolved_incidents(self):
        incident("SEV-1", utc(2026, 2, 1), ttd=MIN, tta=MIN)
        figures = by_name(incident_metrics(period=Q1, now=AFTER_Q1))
        assert figures["SEV-1"].open == 1
        assert figures["SEV-1"].time_to_resolve.count == 0
        assert figures["SEV-1"].time_to_resolve.median is None
        goals = {g.key: g for g in incident_metrics(period=Q1, now=AFTER_Q1).goals}
        assert goals["mttr-0"].met is None
        assert goals["mttd"].met is True

    def test_a_reopened_incident_counts_as_open_again(self):
        row = incident("SEV-2", utc(2026, 2, 1), ttd=MIN, tta=MIN, ttr=HOUR)
        Incident.objects.filter(pk=row.pk).update(status="investigating", resolved_at=None)
        figures = by_name(incident_metrics(period=Q1, now=AFTER_Q1))
        assert (figures["SEV-2"].open, figures["SEV-2"].time_to_resolve.count) == (1, 0)

    def test_levels_are_read_from_data_not_names(self):
        # An organisation on P0-P3: the flagged level gets the 1 h goal, the next rank 4 h.
        Severity.objects.filter(name="SEV-1").update(name="P0", rank=10)
        Severity.objects.filter(name="SEV-2").update(name="P1", rank=20)
        Severity.objects.filter(name="SEV-3").update(name="P2", rank=30)
        p3 = Severity.objects.create(
            name="P3",
            label="Low",
            rank=40,
            description="Cosmetic",
            acknowledge_within=timedelta(days=1),
            update_every=timedelta(days=1),
        )
        levels = severity_levels()
        assert (levels.most_severe.name, levels.next_level.name) == ("P0", "P1")
        assert levels.resolve_goal(p3.pk) is None
        names = [g.name for g in incident_metrics(period=Q1).goals]
        assert names == ["MTTD under 5 min", "MTTR P0 under 1 h", "MTTR P1 under 4 h"]

    def test_the_next_level_skips_inactive_levels(self):
        Severity.objects.filter(name="SEV-2").update(is_active=False)
        levels = severity_levels()
        assert (levels.most_severe.name, levels.next_level.name) == ("SEV-1", "SEV-3")

    def test_a_retired_level_is_listed_only_when_it_has_incidents(self):
        Severity.objects.filter(name="SEV-3").update(is_active=False)
        assert [f.name for f in incident_metrics(period=Q1).by_severity] == ["SEV-1", "SEV-2"]
        incident("SEV-3", utc(2026, 2, 1), ttd=MIN)
        assert [f.name for f in incident_metrics(period=Q1).by_severity] == [
            "SEV-1",
            "SEV-2",
            "SEV-3",
        ]


# --- Periods and time zones --------------------------------------------------------------------


class TestPeriods:
    def test_quarters(self):
        assert Period.quarter(2026, 1) == Q1
        assert Period.quarter(2026, 4) == Period(date(2026, 10, 1), date(2027, 1, 1))
        assert Period.quarter_of(date(2026, 8, 15)) == Period.quarter(2026, 3)
        assert Q1.quarter_label == "2026-Q1"
        assert Period(date(2026, 1, 1), date(2026, 2, 1)).quarter_label is None
        assert Q1.label == "2026-Q1 (2026-01-01 to 2026-03-31)"

    def test_an_empty_or_backwards_period_is_refused(self):
        with pytest.raises(ValueError, match="after its start"):
            Period(date(2026, 1, 1), date(2026, 1, 1))

    def test_the_end_date_is_excluded_and_the_start_included(self):
        incident("SEV-3", utc(2026, 1, 1), ttd=MIN)
        incident("SEV-3", utc(2026, 4, 1), ttd=MIN)
        assert incident_metrics(period=Q1).total.incidents == 1


@pytest.fixture
def new_york(settings):
    settings.TIME_ZONE = "America/New_York"


class TestTimeZones:
    def test_periods_are_days_in_the_project_zone(self, new_york):
        # 2026-04-01 02:00 UTC is 2026-03-31 22:00 in New York: still the first quarter there.
        incident("SEV-3", utc(2026, 4, 1, 2), ttd=MIN)
        # 2026-01-01 03:00 UTC is 2025-12-31 22:00 in New York: the previous quarter there.
        incident("SEV-3", utc(2026, 1, 1, 3), ttd=MIN)
        assert Q1.starts_at == utc(2026, 1, 1, 5)
        assert Q1.ends_at == utc(2026, 4, 1, 4)  # EDT from 8 March
        assert incident_metrics(period=Q1).total.incidents == 1
        assert incident_metrics(period=Period.quarter(2025, 4)).total.incidents == 1

    def test_same_rows_in_utc_fall_the_other_way(self, settings):
        settings.TIME_ZONE = "UTC"
        incident("SEV-3", utc(2026, 4, 1, 2), ttd=MIN)
        incident("SEV-3", utc(2026, 1, 1, 3), ttd=MIN)
        assert incident_metrics(period=Q1).total.incidents == 1
        assert incident_metrics(period=Period.quarter(2025, 4)).total.incidents == 0

    def test_weeks_are_mondays_in_the_project_zone_across_dst(self, new_york):
        # Sunday 8 March 2026 23:00 in New York (clocks went forward that morning) is
        # Monday 03:00 UTC: it belongs to the week of Monday 2 March there.
        incident("SEV-1", utc(2026, 3, 9, 3), ttd=MIN, tta=MIN, ttr=30 * MIN)
        incident("SEV-1", utc(2026, 3, 9, 5), ttd=MIN, tta=MIN, ttr=90 * MIN)  # Mon 01:00
        weeks = {w.week: w for w in incidents_by_week(period=Q1)}
        sev1 = Severity.objects.get(name="SEV-1").pk
        assert weeks[date(2026, 3, 2)].incidents == {sev1: 1}
        assert weeks[date(2026, 3, 2)].mean_time_to_resolve == {sev1: 30 * MIN}
        assert weeks[date(2026, 3, 9)].incidents == {sev1: 1}
        assert weeks[date(2026, 3, 9)].mean_time_to_resolve == {sev1: 90 * MIN}

    def test_the_readers_own_zone_changes_nothing(self, new_york):
        incident("SEV-3", utc(2026, 4, 1, 2), ttd=MIN)
        incident("SEV-1", utc(2026, 3, 9, 3), ttd=MIN)
        expected = (incident_metrics(period=Q1).total.incidents, incidents_by_week(period=Q1))
        with timezone.override("Asia/Tokyo"):
            got = (incident_metrics(period=Q1).total.incidents, incidents_by_week(period=Q1))
        assert got == expected

    def test_durations_are_elapsed_time_across_a_dst_change(self, new_york):
        # From 01:30 to 03:30 New York time on 8 March 2026 is one real hour.
        started = utc(2026, 3, 8, 6, 30)
        incident("SEV-1", started, ttd=MIN, tta=MIN, ttr=HOUR)
        assert by_name(incident_metrics(period=Q1))["SEV-1"].time_to_resolve.mean == HOUR


class TestWeeks:
    def test_incidents_and_mttr_per_week_by_severity(self):
        first_quarter_2026()
        weeks = {w.week: w for w in incidents_by_week(period=Q1, now=AFTER_Q1)}
        sev = {s.name: s.pk for s in Severity.objects.all()}
        assert (min(weeks), max(weeks), len(weeks)) == (date(2025, 12, 29), date(2026, 3, 30), 14)
        assert weeks[date(2026, 1, 5)].incidents == {sev["SEV-1"]: 1}  # A
        assert weeks[date(2026, 1, 5)].mean_time_to_resolve == {sev["SEV-1"]: 40 * MIN}
        assert weeks[date(2026, 3, 30)].incidents == {sev["SEV-2"]: 1}  # E, Tuesday 31 March
        assert weeks[date(2026, 3, 16)].mean_time_to_resolve == {}  # C still open
        # F: Sunday 1 February, never acknowledged and long past its target.
        assert weeks[date(2026, 1, 26)].incidents == {sev["SEV-2"]: 1}
        assert weeks[date(2026, 1, 26)].response_target == Share(0, 1)
        assert weeks[date(2026, 2, 2)].total == 0
        assert sum(w.total for w in weeks.values()) == 7


# --- Repeat incidents ------------------------------------------------------------------------


class TestRepeats:
    def test_same_cause_within_90_days_even_from_before_the_period_or_another_team(self):
        earlier = incident(
            "SEV-2",
            utc(2025, 11, 1),
            ttd=MIN,
            root_cause_category=RootCauseCategory.CAPACITY,
            team=TeamFactory(name="Payments"),
        )
        # Exactly 90 days later is still a repeat; one second more is not.
        repeat = incident(
            "SEV-2",
            earlier.started_at + timedelta(days=90),
            ttd=MIN,
            root_cause_category=RootCauseCategory.CAPACITY,
            team=TeamFactory(name="Platform"),
        )
        incident(
            "SEV-3",
            repeat.started_at + timedelta(days=90, seconds=1),
            ttd=MIN,
            root_cause_category=RootCauseCategory.DATA,
        )
        incident(
            "SEV-3",
            earlier.started_at + timedelta(days=90, seconds=1),
            ttd=MIN,
            root_cause_category=RootCauseCategory.DATA,
        )
        found = incident_metrics(period=Q1, team=repeat.team).repeats
        assert [(r.incident.pk, r.same_cause_as, r.same_service_as) for r in found] == [
            (repeat.pk, earlier.reference, None)
        ]
        assert incident_metrics(period=Q1).repeat_count == 1

    def test_the_90_days_are_elapsed_time_when_the_period_starts_in_summer_time(self, settings):
        """London's second quarter starts on 1 April 00:00 BST; 90 elapsed days before that is
        31 December 23:00 UTC, an hour before the wall-clock 90 days (1 January 00:00 GMT)."""
        settings.TIME_ZONE = "Europe/London"
        earlier = incident(
            "SEV-3",
            utc(2025, 12, 31, 23, 30),
            ttd=MIN,
            root_cause_category=RootCauseCategory.DEPLOYMENT,
        )
        repeat = incident(
            "SEV-3",
            utc(2026, 3, 31, 23, 10),  # 1 April 00:10 BST: 89 days 23 h 40 min later
            ttd=MIN,
            root_cause_category=RootCauseCategory.DEPLOYMENT,
        )
        [found] = incident_metrics(period=Period.quarter(2026, 2)).repeats
        assert (found.incident, found.same_cause_as) == (repeat, earlier.reference)

    def test_blank_and_unknown_causes_never_match(self):
        for category in ("", RootCauseCategory.UNKNOWN):
            incident("SEV-3", utc(2026, 2, 1), ttd=MIN, root_cause_category=category)
            incident("SEV-3", utc(2026, 2, 2), ttd=MIN, root_cause_category=category)
        assert incident_metrics(period=Q1).repeats == []

    def test_a_shared_service_within_90_days(self):
        checkout, search = ServiceFactory(name="checkout"), ServiceFactory(name="search")
        first = incident("SEV-1", utc(2026, 1, 10), ttd=MIN)
        first.services.add(checkout)
        second = incident("SEV-2", utc(2026, 2, 10), ttd=MIN)
        second.services.add(search, checkout)
        other = incident("SEV-2", utc(2026, 2, 11), ttd=MIN)
        other.services.add(ServiceFactory(name="billing"))
        [found] = incident_metrics(period=Q1).repeats
        assert (found.incident, found.same_service_as, found.shared_service) == (
            second,
            first.reference,
            "checkout",
        )

    @pytest.mark.parametrize("order", [("zeta", "alpha"), ("alpha", "zeta")])
    def test_two_services_shared_with_the_same_incident_name_the_first(self, order):
        # The same earlier incident through two services: the service named is the same on
        # every run and database (the first created), not whichever row came first.
        first_service, second_service = (ServiceFactory(name=name) for name in order)
        earlier = incident("SEV-1", utc(2026, 1, 10), ttd=MIN)
        earlier.services.add(second_service, first_service)
        repeat = incident("SEV-2", utc(2026, 2, 10), ttd=MIN)
        repeat.services.add(second_service, first_service)
        [found] = incident_metrics(period=Q1).repeats
        assert (found.incident, found.shared_service) == (repeat, first_service.name)

    def test_the_latest_earlier_incident_is_named_and_ties_go_by_id(self):
        moment = utc(2026, 2, 1)
        one = incident("SEV-3", moment, ttd=MIN, root_cause_category=RootCauseCategory.DEPLOYMENT)
        two = incident("SEV-3", moment, ttd=MIN, root_cause_category=RootCauseCategory.DEPLOYMENT)
        three = incident(
            "SEV-3", utc(2026, 2, 3), ttd=MIN, root_cause_category=RootCauseCategory.DEPLOYMENT
        )
        found = {r.incident.pk: r.same_cause_as for r in incident_metrics(period=Q1).repeats}
        assert found == {two.pk: one.reference, three.pk: two.reference}

    def test_before_the_period_the_latest_earlier_incident_is_named_too(self):
        # Q1 2026 starts 1 January; three earlier incidents of each kind lie in December.
        checkout = ServiceFactory(name="checkout")
        december = [utc(2025, 12, 1), utc(2025, 12, 20), utc(2025, 12, 20)]
        by_cause = [
            incident("SEV-3", moment, ttd=MIN, root_cause_category=RootCauseCategory.DATA)
            for moment in december
        ]
        by_service = []
        for moment in december:
            earlier = incident("SEV-3", moment + timedelta(hours=1), ttd=MIN)
            earlier.services.add(checkout)
            by_service.append(earlier)
        cause_repeat = incident(
            "SEV-2", utc(2026, 1, 5), ttd=MIN, root_cause_category=RootCauseCategory.DATA
        )
        service_repeat = incident("SEV-2", utc(2026, 1, 6), ttd=MIN)
        service_repeat.services.add(checkout)
        found = {
            r.incident.pk: (r.same_cause_as, r.same_service_as)
            for r in incident_metrics(period=Q1).repeats
        }
        assert found == {
            cause_repeat.pk: (by_cause[2].reference, None),
            service_repeat.pk: (None, by_service[2].reference),
        }


# --- Query counts ----------------------------------------------------------------------------


def _many(count: int) -> None:
    services = [ServiceFactory(), ServiceFactory()]
    for n in range(count):
        row = incident(
            ("SEV-1", "SEV-2", "SEV-3")[n % 3],
            utc(2026, 1, 2) + timedelta(hours=7 * n),
            ttd=(n % 9 + 1) * MIN,
            tta=(n % 5) * MIN if n % 4 else None,
            ttr=(n % 7 + 1) * HOUR if n % 3 else None,
            root_cause_category=RootCauseCategory.CAPACITY if n % 2 else "",
            customer_impact=bool(n % 2),
        )
        row.services.add(services[n % 2])


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_metrics_take_a_constant_number_of_queries():
    def run():
        metrics = incident_metrics(period=Q1, now=AFTER_Q1)
        incidents_by_week(period=Q1, now=AFTER_Q1, levels=metrics.levels)

    _many(3)
    few = _queries(run)
    _many(60)
    assert _queries(run) == few == 5
