"""Reads for on-call: who is on call, and the compensation report finance pays from.

The report loads everything it needs in a fixed number of queries (policies, shifts, pages,
first acknowledged most-severe pages, people, and for pay periods their stored lines) whatever
the number of engineers, shifts and pages, then applies ``oncall.compensation`` in Python.
"""

import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Min, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from incidents.models import Severity, Team
from oncall import compensation as rules
from oncall.models import (
    CalendarFeed,
    CompensationLine,
    CompensationPolicy,
    CompTimeTaken,
    Handoff,
    Page,
    PayPeriod,
    PayPeriodStatus,
    Rotation,
    RotationMember,
    Shift,
    ShiftRole,
)

User = get_user_model()

CSV_COLUMNS = (
    "username",
    "full_name",
    "team",
    "on_call_hours",
    "stipend",
    "sev1_incidents",
    "sev1_bonus",
    "overnight_pages",
    "comp_time_hours",
    "total_pay",
    "currency",
)
MONEY_AND_HOURS = ("on_call_hours", "stipend", "sev1_bonus", "comp_time_hours", "total_pay")
COUNTS = ("sev1_incidents", "overnight_pages")

END_BEFORE_START = "The report's end date is before its start date."
# The period runs to the day after its end, which must exist.
REPORT_TOO_LATE = "Enter a date before 9999-12-31."
# Pages and the API bound the work of one request; the command does not.
MAX_REPORT_DAYS = 366
REPORT_TOO_LONG = "A report covers at most 366 days; ask for one pay period at a time."
UNKNOWN_TEAM = "Unknown team: {name}."


def project_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


# --- Who is on call ---------------------------------------------------------------------------


def can_be_on_call() -> QuerySet:
    """Active people, but for those in Finance alone: paged, they could never open the page
    to acknowledge it (Finance gets 403 on every engineering page)."""
    from incidents.access import FINANCE, responders

    finance_only = Q(groups__name=FINANCE) & ~Q(pk__in=responders().values("pk"))
    return User.objects.filter(is_active=True).exclude(
        pk__in=User.objects.filter(finance_only).values("pk")
    )


def on_call_shift(*, team: Team, role: str, at: datetime | None = None) -> Shift | None:
    """The shift (with its engineer and rotation) that puts someone on call as ``role`` for
    ``team`` at ``at``; with several active rotations, the first by name. A shift of someone
    whose account is switched off puts nobody on call. One query."""
    at = at or timezone.now()
    return (
        Shift.objects.filter(
            rotation__team=team,
            rotation__is_active=True,
            engineer__is_active=True,
            role=role,
            starts_at__lte=at,
            ends_at__gt=at,
        )
        .select_related("engineer", "rotation")
        .order_by("rotation__name", "starts_at", "id")
        .first()
    )


def on_call_at(*, team: Team, at: datetime | None = None) -> dict[str, object]:
    """Who is primary and secondary for ``team`` at ``at``: ``{"primary": user or None,
    "secondary": user or None}``. Two queries."""
    found = {}
    for role in (ShiftRole.PRIMARY, ShiftRole.SECONDARY):
        shift = on_call_shift(team=team, role=role, at=at)
        found[role] = shift.engineer if shift else None
    return found


def on_call_now_by_team(
    *, at: datetime | None = None, team: Team | None = None
) -> list[dict[str, object]]:
    """For every team with an active rotation (or only ``team``): its primary and secondary
    now (someone whose account is switched off is on call for nobody: nobody would answer).
    Two queries."""
    at = at or timezone.now()
    teams = Team.objects.filter(rotations__is_active=True)
    shifts = Shift.objects.filter(
        rotation__is_active=True, engineer__is_active=True, starts_at__lte=at, ends_at__gt=at
    )
    if team is not None:
        teams = teams.filter(pk=team.pk)
        shifts = shifts.filter(rotation__team=team)
    teams = list(teams.distinct().order_by("name"))
    shifts = shifts.select_related("engineer", "rotation").order_by("rotation__name", "starts_at")
    by_team: dict[int, dict[str, object]] = {
        t.pk: {"team": t, "primary": None, "secondary": None} for t in teams
    }
    for shift in shifts:
        slot = by_team.get(shift.rotation.team_id)
        if slot is not None and slot[shift.role] is None:
            slot[shift.role] = shift.engineer
    return [by_team[t.pk] for t in teams]


def rotation_list() -> QuerySet[Rotation]:
    """Rotations with their team and ordered members (and their users). Two queries."""
    return (
        Rotation.objects.select_related("team")
        .prefetch_related(
            Prefetch(
                "members",
                queryset=RotationMember.objects.select_related("user").order_by("position"),
            )
        )
        .order_by("team__name", "name", "id")
    )


def shift_list() -> QuerySet[Shift]:
    """Shifts with their rotation (and its team), engineer and covered engineer joined."""
    return Shift.objects.select_related("rotation__team", "engineer", "covered_engineer").order_by(
        "starts_at", "id"
    )


def page_list() -> QuerySet[Page]:
    """Pages with the engineer, incident and team joined, newest first."""
    return Page.objects.select_related("engineer", "incident", "team").order_by("-paged_at", "-id")


def shifts_for_engineer(*, user, start: datetime, end: datetime) -> QuerySet[Shift]:
    return (
        Shift.objects.filter(engineer=user, ends_at__gt=start, starts_at__lt=end)
        .select_related("rotation__team", "covered_engineer")
        .order_by("starts_at")
    )


def rotation_shifts(*, rotation: Rotation, start: datetime, end: datetime) -> QuerySet[Shift]:
    return (
        Shift.objects.filter(rotation=rotation, ends_at__gt=start, starts_at__lt=end)
        .select_related("engineer", "covered_engineer")
        .order_by("starts_at", "role")
    )


# --- Compensation report ---------------------------------------------------------------------


@dataclass(frozen=True)
class CompensationRow:
    """One engineer's line of the report, rounded and ready to print."""

    engineer_id: int
    username: str
    full_name: str
    team: str
    on_call_hours: Decimal
    stipend: Decimal
    sev1_incidents: int
    sev1_bonus: Decimal
    overnight_pages: int
    comp_time_hours: Decimal
    total_pay: Decimal
    currency: str
    adjustments: tuple["CompensationRow", ...] = field(default=(), compare=False)
    adjusts_period: str = ""

    def values(self) -> dict[str, str | int]:
        """The report's columns: money and hours as strings with two decimals, counts as ints."""
        out: dict[str, str | int] = {}
        for name in CSV_COLUMNS:
            value = getattr(self, name)
            if name in MONEY_AND_HOURS:
                out[name] = f"{value:.2f}"
            elif name in COUNTS:
                out[name] = int(value)
            else:
                out[name] = value
        return out

    def figures(self) -> tuple:
        return (
            self.on_call_hours,
            self.stipend,
            self.sev1_incidents,
            self.sev1_bonus,
            self.overnight_pages,
            self.comp_time_hours,
            self.total_pay,
        )

    @property
    def key(self) -> tuple[int, str]:
        return (self.engineer_id, self.currency)

    def plus(self, other: "CompensationRow") -> "CompensationRow":
        if other.key != self.key:
            raise ValueError("Only figures of one engineer in one currency add up.")
        return replace(
            self,
            on_call_hours=self.on_call_hours + other.on_call_hours,
            stipend=self.stipend + other.stipend,
            sev1_incidents=self.sev1_incidents + other.sev1_incidents,
            sev1_bonus=self.sev1_bonus + other.sev1_bonus,
            overnight_pages=self.overnight_pages + other.overnight_pages,
            comp_time_hours=self.comp_time_hours + other.comp_time_hours,
            total_pay=self.total_pay + other.total_pay,
        )

    def negated(self) -> "CompensationRow":
        return replace(
            self,
            on_call_hours=-self.on_call_hours,
            stipend=-self.stipend,
            sev1_incidents=-self.sev1_incidents,
            sev1_bonus=-self.sev1_bonus,
            overnight_pages=-self.overnight_pages,
            comp_time_hours=-self.comp_time_hours,
            total_pay=-self.total_pay,
        )

    def minus(self, other: "CompensationRow") -> "CompensationRow":
        return self.plus(other.negated())

    @property
    def is_zero(self) -> bool:
        return not any(self.figures())


@dataclass(frozen=True)
class CompensationReport:
    start: date
    end: date
    team: str | None
    rows: list[CompensationRow]
    pay_period: PayPeriod | None = None
    frozen: bool = False
    balances: dict[int, dict[str, Decimal]] = field(default_factory=dict)

    def totals(self) -> list[dict[str, Decimal | int | str]]:
        """One totals line per currency (money in different currencies never adds up)."""
        by_currency: dict[str, dict[str, Decimal | int | str]] = {}
        for row in self.rows:
            totals = by_currency.get(row.currency)
            if totals is None:
                totals = {name: Decimal("0.00") for name in MONEY_AND_HOURS}
                totals.update(dict.fromkeys(COUNTS, 0))
                totals["currency"] = row.currency
                by_currency[row.currency] = totals
            for name in (*MONEY_AND_HOURS, *COUNTS):
                totals[name] += getattr(row, name)
        return [by_currency[c] for c in sorted(by_currency)]


@dataclass
class _Person:
    pk: int
    username: str
    full_name: str
    team: str
    zone: zoneinfo.ZoneInfo


def _people(ids) -> dict[int, _Person]:
    """Names, team and time zone of each engineer, in one query (no model instances)."""
    zones: dict[str, zoneinfo.ZoneInfo] = {}
    people = {}
    rows = User.objects.filter(pk__in=ids).values_list(
        "pk", "username", "first_name", "last_name", "profile__time_zone", "profile__team__name"
    )
    for pk, username, first, last, zone_name, team in rows:
        zone_name = zone_name or settings.TIME_ZONE
        if zone_name not in zones:
            zones[zone_name] = zoneinfo.ZoneInfo(zone_name)
        people[pk] = _Person(
            pk=pk,
            username=username,
            full_name=f"{first} {last}".strip(),
            team=team or "",
            zone=zones[zone_name],
        )
    return people


def _engineer_filter(prefix: str, team: Team | None) -> Q:
    if team is None:
        return Q()
    return Q(**{f"{prefix}profile__team": team})


# One aggregate per period, joined by UNION ALL rather than a join to a list of periods: with
# its own bounds each is planned for the pages it reads (a year is a parallel scan, the years
# before the first page an empty index probe). Joined to a VALUES list, the planner guessed the
# same rows for every period and read them all in one process: twice the time for a report
# with comp-time balances, whose second period is everything before the first.
PAGE_TALLY_SQL = """
SELECT g.engineer_id, %s::int, pol.idx, count(*), min(g.paged_at),
       count(*) FILTER (WHERE g.acknowledged_at IS NOT NULL AND CASE
         WHEN pol.night_from <= pol.night_to
           THEN local.at >= pol.night_from AND local.at < pol.night_to
         ELSE local.at >= pol.night_from OR local.at < pol.night_to END)
FROM oncall_page g
LEFT JOIN incidents_profile p ON p.user_id = g.engineer_id
CROSS JOIN LATERAL (SELECT (g.paged_at AT TIME ZONE coalesce(p.time_zone, %s))::time AS at) local
LEFT JOIN (VALUES {policies}) pol(idx, starts, ends, night_from, night_to)
  ON g.paged_at >= pol.starts AND (pol.ends IS NULL OR g.paged_at < pol.ends)
WHERE g.paged_at >= %s AND g.paged_at < %s {engineers}
GROUP BY g.engineer_id, pol.idx
"""


def _page_tallies_in_database(
    periods: list[rules.Interval],
    terms: list[rules.PolicyTerms],
    *,
    team: Team | None = None,
    engineer_ids=None,
) -> dict[tuple[int, int], list[tuple[rules.PolicyTerms, int, int]]]:
    """On PostgreSQL: count each engineer's pages per period and policy, and the acknowledged
    ones whose local time (the engineer's own zone) is in the policy's overnight window, in
    one query instead of reading every page. The same rule as ``compensation.is_overnight``;
    the compensation tests run on PostgreSQL, so both paths are held to the same edges."""
    policy_rows, policy_params = [], []
    for index, term in enumerate(terms):
        policy_rows.append("(%s, %s::timestamptz, %s::timestamptz, %s::time, %s::time)")
        policy_params += [index, term.starts, term.ends, term.overnight_start, term.overnight_end]
    if not policy_rows:  # no policy at all: every page is unpriced
        policy_rows.append(
            "(NULL::int, NULL::timestamptz, NULL::timestamptz, NULL::time, NULL::time)"
        )
    engineers, engineer_params = "", []
    if team is not None:
        engineers = "AND p.team_id = %s"
        engineer_params = [team.pk]
    elif engineer_ids is not None:
        engineers = "AND g.engineer_id = ANY(%s)"
        engineer_params = [list(engineer_ids)]
    branch = PAGE_TALLY_SQL.format(policies=", ".join(policy_rows), engineers=engineers)
    params: list = []
    for index, (start, end) in enumerate(periods):
        params += [index, settings.TIME_ZONE, *policy_params, start, end, *engineer_params]
    sql = " UNION ALL ".join([f"({branch})"] * len(periods))
    tallies: dict[tuple[int, int], list[tuple[rules.PolicyTerms, int, int]]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for engineer_id, period, policy, count, first, overnight in cursor.fetchall():
            if policy is None:
                raise ValidationError(rules.NO_POLICY.format(moment=first.isoformat()))
            tallies[(engineer_id, period)].append((terms[policy], count, overnight))
    return tallies


# The spans' ends as whole microseconds since the epoch: a year of covers is thousands of
# timestamps, and integers cross the wire and load in a third of the time timestamps do.
SHIFT_COVER_SQL = """
SELECT engineer_id,
       (extract(epoch FROM lower(cover)) * 1000000)::bigint,
       (extract(epoch FROM upper(cover)) * 1000000)::bigint
FROM (
  SELECT s.engineer_id, unnest(range_agg(tstzrange(s.starts_at, s.ends_at))) AS cover
  FROM oncall_shift s {team_join}
  WHERE s.ends_at > %s AND s.starts_at < %s {team_filter}
  GROUP BY s.engineer_id
) covers
"""


def _shift_cover_in_database(start: datetime, end: datetime, team: Team | None) -> list[tuple]:
    """On PostgreSQL: each engineer's shifts overlapping [start, end) already joined into
    disjoint spans (``range_agg``, the same union as ``compensation.merge``), so a year of
    weekly shifts reads about half the rows."""
    params: list = [start, end]
    team_join = team_filter = ""
    if team is not None:
        team_join = "JOIN incidents_profile p ON p.user_id = s.engineer_id"
        team_filter = "AND p.team_id = %s"
        params.append(team.pk)
    sql = SHIFT_COVER_SQL.format(team_join=team_join, team_filter=team_filter)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            (
                engineer_id,
                EPOCH + timedelta(microseconds=start),
                EPOCH + timedelta(microseconds=end),
            )
            for engineer_id, start, end in cursor.fetchall()
        ]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _most_severe_ids() -> list[int]:
    """The most-severe levels' ids, as values: filtering incidents by them (rather than by a
    join to the flag) lets PostgreSQL's statistics see how few incidents they hold and read
    their pages by index instead of scanning every page."""
    return list(Severity.objects.filter(is_most_severe=True).values_list("pk", flat=True))


def _live_rows(
    periods: list[rules.Interval], team: Team | None, balance_until: datetime | None = None
) -> list[dict[tuple[int, str], CompensationRow]]:
    """Live figures for several periods at once, in five queries in all, keyed by
    ``(engineer id, currency)``.

    With ``balance_until`` on PostgreSQL, the comp time every engineer earned before that
    moment is counted by the same page query and returned as an extra last element
    ``{engineer id: hours}``."""
    zone = project_zone()
    terms = rules.policy_terms(CompensationPolicy.objects.all(), zone)
    span_start = min(p[0] for p in periods)
    span_end = max(p[1] for p in periods)

    shifts_by_engineer: dict[int, list[rules.Interval]] = defaultdict(list)
    if connection.vendor == "postgresql":
        shift_rows = _shift_cover_in_database(span_start, span_end, team)
    else:
        shift_rows = Shift.objects.filter(
            _engineer_filter("engineer__", team), ends_at__gt=span_start, starts_at__lt=span_end
        ).values_list("engineer_id", "starts_at", "ends_at")
    for engineer_id, starts_at, ends_at in shift_rows:
        shifts_by_engineer[engineer_id].append((starts_at, ends_at))

    pages_by_engineer: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    tallies = None
    earned: dict[int, Decimal] = defaultdict(Decimal)
    if connection.vendor == "postgresql":
        tally_periods = list(periods)
        # The balance counts what was earned up to ``balance_until``. When that is the end of
        # the one period asked for, count only what came before the period and add the
        # period's own tally, so each page is read once.
        ends_the_period = len(periods) == 1 and balance_until == periods[0][1]
        if balance_until is not None:
            earlier_end = periods[0][0] if ends_the_period else balance_until
            tally_periods.append((datetime(1900, 1, 1, tzinfo=zone), earlier_end))
        tallies = _page_tallies_in_database(tally_periods, terms, team=team)
        for engineer_id, period_index in list(tallies):
            if period_index == len(periods):
                for policy, _count, overnight in tallies.pop((engineer_id, period_index)):
                    earned[engineer_id] += policy.comp_hours * overnight
                continue
            pages_by_engineer.setdefault(engineer_id, [])
            if ends_the_period:
                for policy, _count, overnight in tallies[(engineer_id, period_index)]:
                    earned[engineer_id] += policy.comp_hours * overnight
    else:
        for engineer_id, paged_at, acknowledged_at in Page.objects.filter(
            _engineer_filter("engineer__", team), paged_at__gte=span_start, paged_at__lt=span_end
        ).values_list("engineer_id", "paged_at", "acknowledged_at"):
            pages_by_engineer[engineer_id].append((paged_at, acknowledged_at))

    # The paged moment of each engineer's first acknowledged page per most-severe incident.
    sev1_by_engineer: dict[int, list[datetime]] = defaultdict(list)
    first_pages = (
        Page.objects.filter(
            _engineer_filter("engineer__", team),
            acknowledged_at__isnull=False,
            incident__severity_id__in=_most_severe_ids(),
        )
        .values("engineer_id", "incident_id")
        .annotate(first_paged_at=Min("paged_at"))
        .filter(first_paged_at__gte=span_start, first_paged_at__lt=span_end)
        .values_list("engineer_id", "first_paged_at")
    )
    for engineer_id, first_paged_at in first_pages:
        sev1_by_engineer[engineer_id].append(first_paged_at)

    ids = set(shifts_by_engineer) | set(pages_by_engineer) | set(sev1_by_engineer)
    people = _people(ids)
    results: list[dict[tuple[int, str], CompensationRow]] = []
    for index, period in enumerate(periods):
        rows: dict[tuple[int, str], CompensationRow] = {}
        for engineer_id in sorted(ids, key=lambda pk: people[pk].username):
            person = people[engineer_id]
            by_currency = rules.engineer_figures(
                shifts=shifts_by_engineer.get(engineer_id, ()),
                pages=pages_by_engineer.get(engineer_id, ()),
                sev1_first_acknowledged_pages=sev1_by_engineer.get(engineer_id, ()),
                zone=person.zone,
                period=period,
                terms=terms,
                page_tallies=None if tallies is None else tallies.get((engineer_id, index), ()),
            )
            for currency, figures in sorted(by_currency.items()):
                if not figures.has_activity:
                    continue
                stipend = rules.money(figures.stipend)
                bonus = rules.money(figures.sev1_bonus)
                rows[(engineer_id, currency)] = CompensationRow(
                    engineer_id=engineer_id,
                    username=person.username,
                    full_name=person.full_name,
                    team=person.team,
                    on_call_hours=rules.money(
                        Decimal(figures.on_call_seconds) / rules.SECONDS_PER_HOUR
                    ),
                    stipend=stipend,
                    sev1_incidents=figures.sev1_incidents,
                    sev1_bonus=bonus,
                    overnight_pages=figures.overnight_pages,
                    comp_time_hours=rules.money(figures.comp_time_hours),
                    total_pay=stipend + bonus,
                    currency=currency,
                )
        results.append(rows)
    if balance_until is not None and tallies is not None:
        results.append(earned)
    return results


def _line_row(line: CompensationLine) -> CompensationRow:
    return CompensationRow(
        engineer_id=line.engineer_id,
        username=line.username,
        full_name=line.full_name,
        team=line.team,
        on_call_hours=line.on_call_hours,
        stipend=line.stipend,
        sev1_incidents=line.sev1_incidents,
        sev1_bonus=line.sev1_bonus,
        overnight_pages=line.overnight_pages,
        comp_time_hours=line.comp_time_hours,
        total_pay=line.total_pay,
        currency=line.currency,
    )


def _sort_key(row: CompensationRow) -> tuple[str, str]:
    return (row.username, row.currency)


def _merge_rows(
    parts_by_key: dict[tuple[int, str], list[CompensationRow]],
) -> list[CompensationRow]:
    """One row per engineer (and currency): their own figures plus any corrections, which
    ``row.adjustments`` lists. Sorted by username."""
    merged = []
    for parts in parts_by_key.values():
        own = [r for r in parts if not r.adjusts_period]
        adjustments = tuple(r for r in parts if r.adjusts_period)
        total = own[0] if own else replace(adjustments[0].minus(adjustments[0]), adjusts_period="")
        for adjustment in adjustments:
            total = total.plus(adjustment)
        merged.append(replace(total, adjustments=adjustments, adjusts_period=""))
    return sorted(merged, key=_sort_key)


def _period_label(period: PayPeriod) -> str:
    return f"{period.start_date.isoformat()}..{period.end_date.isoformat()}"


def pending_adjustments(
    *, pay_period: PayPeriod, team: Team | None = None
) -> tuple[dict[tuple[int, str], CompensationRow], list[tuple[PayPeriod, CompensationRow]]]:
    """Live figures of an open pay period, and the corrections owed for earlier closed periods
    that land in it (closed periods whose next open period is this one).

    A correction is what the closed period's figures are now minus what was frozen and already
    corrected for it; it is paid in the first open period after it.
    """
    zone = project_zone()
    earlier_open = (
        PayPeriod.objects.filter(status=PayPeriodStatus.OPEN, end_date__lt=pay_period.start_date)
        .order_by("-end_date")
        .values_list("end_date", flat=True)
        .first()
    )
    closed = PayPeriod.objects.filter(
        status=PayPeriodStatus.CLOSED, end_date__lt=pay_period.start_date
    )
    if earlier_open is not None:
        closed = closed.filter(start_date__gt=earlier_open)
    closed = list(closed.order_by("start_date"))
    periods = [rules.period_bounds(pay_period.start_date, pay_period.end_date, zone)]
    periods += [rules.period_bounds(c.start_date, c.end_date, zone) for c in closed]
    live = _live_rows(periods, team)
    own_live, closed_live = live[0], live[1:]

    frozen: dict[tuple[int, tuple[int, str]], CompensationRow] = {}
    lines = CompensationLine.objects.filter(
        Q(pay_period__in=closed, adjusts__isnull=True) | Q(adjusts__in=closed)
    )
    if team is not None:
        lines = lines.filter(engineer__profile__team=team)
    for line in lines:
        row = _line_row(line)
        key = (line.adjusts_id or line.pay_period_id, row.key)
        frozen[key] = frozen[key].plus(row) if key in frozen else row

    corrections: list[tuple[PayPeriod, CompensationRow]] = []
    for period, now_rows in zip(closed, closed_live, strict=True):
        keys = set(now_rows) | {k for (p, k) in frozen if p == period.pk}
        for key in sorted(keys, key=lambda k: (k[1], k[0])):
            now_row = now_rows.get(key)
            was_row = frozen.get((period.pk, key))
            if was_row is None:
                delta = now_row
            elif now_row is None:
                delta = was_row.negated()
            else:
                delta = now_row.minus(was_row)
            if not delta.is_zero:
                corrections.append((period, replace(delta, adjusts_period=_period_label(period))))
    return own_live, corrections


def resolve_team(name: str | None) -> Team | None:
    """The team called ``name`` (any letter case); None for no filter. Unknown: an error."""
    if not name:
        return None
    team = Team.objects.filter(name__iexact=name.strip()).first()
    if team is None:
        raise ValidationError({"team": UNKNOWN_TEAM.format(name=name)})
    return team


def compensation_report(
    *, start: date, end: date, team: str | None = None, with_balances: bool = False
) -> CompensationReport:
    """The compensation report for [start, end] (days in the project's TIME_ZONE).

    - A closed pay period with exactly these dates: its frozen lines, reproduced exactly.
    - An open pay period with exactly these dates: live figures plus corrections owed for
      earlier closed periods (merged into each engineer's row; ``row.adjustments`` lists them).
    - Any other range: live figures.

    ``team`` keeps the engineers whose own team has that name (any letter case).
    ``with_balances`` adds each engineer's comp-time balance at the end of the period
    (``report.balances``; on PostgreSQL counted by the report's own page query).
    """
    if end < start:
        raise ValidationError({"end": END_BEFORE_START})
    if end >= date.max:
        raise ValidationError({"end": REPORT_TOO_LATE})
    pay_period = PayPeriod.objects.filter(start_date=start, end_date=end).first()
    if pay_period is not None and pay_period.is_closed:
        lines = pay_period.lines.select_related("adjusts")
        team_name = None
        if team:
            # The team as it was named when the period was paid: a team renamed since is
            # still found under its old name (its lines keep it), as is one deleted since.
            paid_as = (
                lines.exclude(team="")
                .filter(team__iexact=team.strip())
                .values_list("team", flat=True)
            )
            team_name = paid_as.first() or resolve_team(team).name
            lines = lines.filter(team__iexact=team_name)
        parts: dict[tuple[int, str], list[CompensationRow]] = defaultdict(list)
        for line in lines.order_by("username", "currency", "adjusts__start_date"):
            row = _line_row(line)
            if line.adjusts_id:
                row = replace(row, adjusts_period=_period_label(line.adjusts))
            parts[row.key].append(row)
        report = CompensationReport(
            start=start,
            end=end,
            team=team_name,
            rows=_merge_rows(parts),
            pay_period=pay_period,
            frozen=True,
        )
        if with_balances:
            ids = [row.engineer_id for row in report.rows]
            report.balances.update(comp_time_balances(engineer_ids=ids, as_of=end))
        return report
    team_obj = resolve_team(team)
    team_name = team_obj.name if team_obj else None
    if pay_period is not None:
        own, corrections = pending_adjustments(pay_period=pay_period, team=team_obj)
        parts = defaultdict(list)
        for key, row in own.items():
            parts[key].append(row)
        for _period, delta in corrections:
            parts[delta.key].append(delta)
        report = CompensationReport(
            start=start, end=end, team=team_name, rows=_merge_rows(parts), pay_period=pay_period
        )
        if with_balances:
            ids = [row.engineer_id for row in report.rows]
            report.balances.update(comp_time_balances(engineer_ids=ids, as_of=end))
        return report
    bounds = rules.period_bounds(start, end, project_zone())
    balance_until = bounds[1] if with_balances else None
    [rows, *earned] = _live_rows([bounds], team_obj, balance_until=balance_until)
    report = CompensationReport(
        start=start, end=end, team=team_name, rows=sorted(rows.values(), key=_sort_key)
    )
    if with_balances:
        ids = [row.engineer_id for row in report.rows]
        if earned:
            report.balances.update(_balances(ids, earned[0], taken_until=end))
        else:
            report.balances.update(comp_time_balances(engineer_ids=ids, as_of=end))
    return report


# --- Drill-down and comp time -------------------------------------------------------------


@dataclass(frozen=True)
class Breakdown:
    shifts: list[dict]
    pages: list[dict]
    sev1_incidents: list[dict]


def compensation_breakdown(*, engineer, start: date, end: date) -> Breakdown:
    """The shifts, pages and most-severe incidents behind one engineer's row (live data)."""
    zone = project_zone()
    period_start, period_end = rules.period_bounds(start, end, zone)
    terms = rules.policy_terms(CompensationPolicy.objects.all(), zone)
    person_zone = _people([engineer.pk])[engineer.pk].zone
    shifts = []
    for shift in shifts_for_engineer(user=engineer, start=period_start, end=period_end):
        [clipped] = rules.clip([(shift.starts_at, shift.ends_at)], period_start, period_end)
        shifts.append(
            {
                "shift": shift,
                "starts_at": clipped[0],
                "ends_at": clipped[1],
                "hours": rules.money(
                    Decimal(rules.elapsed_seconds([clipped])) / rules.SECONDS_PER_HOUR
                ),
                "wall_clock_hours": rules.money(
                    rules.wall_clock_hours(clipped[0], clipped[1], person_zone)
                ),
            }
        )
    pages = []
    for page in (
        Page.objects.filter(engineer=engineer, paged_at__gte=period_start, paged_at__lt=period_end)
        .select_related("incident__severity")
        .order_by("paged_at")
    ):
        overnight = False
        if page.acknowledged_at is not None:
            policy = rules.policy_at(terms, page.paged_at)
            overnight = rules.is_overnight(
                page.paged_at, person_zone, policy.overnight_start, policy.overnight_end
            )
        pages.append(
            {
                "page": page,
                "local_time": page.paged_at.astimezone(person_zone),
                "overnight": overnight,
            }
        )
    sev1 = list(
        Page.objects.filter(
            engineer=engineer,
            acknowledged_at__isnull=False,
            incident__severity__is_most_severe=True,
        )
        .values("incident_id", "incident__reference", "incident__title")
        .annotate(first_paged_at=Min("paged_at"))
        .filter(first_paged_at__gte=period_start, first_paged_at__lt=period_end)
        .order_by("first_paged_at")
    )
    return Breakdown(shifts=shifts, pages=pages, sev1_incidents=sev1)


def comp_time_balances(
    *, engineer_ids, as_of: date, booked: bool = False
) -> dict[int, dict[str, Decimal]]:
    """Comp time granted by acknowledged overnight pages paged before the end of ``as_of``,
    hours taken up to ``as_of`` (with ``booked``, every hour logged, days off still to come
    included: what an engineer has left to book), and the balance, per engineer. A fixed
    number of queries (on PostgreSQL the pages are counted by the database)."""
    zone = project_zone()
    until = rules.day_start(as_of + timedelta(days=1), zone)
    terms = rules.policy_terms(CompensationPolicy.objects.all(), zone)
    granted: dict[int, Decimal] = defaultdict(Decimal)
    if connection.vendor == "postgresql":
        beginning = datetime(1900, 1, 1, tzinfo=zone)
        tallies = _page_tallies_in_database(
            [(beginning, until)], terms, engineer_ids=list(engineer_ids)
        )
        for (engineer_id, _period), rows in tallies.items():
            for policy, _count, overnight in rows:
                granted[engineer_id] += policy.comp_hours * overnight
    else:
        people = _people(engineer_ids)
        for engineer_id, paged_at in Page.objects.filter(
            engineer_id__in=engineer_ids, acknowledged_at__isnull=False, paged_at__lt=until
        ).values_list("engineer_id", "paged_at"):
            policy = rules.policy_at(terms, paged_at)
            if rules.is_overnight(
                paged_at, people[engineer_id].zone, policy.overnight_start, policy.overnight_end
            ):
                granted[engineer_id] += policy.comp_hours
    return _balances(engineer_ids, granted, taken_until=None if booked else as_of)


def _balances(engineer_ids, granted: dict[int, Decimal], *, taken_until: date | None) -> dict:
    """Granted minus the comp time taken up to ``taken_until`` (all of it when None). One
    query."""
    taken = CompTimeTaken.objects.filter(engineer_id__in=engineer_ids)
    if taken_until is not None:
        taken = taken.filter(date__lte=taken_until)
    taken = dict(
        taken.values("engineer_id").annotate(total=Sum("hours")).values_list("engineer_id", "total")
    )
    return {
        pk: {
            "granted": rules.money(granted.get(pk, Decimal(0))),
            "taken": rules.money(taken.get(pk) or Decimal(0)),
            "balance": rules.money(granted.get(pk, Decimal(0)) - (taken.get(pk) or Decimal(0))),
        }
        for pk in engineer_ids
    }


# --- The engineer's own on-call page -----------------------------------------------------------


@dataclass(frozen=True)
class MyOnCall:
    current: list[Shift]
    upcoming: list[Shift]
    pages_waiting: list[Page]
    recent_pages: list[Page]
    handoff_to_write: dict | None
    handoffs_to_read: list
    feed_token: str | None


def my_on_call(*, user, now: datetime | None = None, weeks: int = 8) -> MyOnCall:
    """Everything the "my on-call" page shows, in a fixed number of queries."""
    now = now or timezone.now()
    shifts = list(shifts_for_engineer(user=user, start=now, end=now + timedelta(weeks=weeks)))
    current = [s for s in shifts if s.starts_at <= now]
    upcoming = [s for s in shifts if s.starts_at > now]
    pages = list(
        Page.objects.filter(engineer=user, paged_at__gte=now - timedelta(days=7))
        .select_related("incident__severity")
        .order_by("-paged_at")
    )
    # A page whose incident is resolved waits for nothing: it can no longer be acknowledged.
    waiting = [
        p
        for p in pages
        if p.acknowledged_at is None and (p.incident is None or p.incident.resolved_at is None)
    ]
    # The next handoff this person gives: the end of the primary shift they are on now that
    # ends first (of any rotation), when someone's primary shift starts right then. A week not
    # begun has nothing to hand over yet.
    to_write = None
    mine = [s for s in current if s.role == ShiftRole.PRIMARY]
    if mine:
        ending = min(mine, key=lambda shift: (shift.ends_at, shift.pk))
        successor = (
            Shift.objects.filter(
                rotation_id=ending.rotation_id,
                role=ShiftRole.PRIMARY,
                starts_at=ending.ends_at,
            )
            .exclude(engineer=user)
            .select_related("engineer")
            .first()
        )
        existing = None
        if successor is not None:
            existing = (
                Handoff.objects.filter(rotation_id=ending.rotation_id, handoff_at=ending.ends_at)
                .select_related("incoming")
                .first()
            )
        # A written handoff stays with the two people it was written for (an override since
        # changes nothing): someone else's is not offered, and one's own names its reader.
        written = existing is not None and existing.written_at is not None
        if successor is not None and not (written and existing.outgoing_id != user.pk):
            to_write = {
                "rotation": ending.rotation,
                "handoff_at": ending.ends_at,
                "incoming": existing.incoming if written else successor.engineer,
                "handoff": existing,
            }
    to_read = list(
        Handoff.objects.filter(
            incoming=user, written_at__isnull=False, handoff_at__gte=now - timedelta(days=7)
        )
        .select_related("outgoing", "rotation__team")
        .order_by("-handoff_at")
    )
    feed = CalendarFeed.objects.filter(user=user).values_list("token", flat=True).first()
    return MyOnCall(
        current=current,
        upcoming=upcoming,
        pages_waiting=waiting,
        recent_pages=pages,
        handoff_to_write=to_write,
        handoffs_to_read=to_read,
        feed_token=feed,
    )


@dataclass(frozen=True)
class CalendarWeek:
    starts_at: datetime
    primary: list[Shift]
    secondary: list[Shift]


def rotation_calendar(
    *, rotation: Rotation, now: datetime | None = None, weeks: int = 8
) -> list[CalendarWeek]:
    """The rotation's next ``weeks`` weeks (from the week running now) with who is primary and
    secondary in each, overrides included. Two queries."""
    now = now or timezone.now()
    first = rotation.week_index_at(now)
    bounds = [rotation.handoff_moment(first + n) for n in range(weeks + 1)]
    shifts = list(rotation_shifts(rotation=rotation, start=bounds[0], end=bounds[-1]))
    calendar = []
    for start, end in pairwise(bounds):
        inside = [s for s in shifts if s.starts_at < end and s.ends_at > start]
        calendar.append(
            CalendarWeek(
                starts_at=start,
                primary=[s for s in inside if s.role == ShiftRole.PRIMARY],
                secondary=[s for s in inside if s.role == ShiftRole.SECONDARY],
            )
        )
    return calendar


# --- On-call burden (docs/metrics.md) -----------------------------------------------------------


@dataclass
class BurdenRow:
    """One engineer's (or team's) on-call load in a period."""

    key: int | None  # the engineer's or team's id; None for "No team"
    name: str
    team: str
    on_call_seconds: int = 0
    pages: int = 0
    overnight_pages: int = 0
    weekend_pages: int = 0
    incidents: set[int] = field(default_factory=set)
    incidents_counted: int | None = None  # counted by the database instead of ``incidents``

    @property
    def on_call_hours(self) -> Decimal:
        return rules.money(Decimal(self.on_call_seconds) / rules.SECONDS_PER_HOUR)

    @property
    def incidents_handled(self) -> int:
        if self.incidents_counted is not None:
            return self.incidents_counted
        return len(self.incidents)


@dataclass(frozen=True)
class OncallBurden:
    engineers: list[BurdenRow]  # most pages first
    teams: list[BurdenRow]  # by name, "No team" last (by load, most pages first, if limited)
    engineer_count: int = 0  # how many there are, listed or not
    team_count: int = 0

    @property
    def engineers_not_listed(self) -> int:
        return self.engineer_count - len(self.engineers)

    @property
    def teams_not_listed(self) -> int:
        return self.team_count - len(self.teams)


DEFAULT_OVERNIGHT = (time(22, 0), time(7, 0))


def _overnight(terms: list[rules.PolicyTerms], moment: datetime, zone) -> bool:
    """Whether a page woke someone: its local time in the engineer's zone is in the overnight
    window of the compensation policy in force (22:00-07:00 when none is)."""
    try:
        policy = rules.policy_at(terms, moment)
        start, end = policy.overnight_start, policy.overnight_end
    except ValidationError:
        start, end = DEFAULT_OVERNIGHT
    return rules.is_overnight(moment, zone, start, end)


def oncall_burden(
    *,
    period,
    team: Team | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> OncallBurden:
    """Who carries the on-call load in an ``incidents.metrics.Period``, per engineer and per
    team (the engineer's own team; ``team`` keeps its members only):

    - on-call hours: the union of the engineer's shifts (primary and secondary, overlaps once)
      clipped to the period, in elapsed hours, as in the compensation report; while the
      period runs, up to ``now`` only (shifts generated ahead are not yet carried);
    - pages: every page paged in the period, acknowledged or not; overnight pages: paged in
      the compensation policy's overnight window (22:00-07:00) in the engineer's own zone,
      DST-aware; weekend pages: paged on a Saturday or Sunday there (a page can be both);
    - incidents handled: distinct incidents whose page the engineer acknowledged, or on which
      they were given a role, in the period (a team's count is distinct across its members).

    ``limit`` keeps the engineers and the teams with the most load (the counts say how many
    there are). On PostgreSQL the database aggregates (``BURDEN_SQL``: two queries whatever
    the number of shifts and pages); elsewhere five queries read the rows and the same rules
    run in Python (``oncall.compensation``).
    """
    terms = rules.policy_terms(CompensationPolicy.objects.all(), project_zone())
    # Never before the period's start: a period still to come has no hours yet.
    hours_until = max(period.starts_at, period.as_of(now or timezone.now()))
    if connection.vendor == "postgresql":
        engineers, team_incidents = _burden_in_database(period, team, terms, hours_until)
    else:
        engineers, team_incidents = _burden_in_python(period, team, terms, hours_until)
    engineers.sort(key=lambda r: (-r.pages, -r.on_call_seconds, r.name.lower(), r.key))
    teams: dict[str, BurdenRow] = {}
    for row in engineers:
        total = teams.setdefault(
            row.team, BurdenRow(key=None, name=row.team or "No team", team=row.team)
        )
        total.on_call_seconds += row.on_call_seconds
        total.pages += row.pages
        total.overnight_pages += row.overnight_pages
        total.weekend_pages += row.weekend_pages
    for name, total in teams.items():
        total.incidents_counted = team_incidents.get(name, 0)
    team_rows = sorted(teams.values(), key=lambda r: (not r.team, r.name.lower()))
    if limit is not None:
        team_rows = sorted(team_rows, key=lambda r: (-r.pages, -r.on_call_seconds, r.name.lower()))[
            :limit
        ]
    return OncallBurden(
        engineers=engineers if limit is None else engineers[:limit],
        teams=team_rows,
        engineer_count=len(engineers),
        team_count=len(teams),
    )


def _burden_in_python(
    period, team, terms, hours_until: datetime
) -> tuple[list[BurdenRow], dict[str, int]]:
    from incidents.models import RoleAssignment

    start, end = period.starts_at, period.ends_at
    where = _engineer_filter("engineer__", team)
    shifts: dict[int, list[rules.Interval]] = defaultdict(list)
    for engineer_id, starts_at, ends_at in Shift.objects.filter(
        where, ends_at__gt=start, starts_at__lt=hours_until
    ).values_list("engineer_id", "starts_at", "ends_at"):
        shifts[engineer_id].append((starts_at, ends_at))
    pages = list(
        Page.objects.filter(where, paged_at__gte=start, paged_at__lt=end).values_list(
            "engineer_id", "paged_at", "acknowledged_at", "incident_id"
        )
    )
    roles = list(
        RoleAssignment.objects.filter(
            _engineer_filter("user__", team), assigned_at__gte=start, assigned_at__lt=end
        ).values_list("user_id", "incident_id")
    )
    ids = set(shifts) | {row[0] for row in pages} | {row[0] for row in roles}
    people = _people(ids)
    rows = {
        pk: BurdenRow(
            key=pk, name=people[pk].full_name or people[pk].username, team=people[pk].team
        )
        for pk in ids
    }
    for engineer_id, intervals in shifts.items():
        rows[engineer_id].on_call_seconds = rules.elapsed_seconds(
            rules.clip(rules.merge(intervals), start, hours_until)
        )
    for engineer_id, paged_at, acknowledged_at, incident_id in pages:
        row, zone = rows[engineer_id], people[engineer_id].zone
        row.pages += 1
        row.overnight_pages += _overnight(terms, paged_at, zone)
        row.weekend_pages += paged_at.astimezone(zone).weekday() >= 5
        if acknowledged_at is not None and incident_id is not None:
            row.incidents.add(incident_id)
    for user_id, incident_id in roles:
        rows[user_id].incidents.add(incident_id)
    team_incidents: dict[str, set[int]] = defaultdict(set)
    for row in rows.values():
        team_incidents[row.team] |= row.incidents
    return list(rows.values()), {name: len(found) for name, found in team_incidents.items()}


BURDEN_SQL = """
WITH policies(starts, ends, night_from, night_to) AS (VALUES {policies}),
people AS (
  SELECT u.id, u.username, trim(u.first_name || ' ' || u.last_name) AS full_name,
         coalesce(t.name, '') AS team, coalesce(nullif(p.time_zone, ''), %(zone)s) AS tz
  FROM auth_user u
  LEFT JOIN incidents_profile p ON p.user_id = u.id
  LEFT JOIN incidents_team t ON t.id = p.team_id
  {team_filter}
),
covers AS (
  SELECT s.engineer_id AS id,
         unnest(range_agg(tstzrange(s.starts_at, s.ends_at))) AS cover
  FROM oncall_shift s JOIN people pe ON pe.id = s.engineer_id
  WHERE s.ends_at > %(start)s AND s.starts_at < %(hours_until)s
  GROUP BY s.engineer_id
),
hours AS (
  SELECT id, sum(floor(extract(epoch FROM upper(clipped) - lower(clipped))))::bigint AS seconds
  FROM (SELECT id, cover * tstzrange(%(start)s, %(hours_until)s) AS clipped FROM covers) c
  WHERE NOT isempty(clipped)
  GROUP BY id
),
paged AS (
  SELECT g.engineer_id AS id, g.paged_at, g.acknowledged_at, g.incident_id,
         g.paged_at AT TIME ZONE pe.tz AS local
  FROM oncall_page g JOIN people pe ON pe.id = g.engineer_id
  WHERE g.paged_at >= %(start)s AND g.paged_at < %(end)s
),
page_figures AS (
  SELECT pg.id, count(*) AS pages,
         count(*) FILTER (WHERE CASE
           WHEN w.night_from <= w.night_to
             THEN pg.local::time >= w.night_from AND pg.local::time < w.night_to
           ELSE pg.local::time >= w.night_from OR pg.local::time < w.night_to END) AS overnight,
         count(*) FILTER (WHERE extract(isodow FROM pg.local) >= 6) AS weekend
  FROM paged pg
  CROSS JOIN LATERAL (
    SELECT coalesce(max(pol.night_from), %(night_from)s::time) AS night_from,
           coalesce(max(pol.night_to), %(night_to)s::time) AS night_to
    FROM policies pol
    WHERE pg.paged_at >= pol.starts AND (pol.ends IS NULL OR pg.paged_at < pol.ends)
  ) w
  GROUP BY pg.id
),
handled AS (
  SELECT id, incident_id FROM paged
  WHERE acknowledged_at IS NOT NULL AND incident_id IS NOT NULL
  UNION
  SELECT r.user_id, r.incident_id
  FROM incidents_roleassignment r JOIN people pe ON pe.id = r.user_id
  WHERE r.assigned_at >= %(start)s AND r.assigned_at < %(end)s
),
-- ``handled`` holds each engineer's incident once: an engineer's count is its rows, a team's
-- the distinct incidents of its people (hashed, where a DISTINCT aggregate sorts).
person_counts AS (
  SELECT id, count(*) AS n FROM handled GROUP BY id
),
team_counts AS (
  SELECT team, count(*) AS n
  FROM (SELECT DISTINCT pe.team, h.incident_id FROM handled h JOIN people pe ON pe.id = h.id) x
  GROUP BY team
)
SELECT pe.id, pe.username, pe.full_name, pe.team, coalesce(hr.seconds, 0),
       coalesce(pf.pages, 0), coalesce(pf.overnight, 0), coalesce(pf.weekend, 0),
       coalesce(hc.n, 0)
FROM people pe
LEFT JOIN hours hr ON hr.id = pe.id
LEFT JOIN page_figures pf ON pf.id = pe.id
LEFT JOIN person_counts hc ON hc.id = pe.id
WHERE hr.id IS NOT NULL OR pf.id IS NOT NULL OR hc.id IS NOT NULL
   OR EXISTS (SELECT 1 FROM covers cv WHERE cv.id = pe.id)
UNION ALL
SELECT NULL, NULL, NULL, team, NULL, NULL, NULL, NULL, n FROM team_counts
"""


def _burden_in_database(
    period, team, terms, hours_until: datetime
) -> tuple[list[BurdenRow], dict[str, int]]:
    """``BURDEN_SQL``: every engineer's figures summed by the database, with the same rules
    as ``_burden_in_python`` (local times in each engineer's zone, the policy in force's
    overnight window, shifts joined once); the compensation and metrics tests hold both to
    the same DST edges."""
    params: dict = {
        "zone": settings.TIME_ZONE,
        "start": period.starts_at,
        "end": period.ends_at,
        "hours_until": hours_until,
        "night_from": DEFAULT_OVERNIGHT[0],
        "night_to": DEFAULT_OVERNIGHT[1],
    }
    rows = []
    for index, term in enumerate(terms):
        rows.append(
            f"(%(s{index})s::timestamptz, %(e{index})s::timestamptz,"
            f" %(f{index})s::time, %(t{index})s::time)"
        )
        params |= {
            f"s{index}": term.starts,
            f"e{index}": term.ends,
            f"f{index}": term.overnight_start,
            f"t{index}": term.overnight_end,
        }
    if not rows:
        rows.append("(NULL::timestamptz, NULL::timestamptz, NULL::time, NULL::time)")
    team_filter = ""
    if team is not None:
        team_filter = "WHERE p.team_id = %(team)s"
        params["team"] = team.pk
    sql = BURDEN_SQL.format(policies=", ".join(rows), team_filter=team_filter)
    engineers, team_incidents = [], {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for pk, username, full_name, team_name, *figures in cursor.fetchall():
            if pk is None:
                team_incidents[team_name] = figures[-1]
                continue
            seconds, pages, overnight, weekend, handled = figures
            engineers.append(
                BurdenRow(
                    key=pk,
                    name=full_name or username,
                    team=team_name,
                    on_call_seconds=int(seconds),
                    pages=pages,
                    overnight_pages=overnight,
                    weekend_pages=weekend,
                    incidents_counted=handled,
                )
            )
    return engineers, team_incidents
