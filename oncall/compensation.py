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
  summed unrounded and rounded half-up to cents once per line. The stipend is weekly stipend x
  wall-clock seconds, summed exactly, divided by 604,800 once, so a line worth exactly half a
  cent more rounds up however its hours were split into shifts.
"""

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError

CENT = Decimal("0.01")
SECONDS_PER_HOUR = Decimal(3600)
SECONDS_PER_WEEK = Decimal(168 * 3600)

NO_POLICY = "No compensation policy is in force at {moment}; add one in the admin."

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
    """Real elapsed seconds. Each end is taken to UTC first: Python subtracts two datetimes
    that share a tzinfo object as wall-clock times, and a period's bounds (midnights in the
    project's zone) share one, so an hour the clocks skip or repeat would be lost."""
    return sum(int((b.astimezone(UTC) - a.astimezone(UTC)).total_seconds()) for a, b in intervals)


def _transition_before(moment: datetime, zone: zoneinfo.ZoneInfo, span: timedelta) -> datetime:
    """The instant (UTC, whole seconds) in (moment - span, moment] where ``zone``'s offset last
    changed."""
    offset = moment.astimezone(zone).utcoffset()
    low = int((moment - span).timestamp())
    high = int(moment.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def wall_clock_position(moment: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """Where ``moment`` sits on the wall clock of ``zone`` (a naive datetime, never going back).

    Outside a fall-back night this is simply the local time. When clocks go back, the local
    times of the repeated hour happen twice; the two real hours are laid over that one wall
    hour at half speed, so the position keeps moving forward and a full local week still
    measures 168 hours. When clocks go forward the position jumps the skipped hour, so a week
    across that night also measures 168.
    """
    moment = moment.astimezone(UTC)  # arithmetic below must be in elapsed time
    local = moment.astimezone(zone)
    naive = local.replace(tzinfo=None)
    twin = naive.replace(fold=1 - local.fold).replace(tzinfo=zone)
    if twin.utcoffset() == local.utcoffset():
        return naive  # not in a repeated hour
    earlier, later = sorted((local.utcoffset(), twin.utcoffset()), reverse=True)
    gap = earlier - later  # how far the clocks went back
    if local.fold == 0:
        # First pass through the repeated hour: the change is still ahead.
        change = _transition_before(moment + gap, zone, gap + timedelta(seconds=1))
    else:
        change = _transition_before(moment, zone, gap + timedelta(seconds=1))
    repeated_start = (change + later).replace(tzinfo=None)  # the wall time the clock jumps to
    elapsed = moment - (change - gap)
    return repeated_start + elapsed / 2


def wall_clock_hours(start: datetime, end: datetime, zone: zoneinfo.ZoneInfo) -> Decimal:
    """Hours between two moments as the clock on the wall in ``zone`` shows them.

    A Monday 09:00 to Monday 09:00 week is 168 wall-clock hours whether DST made it 167 or 169
    real hours. Never negative, and additive: splitting an interval splits its hours.
    """
    return Decimal(wall_clock_seconds(start, end, zone)) / SECONDS_PER_HOUR


def wall_clock_seconds(start: datetime, end: datetime, zone: zoneinfo.ZoneInfo) -> int:
    """``wall_clock_hours`` in whole seconds."""
    span = wall_clock_position(end, zone) - wall_clock_position(start, zone)
    return round(span.total_seconds())


def is_overnight(moment: datetime, zone: zoneinfo.ZoneInfo, start: time, end: time) -> bool:
    """Whether ``moment``'s local time in ``zone`` lies in [start, end), a window that may wrap
    midnight (22:00-07:00) or not (00:00-06:00)."""
    local = moment.astimezone(zone).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


@dataclass
class Figures:
    """One engineer's figures for one period in one currency, before rounding."""

    on_call_seconds: int = 0
    stipend: Decimal = Decimal(0)
    sev1_incidents: int = 0
    sev1_bonus: Decimal = Decimal(0)
    overnight_pages: int = 0
    comp_time_hours: Decimal = Decimal(0)
    pages: int = 0

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
    page_tallies: Iterable[tuple[PolicyTerms, int, int]] | None = None,
) -> dict[str, Figures]:
    """Apply the rules to one engineer's shifts, pages ``(paged_at, acknowledged_at)`` and the
    paged moments of their first acknowledged page per most-severe incident.

    ``page_tallies``, when given, replaces ``pages``: the pages of the period already counted
    by the database as ``(policy, pages, acknowledged overnight pages)`` (same rules, see
    ``oncall.selectors``).

    Returns figures per currency: each hour, page and bonus goes to the currency of the policy
    in force at its moment (one currency unless a policy change switched it inside the
    period, when finance pays the two parts separately).
    """
    start, end = period
    by_currency: dict[str, Figures] = {}

    def bucket(policy: PolicyTerms) -> Figures:
        return by_currency.setdefault(policy.currency, Figures())

    on_call = clip(merge(shifts), start, end)
    cuts = [t.starts for t in terms] + [t.ends for t in terms if t.ends is not None]
    # Weekly stipend x wall-clock seconds, summed per currency: products of a Decimal and an
    # integer are exact, so the one division below is the only rounding before ``money``.
    stipend_seconds: dict[str, Decimal] = {}
    for a, b in split_at(on_call, cuts):
        policy = policy_at(terms, a)
        figures = bucket(policy)
        figures.on_call_seconds += elapsed_seconds([(a, b)])
        earned = policy.weekly_stipend * wall_clock_seconds(a, b, zone)
        stipend_seconds[policy.currency] = stipend_seconds.get(policy.currency, 0) + earned
    for currency, total in stipend_seconds.items():
        by_currency[currency].stipend = total / SECONDS_PER_WEEK

    for policy, count, overnight in page_tallies or ():
        figures = bucket(policy)
        figures.pages += count
        figures.overnight_pages += overnight
        figures.comp_time_hours += policy.comp_hours * overnight

    for paged_at, acknowledged_at in pages if page_tallies is None else ():
        if not start <= paged_at < end:
            continue
        policy = policy_at(terms, paged_at)
        figures = bucket(policy)
        figures.pages += 1
        if acknowledged_at is None:
            continue
        if is_overnight(paged_at, zone, policy.overnight_start, policy.overnight_end):
            figures.overnight_pages += 1
            figures.comp_time_hours += policy.comp_hours

    for paged_at in sev1_first_acknowledged_pages:
        if start <= paged_at < end:
            policy = policy_at(terms, paged_at)
            figures = bucket(policy)
            figures.sev1_incidents += 1
            figures.sev1_bonus += policy.sev1_bonus
    return by_currency
