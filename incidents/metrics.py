"""Incident metrics for the dashboard and the quarterly review (see docs/metrics.md).

Everything is computed in the database in a fixed number of queries whatever the number of
incidents: per-row durations are SQL expressions, the figures are aggregates grouped by
severity or week, percentiles are ``percentile_cont`` (on SQLite, an aggregate of the same
definition registered on every connection), and repeat incidents are correlated subqueries.

Definitions, in short:

- A **period** is [start date 00:00, end date 00:00) in the project's ``TIME_ZONE``: the end
  date is excluded, so the first quarter of 2026 is ``Period(date(2026, 1, 1), date(2026, 4,
  1))``. An incident belongs to the period holding its **start** (``started_at``), the moment
  all three durations count from or pass through.
- **MTTD** = detected - started, **MTTA** = acknowledged - detected (acknowledged incidents
  only), **MTTR** = resolved - started (resolved incidents only; unresolved ones are counted as
  open). Each as mean, median and 90th percentile, per severity (the incident's severity now)
  and for all severities.
- **Percentiles** interpolate linearly between the two closest ranks, exactly like
  PostgreSQL's ``percentile_cont``: for sorted values x[0..n-1] and fraction p, the position is
  h = p (n - 1) and the result x[⌊h⌋] + (h - ⌊h⌋) (x[⌈h⌉] - x[⌊h⌋]).
- **Response target**: acknowledged within the severity's ``acknowledge_within`` (at most).
  An incident not acknowledged yet counts as missed once its target has passed and is left
  out (pending) before that.
- **Goals** (runbook): MTTD under 5 minutes for every incident; MTTR under 1 hour for the most
  severe level and under 4 hours for the next level by rank. The levels are read from data:
  the level flagged ``is_most_severe`` (else the lowest rank), then the next active level by
  rank. "Under" is strict.
- **Repeat incident**: an incident of the period whose start is at most 90 days (elapsed) after
  the start of an earlier incident (any team) with the same root-cause category (blank and
  "unknown" never match) or sharing an affected service.
"""

import math
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import NotSupportedError, connection
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    DateField,
    DateTimeField,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Trunc
from django.utils import timezone

from incidents.models import Incident, RootCauseCategory, Service, Severity, Team

MTTD_GOAL = timedelta(minutes=5)
MTTR_GOALS = (timedelta(hours=1), timedelta(hours=4))  # most severe level, then the next one
REPEAT_WINDOW = timedelta(days=90)
# Categories that say nothing about the cause, so two of them are not "the same root cause".
NO_CAUSE_CATEGORIES = ("", RootCauseCategory.UNKNOWN)

PERIOD_EMPTY = "The period's end date must be after its start date."
RATIO_PLACES = Decimal("0.0001")


# --- Periods ------------------------------------------------------------------------------------


def project_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def day_start(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    """00:00 of ``day`` in ``zone``, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=zone)


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Period:
    """[start, end) as dates in the project's TIME_ZONE; ``end`` is excluded."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(PERIOD_EMPTY)

    @classmethod
    def quarter(cls, year: int, number: int) -> "Period":
        if number not in (1, 2, 3, 4):
            raise ValueError("A quarter is numbered 1 to 4.")
        start = date(year, 3 * number - 2, 1)
        end = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
        return cls(start, end)

    @classmethod
    def quarter_of(cls, day: date) -> "Period":
        return cls.quarter(day.year, (day.month - 1) // 3 + 1)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return project_zone()

    @property
    def starts_at(self) -> datetime:
        return day_start(self.start, self.zone)

    @property
    def ends_at(self) -> datetime:
        return day_start(self.end, self.zone)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def quarter_label(self) -> str | None:
        """``2026-Q1`` when the period is exactly a calendar quarter."""
        quarter = Period.quarter_of(self.start)
        if quarter == self:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return None

    @property
    def label(self) -> str:
        dates = f"{self.start:%Y-%m-%d} to {self.last_day:%Y-%m-%d}"
        quarter = self.quarter_label
        return f"{quarter} ({dates})" if quarter else dates

    def weeks(self) -> list[date]:
        """The Mondays of every ISO week that overlaps the period, in order."""
        weeks, monday = [], week_start(self.start)
        while monday < self.end:
            weeks.append(monday)
            monday += timedelta(days=7)
        return weeks

    def as_of(self, now: datetime) -> datetime:
        """The moment figures "at the end of the period" are taken: its end, or ``now`` while
        the period is still running."""
        return min(now, self.ends_at)


# --- Percentiles and durations in SQL ----------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` percentile of ``values`` (sorted or not) by linear interpolation
    between the closest ranks, computed exactly as PostgreSQL's ``percentile_cont``.
    None for no values."""
    if not 0 <= fraction <= 1:
        raise ValueError("A percentile fraction is between 0 and 1.")
    ordered = sorted(values)
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    first = ordered[lower]
    if upper == lower:
        return first
    return first + (ordered[upper] - first) * (position - lower)


SQLITE_PERCENTILE = "incidentdesk_percentile_cont"


class _SqlitePercentileCont:
    """SQLite aggregate ``incidentdesk_percentile_cont(value, fraction)``: PostgreSQL's
    ``percentile_cont(fraction) WITHIN GROUP (ORDER BY value)``, nulls ignored."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction) -> None:
        self.fraction = fraction
        if value is not None:
            self.values.append(float(value))

    def finalize(self):
        return percentile(self.values, self.fraction)


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: give SQLite the percentile aggregate PostgreSQL has
    (Django registers its own helpers such as ``STDDEV_POP`` the same way)."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate(SQLITE_PERCENTILE, 2, _SqlitePercentileCont)


class PercentileCont(Aggregate):
    """The continuous percentile of a numeric expression (see ``percentile``)."""

    name = "PercentileCont"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile fraction is between 0 and 1.")
        super().__init__(expression, Value(float(fraction)), **extra)

    def _parts(self, compiler):
        # The aggregate's own sources (get_source_expressions() adds its filter, unused here).
        value, fraction = self.source_expressions
        return compiler.compile(value), compiler.compile(fraction)

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError("PercentileCont supports PostgreSQL and SQLite.")

    def as_postgresql(self, compiler, connection, **extra_context):
        (value_sql, value_params), (fraction_sql, fraction_params) = self._parts(compiler)
        sql = f"PERCENTILE_CONT({fraction_sql}) WITHIN GROUP (ORDER BY {value_sql})"
        return sql, (*fraction_params, *value_params)

    def as_sqlite(self, compiler, connection, **extra_context):
        (value_sql, value_params), (fraction_sql, fraction_params) = self._parts(compiler)
        return f"{SQLITE_PERCENTILE}({value_sql}, {fraction_sql})", (
            *value_params,
            *fraction_params,
        )


class Seconds(Func):
    """A duration expression (a ``DurationField`` column, or one moment minus another) as
    elapsed seconds, a float. PostgreSQL: the interval's epoch; SQLite: Django keeps
    durations as microseconds there."""

    output_field = FloatField()

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError("Seconds supports PostgreSQL and SQLite.")

    def as_postgresql(self, compiler, connection, **extra_context):
        # date_part() works in double precision; EXTRACT() has returned numeric since
        # PostgreSQL 14, and the dashboard's aggregates spent most of their time in it.
        return super().as_sql(
            compiler, connection, template="date_part('epoch', %(expressions)s)", **extra_context
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, template="(%(expressions)s / 1000000.0)", **extra_context
        )


def seconds_between(start, end) -> Seconds:
    """Elapsed seconds from ``start`` to ``end`` (field names or expressions); NULL when
    either is NULL."""
    start = F(start) if isinstance(start, str) else start
    end = F(end) if isinstance(end, str) else end
    return Seconds(end - start)


def to_timedelta(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


def ratio(part: int, whole: int) -> Decimal | None:
    """part / whole as a Decimal between 0 and 1 rounded half-up to 4 places; None for 0/0."""
    if whole <= 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


# --- Severity levels and goals ---------------------------------------------------------------


@dataclass(frozen=True)
class Levels:
    """The severity levels by rank, and which two the runbook's MTTR goals name."""

    severities: list[Severity]
    most_severe: Severity | None
    next_level: Severity | None

    def resolve_goal(self, severity_id: int) -> timedelta | None:
        tier = self.tier(severity_id)
        return MTTR_GOALS[tier] if tier < len(MTTR_GOALS) else None

    def tier(self, severity_id: int) -> int:
        """0 for the most severe level (and any a manager ranked above it, say a SEV-0 added
        while the on-call bonus stays on SEV-1), 1 for the next, 2 for every other level."""
        if self.most_severe is not None:
            if severity_id == self.most_severe.pk:
                return 0
            rank = next((s.rank for s in self.severities if s.pk == severity_id), None)
            if rank is not None and rank < self.most_severe.rank:
                return 0
        if self.next_level is not None:
            if severity_id == self.next_level.pk:
                return 1
            # A retired level ranked between the two is never milder than the next one.
            rank = next((s.rank for s in self.severities if s.pk == severity_id), None)
            if rank is not None and rank < self.next_level.rank:
                return 1
        return 2


def severity_levels() -> Levels:
    """Every severity by rank; the most severe is the one flagged so (else the lowest rank),
    the next is the active level with the next rank after it. One query."""
    severities = list(Severity.objects.order_by("rank"))
    most = next((s for s in severities if s.is_most_severe), None)
    if most is None and severities:
        most = severities[0]
    following = [s for s in severities if most and s.rank > most.rank and s.is_active]
    return Levels(
        severities=severities, most_severe=most, next_level=following[0] if following else None
    )


# --- Which incidents --------------------------------------------------------------------------


def incidents_in_period(
    *, period: Period, team: Team | None = None, service: Service | None = None
) -> QuerySet[Incident]:
    """Incidents started in ``period``; of ``team`` (the incident's responsible team) and/or
    affecting ``service``."""
    queryset = Incident.objects.filter(
        started_at__gte=period.starts_at, started_at__lt=period.ends_at
    )
    if team is not None:
        queryset = queryset.filter(team=team)
    if service is not None:
        affected = Incident.services.through.objects.filter(
            incident_id=OuterRef("pk"), service_id=service.pk
        )
        queryset = queryset.filter(Exists(affected))
    return queryset


def _measured(queryset: QuerySet[Incident], *, levels: Levels, now: datetime) -> QuerySet:
    """Each incident's durations in seconds (NULL when a moment is missing), its response
    target, how long it has waited, and its MTTR goal (NULL for levels without one)."""
    goals = [
        When(severity_id=s.pk, then=Value(goal.total_seconds()))
        for s in levels.severities
        if (goal := levels.resolve_goal(s.pk)) is not None
    ]
    return queryset.annotate(
        ttd=seconds_between("started_at", "detected_at"),
        tta=seconds_between("detected_at", "acknowledged_at"),
        ttr=seconds_between("started_at", "resolved_at"),
        ack_target=Seconds(F("severity__acknowledge_within")),
        waited=seconds_between("detected_at", Value(now, output_field=DateTimeField())),
        resolve_goal=Case(*goals, default=None, output_field=FloatField()),
    )


def _figure_aggregates() -> dict:
    aggregates = {
        "incidents": Count("id"),
        "open": Count("id", filter=Q(resolved_at__isnull=True)),
        "customer_impacting": Count("id", filter=Q(customer_impact=True)),
        "ack_met": Count("id", filter=Q(tta__lte=F("ack_target"))),
        "ack_counted": Count(
            "id", filter=Q(acknowledged_at__isnull=False) | Q(waited__gt=F("ack_target"))
        ),
        "detect_met": Count("id", filter=Q(ttd__lt=MTTD_GOAL.total_seconds())),
        "resolve_met": Count("id", filter=Q(ttr__lt=F("resolve_goal"))),
        "resolve_counted": Count("id", filter=Q(ttr__isnull=False, resolve_goal__isnull=False)),
    }
    for name in ("ttd", "tta", "ttr"):
        aggregates[f"{name}_n"] = Count(name)
        aggregates[f"{name}_mean"] = Avg(name)
        aggregates[f"{name}_median"] = PercentileCont(name, 0.5)
        aggregates[f"{name}_p90"] = PercentileCont(name, 0.9)
    return aggregates


# --- Figures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DurationStats:
    count: int
    mean: timedelta | None
    median: timedelta | None
    p90: timedelta | None

    @classmethod
    def from_row(cls, row: dict, name: str) -> "DurationStats":
        return cls(
            count=row[f"{name}_n"],
            mean=to_timedelta(row[f"{name}_mean"]),
            median=to_timedelta(row[f"{name}_median"]),
            p90=to_timedelta(row[f"{name}_p90"]),
        )


@dataclass(frozen=True)
class Share:
    """``met`` of ``counted`` incidents met a target or goal."""

    met: int
    counted: int

    @property
    def missed(self) -> int:
        return self.counted - self.met

    @property
    def ratio(self) -> Decimal | None:
        return ratio(self.met, self.counted)


@dataclass(frozen=True)
class SeverityFigures:
    """The figures of one severity, or of all of them (``severity`` None)."""

    severity: Severity | None
    incidents: int
    open: int
    customer_impacting: int
    time_to_detect: DurationStats
    time_to_acknowledge: DurationStats
    time_to_resolve: DurationStats
    response_target: Share
    detect_goal: Share
    resolve_goal: timedelta | None = None
    resolve_goal_share: Share | None = None

    @property
    def name(self) -> str:
        return self.severity.name if self.severity is not None else "All"

    @classmethod
    def from_row(cls, severity, row: dict, resolve_goal: timedelta | None) -> "SeverityFigures":
        return cls(
            severity=severity,
            incidents=row["incidents"],
            open=row["open"],
            customer_impacting=row["customer_impacting"],
            time_to_detect=DurationStats.from_row(row, "ttd"),
            time_to_acknowledge=DurationStats.from_row(row, "tta"),
            time_to_resolve=DurationStats.from_row(row, "ttr"),
            response_target=Share(row["ack_met"], row["ack_counted"]),
            detect_goal=Share(row["detect_met"], row["incidents"]),
            resolve_goal=resolve_goal,
            resolve_goal_share=(
                Share(row["resolve_met"], row["resolve_counted"]) if resolve_goal else None
            ),
        )


@dataclass(frozen=True)
class Goal:
    """A runbook goal: the mean must stay under ``target``; ``share`` is how many incidents
    did. ``met`` is None when there is nothing to measure."""

    key: str
    name: str
    target: timedelta
    actual: timedelta | None
    share: Share

    @property
    def met(self) -> bool | None:
        return None if self.actual is None else self.actual < self.target


@dataclass(frozen=True)
class RepeatIncident:
    incident: Incident
    severity_name: str
    same_cause_as: str | None  # the reference of the latest earlier incident with its cause
    same_service_as: str | None  # ... and of the latest earlier one sharing a service
    shared_service: str | None


@dataclass(frozen=True)
class Repeats:
    """How many of a period's incidents repeat an earlier one, and (the latest ``limit`` of)
    them, oldest first."""

    count: int
    same_cause: int
    same_service: int
    rows: list[RepeatIncident]


@dataclass(frozen=True)
class IncidentMetrics:
    period: Period
    team: Team | None
    service: Service | None
    levels: Levels
    by_severity: list[SeverityFigures]
    total: SeverityFigures
    goals: list[Goal]
    repeat_set: Repeats = field(default_factory=lambda: Repeats(0, 0, 0, []))

    @property
    def repeats(self) -> list[RepeatIncident]:
        """The repeats listed (all of them, or the latest ``repeat_limit``)."""
        return self.repeat_set.rows

    @property
    def repeat_count(self) -> int:
        return self.repeat_set.count

    @property
    def repeats_not_listed(self) -> int:
        return self.repeat_set.count - len(self.repeat_set.rows)


def incident_metrics(
    *,
    period: Period,
    team: Team | None = None,
    service: Service | None = None,
    now: datetime | None = None,
    levels: Levels | None = None,
    repeat_limit: int | None = None,
) -> IncidentMetrics:
    """Counts, durations, targets, goals and repeats of the incidents started in ``period``
    (see the module docstring). Four queries whatever the number of incidents (three when
    ``levels`` from ``severity_levels()`` is given). ``repeat_limit`` lists only the latest
    that many repeats; their counts are always of all of them."""
    now = now or timezone.now()
    levels = levels or severity_levels()
    measured = _measured(
        incidents_in_period(period=period, team=team, service=service), levels=levels, now=now
    )
    aggregates = _figure_aggregates()
    rows = {
        row["severity_id"]: row
        for row in measured.values("severity_id").annotate(**aggregates).order_by("severity_id")
    }
    total_row = measured.aggregate(**aggregates)
    by_severity = []
    for severity in levels.severities:
        row = rows.get(severity.pk)
        if row is None and not severity.is_active:
            continue  # a retired level with nothing in the period
        by_severity.append(
            SeverityFigures.from_row(
                severity, row or _empty_row(), levels.resolve_goal(severity.pk)
            )
        )
    total = SeverityFigures.from_row(None, total_row, None)
    goals = [
        Goal(
            key="mttd",
            name=f"MTTD under {_short(MTTD_GOAL)}",
            target=MTTD_GOAL,
            actual=total.time_to_detect.mean,
            share=total.detect_goal,
        )
    ]
    for figures in by_severity:
        if figures.resolve_goal is not None:
            goals.append(
                Goal(
                    # A level ranked above the most severe one shares its goal, not its key.
                    key=f"mttr-{levels.tier(figures.severity.pk)}"
                    + (
                        ""
                        if figures.severity in (levels.most_severe, levels.next_level)
                        else f"-{figures.severity.name}"
                    ),
                    name=f"MTTR {figures.severity.name} under {_short(figures.resolve_goal)}",
                    target=figures.resolve_goal,
                    actual=figures.time_to_resolve.mean,
                    share=figures.resolve_goal_share,
                )
            )
    # The MTTD goal, then the MTTR goals from the most severe level down (levels are by rank).
    return IncidentMetrics(
        period=period,
        team=team,
        service=service,
        levels=levels,
        by_severity=by_severity,
        total=total,
        goals=goals,
        repeat_set=repeat_incidents(period=period, team=team, service=service, limit=repeat_limit),
    )


def _empty_row() -> dict:
    row = dict.fromkeys(_figure_aggregates(), 0)
    for name in ("ttd", "tta", "ttr"):
        for suffix in ("mean", "median", "p90"):
            row[f"{name}_{suffix}"] = None
    return row


def _short(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


REPEATS_SQL = """
WITH period AS (
  SELECT id, reference, started_at, root_cause_category, team_id FROM incidents_incident
  WHERE started_at >= %(start)s AND started_at < %(end)s
),
-- What a period incident can repeat from before the period is, per cause and per service,
-- only the latest incident before it: that one, found through the start index, stands in
-- for the 90 days before the period, so the windows sort the period and not four months.
cause_prev AS {materialized}(
  SELECT c.category, (
    SELECT q.id FROM incidents_incident q
    WHERE q.root_cause_category = c.category
      AND q.started_at >= %(lookback)s AND q.started_at < %(start)s
    ORDER BY q.started_at DESC, q.id DESC LIMIT 1
  ) AS prev_id
  FROM (
    SELECT DISTINCT root_cause_category AS category FROM period
    WHERE root_cause_category NOT IN ({no_cause})
  ) c
),
cause_before AS (
  SELECT p.id, p.reference, p.started_at, p.root_cause_category
  FROM cause_prev cp JOIN incidents_incident p ON p.id = cp.prev_id
),
by_cause AS (
  SELECT id, started_at,
         LAG(reference) OVER w AS prev_ref, LAG(started_at) OVER w AS prev_started
  FROM (
    SELECT id, reference, started_at, root_cause_category FROM period
    WHERE root_cause_category NOT IN ({no_cause})
    UNION ALL SELECT id, reference, started_at, root_cause_category FROM cause_before
  ) x
  WINDOW w AS (PARTITION BY root_cause_category ORDER BY started_at, id)
),
period_services AS (
  SELECT s.service_id, i.id, i.reference, i.started_at
  FROM incidents_incident_services s JOIN period i ON i.id = s.incident_id
),
service_prev AS {materialized}(
  SELECT v.service_id, (
    SELECT q.id FROM incidents_incident q
    JOIN incidents_incident_services qs ON qs.incident_id = q.id
    WHERE qs.service_id = v.service_id
      AND q.started_at >= %(lookback)s AND q.started_at < %(start)s
    ORDER BY q.started_at DESC, q.id DESC LIMIT 1
  ) AS prev_id
  FROM (SELECT DISTINCT service_id FROM period_services) v
),
service_before AS (
  SELECT sp.service_id, p.id, p.reference, p.started_at
  FROM service_prev sp JOIN incidents_incident p ON p.id = sp.prev_id
),
by_service AS (
  SELECT id, service_id, started_at,
         LAG(reference) OVER w AS prev_ref, LAG(started_at) OVER w AS prev_started,
         LAG(id) OVER w AS prev_id
  FROM (SELECT * FROM period_services UNION ALL SELECT * FROM service_before) x
  WINDOW w AS (PARTITION BY service_id ORDER BY started_at, id)
),
service_match AS (
  SELECT id, service_id, prev_ref,
         -- The same earlier incident through two services: the first service, on every database.
         ROW_NUMBER() OVER (
           PARTITION BY id ORDER BY prev_started DESC, prev_id DESC, service_id
         ) AS pick
  FROM by_service
  WHERE started_at >= %(start)s AND prev_started IS NOT NULL AND {service_within}
),
matched AS (
  SELECT id, max(cause_ref) AS cause_ref, max(service_ref) AS service_ref,
         max(service_id) AS service_id
  FROM (
    SELECT id, prev_ref AS cause_ref, CAST(NULL AS varchar(40)) AS service_ref,
           CAST(NULL AS integer) AS service_id
    FROM by_cause c
    WHERE started_at >= %(start)s AND prev_started IS NOT NULL AND {cause_within}
    UNION ALL
    SELECT id, NULL, prev_ref, service_id FROM service_match WHERE pick = 1
  ) found
  GROUP BY id
),
-- Counted over every repeat, joined to the rest of the incident for the rows shown only.
shown AS (
  SELECT m.id, m.cause_ref, m.service_ref, m.service_id,
         COUNT(*) OVER () AS repeat_total, COUNT(m.cause_ref) OVER () AS same_cause_total,
         COUNT(m.service_ref) OVER () AS same_service_total
  FROM matched m JOIN period i ON i.id = m.id
  WHERE 1 = 1 {scope}
  ORDER BY i.started_at DESC, i.id DESC
  {limit}
)
SELECT i.id, i.reference, i.title, i.started_at, i.root_cause_category, i.team_id,
       i.severity_id, sev.name AS severity_name, r.cause_ref AS same_cause_as,
       r.service_ref AS same_service_as, sv.name AS shared_service,
       r.repeat_total, r.same_cause_total, r.same_service_total
FROM shown r
JOIN incidents_incident i ON i.id = r.id
JOIN incidents_severity sev ON sev.id = i.severity_id
LEFT JOIN incidents_service sv ON sv.id = r.service_id
ORDER BY i.started_at DESC, i.id DESC
"""


def _within(alias: str) -> str:
    """SQL: ``alias``'s previous incident started at most ``REPEAT_WINDOW`` before it."""
    days = REPEAT_WINDOW.days
    if connection.vendor == "postgresql":
        return f"{alias}.prev_started >= {alias}.started_at - make_interval(days => {days})"
    return f"julianday({alias}.prev_started) >= julianday({alias}.started_at) - {days}"


def repeat_incidents(
    *,
    period: Period,
    team: Team | None = None,
    service: Service | None = None,
    limit: int | None = None,
) -> Repeats:
    """The period's incidents that repeat an earlier one (same root-cause category, or a
    shared affected service, started at most 90 days before), each with the reference of the
    latest such earlier incident (of any team), and how many there are. One query whatever
    the number of incidents: the latest earlier incident of each cause and of each service is
    the one before it in a window ordered by start, so nothing is searched per incident. The
    windows read the period's incidents and, per cause and per service, the one latest
    incident before the period, never the whole 90 days before it."""
    params = {
        # Elapsed time, as the window test: aware arithmetic in the project's zone would move
        # by the wall clock and lose an hour when the period starts in summer time.
        "lookback": period.starts_at.astimezone(UTC) - REPEAT_WINDOW,
        "start": period.starts_at,
        "end": period.ends_at,
    }
    params |= {f"no_cause{i}": category for i, category in enumerate(NO_CAUSE_CATEGORIES)}
    scope = ""
    if team is not None:
        scope += " AND i.team_id = %(team)s"
        params["team"] = team.pk
    if service is not None:
        scope += (
            " AND EXISTS (SELECT 1 FROM incidents_incident_services x"
            " WHERE x.incident_id = i.id AND x.service_id = %(service)s)"
        )
        params["service"] = service.pk
    sql = REPEATS_SQL.format(
        service_within=_within("by_service"),
        cause_within=_within("c"),
        scope=scope,
        limit="" if limit is None else f"LIMIT {int(limit)}",
        no_cause=", ".join(f"%(no_cause{i})s" for i in range(len(NO_CAUSE_CATEGORIES))),
        # PostgreSQL would fold the probes into a hash join over every incident; SQLite
        # before 3.35 does not know the word.
        materialized="MATERIALIZED " if connection.vendor == "postgresql" else "",
    )
    # Incidents with only what the table shows loaded (the rest deferred).
    found = list(Incident.objects.raw(sql, params))
    rows = [
        RepeatIncident(
            incident=row,
            severity_name=row.severity_name,
            same_cause_as=row.same_cause_as,
            same_service_as=row.same_service_as,
            shared_service=row.shared_service,
        )
        for row in reversed(found)
    ]
    count = same_cause = same_service = 0
    if found:
        first = found[0]
        count, same_cause, same_service = (
            first.repeat_total,
            first.same_cause_total,
            first.same_service_total,
        )
    return Repeats(count=count, same_cause=same_cause, same_service=same_service, rows=rows)


# --- Weekly series -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekFigures:
    week: date  # Monday, in the project's zone
    incidents: dict[int, int]  # severity id -> incidents started that week
    mean_time_to_resolve: dict[int, timedelta]  # severity id -> mean MTTR of those resolved
    response_target: Share

    @property
    def total(self) -> int:
        return sum(self.incidents.values())


def incidents_by_week(
    *,
    period: Period,
    team: Team | None = None,
    service: Service | None = None,
    now: datetime | None = None,
    levels: Levels | None = None,
) -> list[WeekFigures]:
    """Per ISO week (Monday 00:00 in the project's zone) overlapping the period: incidents
    started by severity, their mean MTTR by severity and their response-target share. Every
    week is listed, empty ones too. Two queries (one when ``levels`` is given)."""
    now = now or timezone.now()
    levels = levels or severity_levels()
    measured = _measured(
        incidents_in_period(period=period, team=team, service=service), levels=levels, now=now
    )
    rows = (
        measured.annotate(
            week=Trunc("started_at", "week", output_field=DateField(), tzinfo=period.zone)
        )
        .values("week", "severity_id")
        .annotate(
            n=Count("id"),
            ttr_mean=Avg("ttr"),
            ack_met=Count("id", filter=Q(tta__lte=F("ack_target"))),
            ack_counted=Count(
                "id", filter=Q(acknowledged_at__isnull=False) | Q(waited__gt=F("ack_target"))
            ),
        )
        .order_by("week", "severity_id")
    )
    counts: dict[date, dict[int, int]] = {}
    ttr: dict[date, dict[int, timedelta]] = {}
    met: dict[date, list[int]] = {}
    for row in rows:
        week = row["week"]
        counts.setdefault(week, {})[row["severity_id"]] = row["n"]
        if row["ttr_mean"] is not None:
            ttr.setdefault(week, {})[row["severity_id"]] = to_timedelta(row["ttr_mean"])
        pair = met.setdefault(week, [0, 0])
        pair[0] += row["ack_met"]
        pair[1] += row["ack_counted"]
    return [
        WeekFigures(
            week=week,
            incidents=counts.get(week, {}),
            mean_time_to_resolve=ttr.get(week, {}),
            response_target=Share(*met.get(week, (0, 0))),
        )
        for week in period.weeks()
    ]
