"""Reads of post-mortems and action items. Each selector owns its joins and annotations, so the
admin, the export and (later) the engineers' pages cannot cause N+1 queries.

Overdue, precisely:

- a post-mortem stage (draft, review, publish) is overdue at ``now`` when its due moment is
  strictly before ``now`` and the stage is not reached: the moment that meets it (submitted for
  review, review meeting held, published) is not stamped, or is stamped after ``now``. Exactly
  at the due moment it is not overdue yet; one second later it is.
- an action item is due by the end of its due date in the project's time zone (``TIME_ZONE``),
  i.e. by the midnight that starts the next day, and is overdue strictly after that midnight
  while it is still open or in progress.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import (
    Avg,
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat, NullIf, Trim
from django.utils import timezone

from incidents.models import Incident
from postmortems.models import (
    OPEN_ITEM_STATUSES,
    STAGE_DUE_FIELD,
    STAGE_MET_FIELD,
    ActionItem,
    ActionItemStatus,
    FiveWhy,
    Postmortem,
    PostmortemPolicy,
    PostmortemTimelineEntry,
    Stage,
    TimelinePhase,
)
from postmortems.models.policy import POLICY_PK

# --- Policy -------------------------------------------------------------------------------------


def postmortem_policy() -> PostmortemPolicy:
    """The deadlines policy: the stored row, or the runbook's defaults (24/48/72 h) when the row
    is missing (it is seeded by a migration, so only a wiped database lacks it)."""
    return PostmortemPolicy.objects.filter(pk=POLICY_PK).first() or PostmortemPolicy(pk=POLICY_PK)


# --- Post-mortems -------------------------------------------------------------------------------


def stage_overdue_q(stage: str, now: datetime) -> Q:
    """Post-mortems whose ``stage`` is overdue at ``now``: due strictly before now and not
    reached, their incident resolved (reopened, it has no deadline running: they are counted
    again from its next resolution)."""
    due, met = STAGE_DUE_FIELD[stage], STAGE_MET_FIELD[stage]
    return Q(**{f"{due}__lt": now}, incident__resolved_at__isnull=False) & (
        Q(**{f"{met}__isnull": True}) | Q(**{f"{met}__gt": now})
    )


def stage_pending_q(stage: str, now: datetime) -> Q:
    """Rows that have not reached ``stage`` by ``now`` (whatever their due moment)."""
    met = STAGE_MET_FIELD[stage]
    return Q(**{f"{met}__isnull": True}) | Q(**{f"{met}__gt": now})


def any_stage_overdue_q(now: datetime) -> Q:
    query = Q()
    for stage in Stage.values:
        query |= stage_overdue_q(stage, now)
    return query


def _flag(query: Q) -> Case:
    return Case(When(query, then=Value(True)), default=Value(False), output_field=BooleanField())


def postmortem_list(*, now: datetime | None = None) -> QuerySet[Postmortem]:
    """Post-mortems with their incident (severity, team) and owner joined, newest first, each
    annotated with ``draft_overdue``, ``review_overdue``, ``publish_overdue`` (booleans at
    ``now``). One query whatever the row count."""
    now = now or timezone.now()
    return (
        Postmortem.objects.select_related(
            "incident__severity", "incident__team", "incident__acknowledged_by", "owner"
        )
        .annotate(
            draft_overdue=_flag(stage_overdue_q(Stage.DRAFT, now)),
            review_overdue=_flag(stage_overdue_q(Stage.REVIEW, now)),
            publish_overdue=_flag(stage_overdue_q(Stage.PUBLISH, now)),
        )
        .order_by("-scheduled_at", "-id")
    )


def postmortems_overdue(*, stage: str, now: datetime) -> QuerySet[Postmortem]:
    """Post-mortems whose ``stage`` deadline has passed at ``now`` without being met, most
    overdue first."""
    due = STAGE_DUE_FIELD[stage]
    return postmortem_list(now=now).filter(stage_overdue_q(stage, now)).order_by(due, "id")


def postmortems_due(
    *,
    stage: str,
    now: datetime,
    within: timedelta = timedelta(0),
    since: datetime | None = None,
) -> QuerySet[Postmortem]:
    """Post-mortems that have not reached ``stage`` by ``now`` and whose due moment for it is at
    or before ``now + within`` (and at or after ``since``, when given): the overdue ones and
    those due soon. Each is annotated with ``is_overdue``; soonest due first. A post-mortem
    whose incident was reopened has no deadline running: they are counted again from its
    next resolution."""
    due = STAGE_DUE_FIELD[stage]
    bounds = {f"{due}__lte": now + within, "incident__resolved_at__isnull": False}
    if since is not None:
        bounds[f"{due}__gte"] = since
    return (
        postmortem_list(now=now)
        .filter(stage_pending_q(stage, now), **bounds)
        .annotate(is_overdue=_flag(stage_overdue_q(stage, now)))
        .order_by(due, "id")
    )


def postmortem_detail(*, pk: int) -> Postmortem:
    """One post-mortem with everything its page and its Markdown show (incident facts, people,
    timeline entries, 5 Whys, action items with owners) in a fixed number of queries."""
    return (
        Postmortem.objects.select_related(
            "incident__severity", "incident__team", "incident__acknowledged_by", "owner"
        )
        .prefetch_related(
            "reviewers",
            Prefetch(
                "timeline_entries",
                queryset=PostmortemTimelineEntry.objects.order_by("occurred_at", "id"),
            ),
            Prefetch("five_whys", queryset=FiveWhy.objects.order_by("position")),
            Prefetch(
                "action_items",
                queryset=ActionItem.objects.select_related("owner").order_by(
                    "due_date", "priority", "id"
                ),
            ),
        )
        .get(pk=pk)
    )


def postmortem_list_with_details(*, now: datetime | None = None) -> QuerySet[Postmortem]:
    """``postmortem_list`` (with its overdue flags) plus everything one post-mortem's API view
    shows: reviewers, timeline entries, the 5 Whys and the action items (as
    ``action_item_list`` gives them). Six queries for one post-mortem."""
    now = now or timezone.now()
    return postmortem_list(now=now).prefetch_related(
        "reviewers",
        Prefetch(
            "timeline_entries",
            queryset=PostmortemTimelineEntry.objects.order_by("occurred_at", "id"),
        ),
        Prefetch("five_whys", queryset=FiveWhy.objects.order_by("position")),
        Prefetch("action_items", queryset=action_item_list(now=now)),
    )


def format_moment(value: datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    """``2026-03-02 04:03 EST``: a moment in ``zone``, its abbreviation naming the offset
    (and telling the two sides of a DST change apart); "—" when there is none."""
    if value is None:
        return "—"
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class TimelineLine:
    at: datetime  # in the reader's zone
    text: str

    @property
    def moment(self) -> str:
        return format_moment(self.at, self.at.tzinfo)


@dataclass(frozen=True)
class TimelinePhaseGroup:
    phase: str
    label: str
    lines: list[TimelineLine]


def postmortem_timeline(
    *, postmortem: Postmortem, zone: zoneinfo.ZoneInfo
) -> list[TimelinePhaseGroup]:
    """The post-mortem's timeline in ``zone``, grouped by phase in the order detected,
    acknowledged, mitigated, resolved; phases without lines are left out. Uses the prefetched
    ``timeline_entries`` when present (``postmortem_detail``)."""
    by_phase: dict[str, list[TimelineLine]] = {phase: [] for phase in TimelinePhase.values}
    entries = sorted(postmortem.timeline_entries.all(), key=lambda e: (e.occurred_at, e.pk))
    for entry in entries:
        by_phase[entry.phase].append(
            TimelineLine(at=entry.occurred_at.astimezone(zone), text=entry.text)
        )
    return [
        TimelinePhaseGroup(phase=phase, label=TimelinePhase(phase).label, lines=lines)
        for phase, lines in by_phase.items()
        if lines
    ]


# --- Action items -------------------------------------------------------------------------------


def project_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def overdue_before(now: datetime) -> date:
    """Open items due strictly before this date are overdue at ``now``.

    An item due on day D is due by the midnight that starts D + 1 (project zone) and overdue
    strictly after it, so at exactly that midnight it is not overdue yet.
    """
    return (now.astimezone(project_zone()) - timedelta(microseconds=1)).date()


def due_day_end(day: date) -> datetime:
    """The moment an item due on ``day`` is due by: the midnight that ends it in the project's
    zone (the rule ``overdue_before`` applies), to be shown on each reader's own clock."""
    zone = project_zone()
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def item_overdue_q(now: datetime, prefix: str = "") -> Q:
    return Q(**{f"{prefix}status__in": OPEN_ITEM_STATUSES}) & Q(
        **{f"{prefix}due_date__lt": overdue_before(now)}
    )


def action_item_list(*, now: datetime | None = None) -> QuerySet[ActionItem]:
    """Action items with their owner (and the owner's team) and their post-mortem's incident
    joined, annotated with ``is_overdue`` at ``now``; soonest due first. One query."""
    now = now or timezone.now()
    return (
        ActionItem.objects.select_related(
            "owner__profile__team", "postmortem__incident", "completed_by"
        )
        .annotate(is_overdue=_flag(item_overdue_q(now)))
        .order_by("due_date", "priority", "id")
    )


def _scoped(queryset: QuerySet[ActionItem], owner=None, team=None) -> QuerySet[ActionItem]:
    if owner is not None:
        queryset = queryset.filter(owner=owner)
    if team is not None:
        queryset = queryset.filter(owner__profile__team=team)
    return queryset


def action_items_open(*, owner=None, team=None) -> QuerySet[ActionItem]:
    """Open and in-progress items, for one owner and/or one team (the owner's team)."""
    return _scoped(action_item_list().filter(status__in=OPEN_ITEM_STATUSES), owner, team)


def action_items_overdue(*, now: datetime, owner=None, team=None) -> QuerySet[ActionItem]:
    """Items overdue at ``now``, for one owner and/or one team, most overdue first."""
    return _scoped(action_item_list(now=now).filter(item_overdue_q(now)), owner, team)


RATE_PLACES = Decimal("0.0001")


def completion_rate(*, done: int, total: int, wont_do: int) -> Decimal | None:
    """done / (total - won't do) as a Decimal between 0 and 1 rounded half-up to 4 places;
    None when nothing counts (no items, or all of them won't be done)."""
    counted = total - wont_do
    if counted <= 0:
        return None
    return (Decimal(done) / Decimal(counted)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ActionItemStats:
    key: int | None  # the owner's or team's id; None for "nobody" / "no team"
    name: str
    total: int
    open: int
    overdue: int
    done: int
    wont_do: int

    @property
    def completion_rate(self) -> Decimal | None:
        return completion_rate(done=self.done, total=self.total, wont_do=self.wont_do)


def _counts(now: datetime) -> dict[str, Count]:
    return {
        "total": Count("id"),
        "open": Count("id", filter=Q(status__in=OPEN_ITEM_STATUSES)),
        "overdue": Count("id", filter=item_overdue_q(now)),
        "done": Count("id", filter=Q(status=ActionItemStatus.DONE)),
        "wont_do": Count("id", filter=Q(status=ActionItemStatus.WONT_DO)),
    }


def _person_name(prefix: str) -> Coalesce:
    return Coalesce(
        NullIf(
            Trim(Concat(f"{prefix}first_name", Value(" "), f"{prefix}last_name")),
            Value(""),
        ),
        f"{prefix}username",
        output_field=CharField(),
    )


def action_item_stats_by_owner(*, now: datetime) -> list[ActionItemStats]:
    """Per owner: total, open, overdue at ``now``, done, won't do and the completion rate.
    Items without an owner are one row named "Unassigned". One query."""
    rows = (
        ActionItem.objects.values("owner")
        .annotate(name=_person_name("owner__"), **_counts(now))
        .order_by("name", "owner")
    )
    return [
        ActionItemStats(
            key=row["owner"],
            name=row["name"] or "Unassigned",
            **{k: row[k] for k in ("total", "open", "overdue", "done", "wont_do")},
        )
        for row in rows
    ]


def action_item_stats_by_team(*, now: datetime) -> list[ActionItemStats]:
    """Per team of the item's owner (the team that does the work; the owner's manager is that
    team's engineering manager): the same figures as ``action_item_stats_by_owner``. Items
    whose owner is missing or has no team are one row named "No team". One query."""
    rows = (
        ActionItem.objects.values("owner__profile__team")
        .annotate(name=Coalesce("owner__profile__team__name", Value("")), **_counts(now))
        .order_by("name", "owner__profile__team")
    )
    return [
        ActionItemStats(
            key=row["owner__profile__team"],
            name=row["name"] or "No team",
            **{k: row[k] for k in ("total", "open", "overdue", "done", "wont_do")},
        )
        for row in rows
    ]


def action_item_completion_rate(*, owner=None, team=None) -> Decimal | None:
    """The completion rate (see ``completion_rate``) of all items, or one owner's or team's.
    One query."""
    figures = _scoped(ActionItem.objects.all(), owner, team).aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(status=ActionItemStatus.DONE)),
        wont_do=Count("id", filter=Q(status=ActionItemStatus.WONT_DO)),
    )
    return completion_rate(**figures)


def my_action_items(*, owner, now: datetime | None = None) -> QuerySet[ActionItem]:
    """An owner's open and in-progress items across post-mortems: overdue first, then by due
    date (items without one last), then priority. One query."""
    now = now or timezone.now()
    return (
        action_item_list(now=now)
        .filter(owner=owner, status__in=OPEN_ITEM_STATUSES)
        .order_by("-is_overdue", F("due_date").asc(nulls_last=True), "priority", "id")
    )


RECENTLY_CLOSED = timedelta(days=30)
RECENTLY_CLOSED_SHOWN = 20


def my_recently_closed_items(*, owner, now: datetime | None = None) -> list[ActionItem]:
    """An owner's items closed (done or won't-do) in the last 30 days, latest first, at most
    20: a click on "Complete" by mistake can be undone from "my action items". One query."""
    now = now or timezone.now()
    # A won't-do has no completion stamp: it was closed when its history last recorded the
    # status (an item made long ago and dropped today is recent, and can be reopened).
    dropped_at = Subquery(
        ActionItem.history.filter(id=OuterRef("pk"), status=ActionItemStatus.WONT_DO)
        .order_by("-history_date")
        .values("history_date")[:1]
    )
    return list(
        ActionItem.objects.filter(owner=owner)
        .exclude(status__in=OPEN_ITEM_STATUSES)
        .annotate(closed_moment=Coalesce("completed_at", dropped_at, "created_at"))
        .filter(closed_moment__gte=now - RECENTLY_CLOSED)
        .select_related("postmortem__incident")
        .order_by(F("closed_moment").desc(), "-id")[:RECENTLY_CLOSED_SHOWN]
    )


# --- Metrics for the dashboard and the quarterly review (docs/metrics.md) ----------------------


def _incident_scope(queryset: QuerySet, *, prefix: str, team=None, service=None) -> QuerySet:
    """Keep rows whose incident (reached through ``prefix``) is of ``team`` (the incident's
    responsible team) and/or affects ``service``, the scope of the incident metrics."""
    if team is not None:
        queryset = queryset.filter(**{f"{prefix}team": team})
    if service is not None:
        affected = Incident.services.through.objects.filter(
            incident_id=OuterRef(f"{prefix}pk"), service_id=service.pk
        )
        queryset = queryset.filter(Exists(affected))
    return queryset


@dataclass(frozen=True)
class ActionItemMetrics:
    """Action items of the incidents in scope (any incident, not only the period's).

    - ``created`` .. ``completion_rate``: items created in the period (up to ``as_of``);
      done means completed by ``as_of``, won't do is the status now (it has no moment); the
      rate is done / (created - won't do), as ``completion_rate``.
    - ``open_*``: items open at ``as_of`` (the period's end, or now while it runs): created by
      then and not completed by then. Won't-do items are out of scope, as in the rate.
    - ``burn_down``: (moment, open, overdue) at the period's start and at every Monday 00:00
      in it, then at ``as_of``; overdue as ``item_overdue_q`` at that moment.
    """

    as_of: datetime
    created: int
    done: int
    wont_do: int
    open_count: int
    open_overdue: int
    open_age_mean: timedelta | None
    open_age_median: timedelta | None
    open_age_max: timedelta | None
    burn_down: list[tuple[datetime, int, int]]

    @property
    def completion_rate(self) -> Decimal | None:
        return completion_rate(done=self.done, total=self.created, wont_do=self.wont_do)


def _open_at_q(moment: datetime) -> Q:
    return (
        Q(created_at__lte=moment)
        & ~Q(status=ActionItemStatus.WONT_DO)
        & (Q(completed_at__isnull=True) | Q(completed_at__gt=moment))
    )


def _overdue_at_q(moment: datetime) -> Q:
    return _open_at_q(moment) & Q(due_date__lt=overdue_before(moment))


def action_item_metrics(
    *, period, now: datetime | None = None, team=None, service=None
) -> ActionItemMetrics:
    """Completion, open items' age and the weekly burn-down (see ``ActionItemMetrics``) for a
    ``incidents.metrics.Period``. Two queries whatever the number of items."""
    from incidents.metrics import PercentileCont, seconds_between, to_timedelta

    now = now or timezone.now()
    as_of = period.as_of(now)
    scoped = _incident_scope(
        ActionItem.objects.all(), prefix="postmortem__incident__", team=team, service=service
    )
    moments = [period.starts_at]
    for monday in period.weeks()[1:]:
        moment = datetime.combine(monday, time(0), tzinfo=period.zone)
        if moment < as_of:
            moments.append(moment)
    if as_of > moments[-1]:
        moments.append(as_of)

    in_period = Q(
        created_at__gte=period.starts_at, created_at__lt=period.ends_at, created_at__lte=as_of
    )
    figures = {
        "created": Count("id", filter=in_period),
        "done": Count(
            "id",
            filter=in_period & Q(status=ActionItemStatus.DONE, completed_at__lte=as_of),
        ),
        "wont_do": Count("id", filter=in_period & Q(status=ActionItemStatus.WONT_DO)),
    }
    for index, moment in enumerate(moments):
        figures[f"open_{index}"] = Count("id", filter=_open_at_q(moment))
        figures[f"overdue_{index}"] = Count("id", filter=_overdue_at_q(moment))
    # Only items created in the period or open at one of the moments count in any figure:
    # leave out the rest (most of a long history, done before the period) before the
    # figures' filters are evaluated row by row.
    could_count = in_period | (
        Q(created_at__lte=moments[-1])
        & (Q(completed_at__isnull=True) | Q(completed_at__gt=moments[0]))
    )
    counts = scoped.filter(could_count).aggregate(**figures)

    age = seconds_between("created_at", Value(as_of, output_field=DateTimeField()))
    ages = (
        scoped.filter(_open_at_q(as_of))
        .annotate(age=age)
        .aggregate(
            n=Count("id"),
            overdue=Count("id", filter=Q(due_date__lt=overdue_before(as_of))),
            mean=Avg("age"),
            median=PercentileCont("age", 0.5),
            longest=Max("age"),
        )
    )
    return ActionItemMetrics(
        as_of=as_of,
        created=counts["created"],
        done=counts["done"],
        wont_do=counts["wont_do"],
        open_count=ages["n"],
        open_overdue=ages["overdue"],
        open_age_mean=to_timedelta(ages["mean"]),
        open_age_median=to_timedelta(ages["median"]),
        open_age_max=to_timedelta(ages["longest"]),
        burn_down=[
            (moment, counts[f"open_{i}"], counts[f"overdue_{i}"])
            for i, moment in enumerate(moments)
        ],
    )


@dataclass(frozen=True)
class PublicationMetrics:
    """Post-mortems of the period's incidents (in scope), by their publish deadline at
    ``now``: published by it (on time), published after it (late), not published and past it
    (overdue), not published and not due yet (pending, left out of the share)."""

    total: int
    on_time: int
    late: int
    overdue: int
    pending: int

    @property
    def due(self) -> int:
        return self.on_time + self.late + self.overdue

    @property
    def on_time_rate(self) -> Decimal | None:
        from incidents.metrics import ratio

        return ratio(self.on_time, self.due)


def postmortem_publication_metrics(
    *, period, now: datetime | None = None, team=None, service=None
) -> PublicationMetrics:
    """How many post-mortems of the incidents started in ``period`` were published by their
    deadline (see ``PublicationMetrics``). One query."""
    now = now or timezone.now()
    scoped = _incident_scope(
        Postmortem.objects.filter(
            incident__started_at__gte=period.starts_at, incident__started_at__lt=period.ends_at
        ),
        prefix="incident__",
        team=team,
        service=service,
    )
    published = Q(published_at__isnull=False, published_at__lte=now)
    figures = scoped.aggregate(
        total=Count("id"),
        on_time=Count("id", filter=published & Q(published_at__lte=F("publish_due_at"))),
        late=Count("id", filter=published & Q(published_at__gt=F("publish_due_at"))),
        overdue=Count("id", filter=stage_overdue_q(Stage.PUBLISH, now)),
    )
    figures["pending"] = (
        figures["total"] - figures["on_time"] - figures["late"] - figures["overdue"]
    )
    return PublicationMetrics(**figures)
