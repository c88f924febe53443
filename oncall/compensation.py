"""The compensation rules as pure functions (no database), so each rule can be tested at its
edges. ``oncall.selectors`` loads the rows and calls these.

The rules, for one engineer and a report period [start date 00:00, end date + 1 day 00:00) in
the project's TIME_ZONE:

- on_call_hours: the union of the engineer's shifts (overlaps count once) clipped to the period,
  in real elapsed hours.
- stipend: weekly stipend x wall-clock hours on call / 168, wall-clock hours measured in the
  engineer's time zone (a full week across a DST change is 168 wall-clock hours).
- sev1_incidents: distinct most-severe incidents for which the engineer acknowledged a page,
  counted in the period holding the paged moment of the first such acknowledged page.
- overnight_pages: acknowledged pages paged in the period whose local time (engineer's zone) is
  in the policy's overnight window [22:00, 07:00); each earns the policy's comp hours.
- Every hour, page and bonus is priced by the policy in force at its moment. Money is Decimal,
  summed unrounded and rounded half-up to cents once per line.
"""

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError

CENT = Decimal("0.01")
HOURS_PER_WEEK = Decimal(168)
SECONDS_PER_HOUR = Decimal(3600)

NO_POLICY = "No compensation policy is in force at {moment}; add one in the admin."
MIXED_CURRENCIES = (
    "{username}'s figures for this period are priced in several currencies ({currencies}); "
    "report the periods before and after the policy change separately."
)

Interval = tuple[datetime, datetime]


def money(value: Decimal) -> Decimal:
    """Round half-up to cents (once per line)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PolicyTerms:
    """A policy's rules with its effective dates turned into instants."""

    starts: datetime
    ends: datetime | None
    currency: str
    weekly_stipend: Decimal
    sev1_bonus: Decimal
    comp_hours: Decimal
    overnight_start: time
    overnight_end: time

    def covers(self, moment: datetime) -> bool:
        return self.starts <= moment and (self.ends is None or moment < self.ends)


def day_start(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    """00:00 of ``day`` in ``zone`` as an aware datetime (the first moment of that day)."""
    return datetime.combine(day, time(0), tzinfo=zone)


def period_bounds(start: date, end: date, zone: zoneinfo.ZoneInfo) -> Interval:
    """[start 00:00, end + 1 day 00:00) in ``zone``."""
    return day_start(start, zone), day_start(end + timedelta(days=1), zone)


def policy_terms(policies: Iterable, zone: zoneinfo.ZoneInfo) -> list[PolicyTerms]:
    """Policies as terms, their dates read as midnights in the project's zone, oldest first."""
    terms = [
        PolicyTerms(
            starts=day_start(p.effective_from, zone),
            ends=day_start(p.effective_to, zone) if p.effective_to else None,
            currency=p.currency,
            weekly_stipend=p.weekly_stipend,
            sev1_bonus=p.sev1_bonus,
            comp_hours=p.comp_hours_per_overnight_page,
            overnight_start=p.overnight_start,
            overnight_end=p.overnight_end,
        )
        for p in policies
    ]
    return sorted(terms, key=lambda t: t.starts)


def policy_at(terms: Sequence[PolicyTerms], moment: datetime) -> PolicyTerms:
    for term in terms:
        if term.covers(moment):
            return term
    raise ValidationError(NO_POLICY.format(moment=moment.isoformat()))


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of intervals as sorted, disjoint intervals (touching ones are joined)."""
    merged: list[list[datetime]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    clipped = []
    for a, b in intervals:
        a, b = max(a, start), min(b, end)
        if a < b:
            clipped.append((a, b))
    return clipped


def split_at(intervals: Iterable[Interval], cuts: Iterable[datetime]) -> list[Interval]:
    """Cut intervals at each moment in ``cuts`` (policy boundaries)."""
    cuts = sorted(set(cuts))
    pieces = []
    for a, b in intervals:
        for cut in cuts:
            if a < cut < b:
                pieces.append((a, cut))
                a = cut
        pieces.append((a, b))
    return pieces


def elapsed_seconds(intervals: Iterable[Interval]) -> int:
    return sum(int((b - a).total_seconds()) for a, b in intervals)


def wall_clock_hours(start: datetime, end: datetime, zone: zoneinfo.ZoneInfo) -> Decimal:
    """Hours between two moments as the clock on the wall in ``zone`` shows them.

    Across a spring-forward night a Monday 09:00 to Monday 09:00 week is 167 elapsed hours but
    168 wall-clock hours; across a fall-back night it is 169 elapsed and 168 wall-clock.
    """
    local_start = start.astimezone(zone).replace(tzinfo=None)
    local_end = end.astimezone(zone).replace(tzinfo=None)
    return Decimal(int((local_end - local_start).total_seconds())) / SECONDS_PER_HOUR


def is_overnight(moment: datetime, zone: zoneinfo.ZoneInfo, start: time, end: time) -> bool:
    """Whether ``moment``'s local time in ``zone`` lies in [start, end), a window that may wrap
    midnight (22:00-07:00) or not (00:00-06:00)."""
    local = moment.astimezone(zone).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


@dataclass
class Figures:
    """One engineer's figures for one period, before formatting. Money is unrounded until
    ``rounded()``."""

    on_call_seconds: int = 0
    stipend: Decimal = Decimal(0)
    sev1_incidents: int = 0
    sev1_bonus: Decimal = Decimal(0)
    overnight_pages: int = 0
    comp_time_hours: Decimal = Decimal(0)
    pages: int = 0
    currencies: set[str] = field(default_factory=set)

    @property
    def has_activity(self) -> bool:
        return bool(self.on_call_seconds or self.pages or self.sev1_incidents)


def engineer_figures(
    *,
    shifts: Iterable[Interval],
    pages: Iterable[tuple[datetime, datetime | None]],
    sev1_first_acknowledged_pages: Iterable[datetime],
    zone: zoneinfo.ZoneInfo,
    period: Interval,
    terms: Sequence[PolicyTerms],
) -> Figures:
    """Apply the rules to one engineer's shifts, pages ``(paged_at, acknowledged_at)`` and the
    paged moments of their first acknowledged page per most-severe incident."""
    start, end = period
    figures = Figures()

    on_call = clip(merge(shifts), start, end)
    figures.on_call_seconds = elapsed_seconds(on_call)
    cuts = [t.starts for t in terms] + [t.ends for t in terms if t.ends is not None]
    for a, b in split_at(on_call, cuts):
        policy = policy_at(terms, a)
        figures.stipend += policy.weekly_stipend * wall_clock_hours(a, b, zone) / HOURS_PER_WEEK
        figures.currencies.add(policy.currency)

    for paged_at, acknowledged_at in pages:
        if not start <= paged_at < end:
            continue
        figures.pages += 1
        if acknowledged_at is None:
            continue
        policy = policy_at(terms, paged_at)
        if is_overnight(paged_at, zone, policy.overnight_start, policy.overnight_end):
            figures.overnight_pages += 1
            figures.comp_time_hours += policy.comp_hours
            figures.currencies.add(policy.currency)

    for paged_at in sev1_first_acknowledged_pages:
        if start <= paged_at < end:
            policy = policy_at(terms, paged_at)
            figures.sev1_incidents += 1
            figures.sev1_bonus += policy.sev1_bonus
            figures.currencies.add(policy.currency)
    return figures
