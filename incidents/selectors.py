"""Reads of incidents. Each selector owns its joins and annotations so callers cannot N+1."""

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import CharField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Concat, NullIf, Trim
from django.utils import timezone

from incidents.models import (
    Incident,
    IncidentRole,
    Profile,
    RoleAssignment,
    StatusUpdate,
    TimelineEvent,
)
from incidents.models.incident import OPEN_STATUSES


def _holder_name(role: str) -> Subquery:
    """The display name of whoever holds ``role`` now, as a subquery on an incident row."""
    holder = (
        RoleAssignment.objects.filter(incident=OuterRef("pk"), role=role, relieved_at__isnull=True)
        .annotate(
            display=Coalesce(
                NullIf(
                    Trim(Concat("user__first_name", Value(" "), "user__last_name")),
                    Value(""),
                ),
                "user__username",
                output_field=CharField(),
            )
        )
        .values("display")[:1]
    )
    return Subquery(holder, output_field=CharField())


def incident_list(*, open_only: bool = False) -> QuerySet[Incident]:
    """Incidents with their severity and team joined and the commander's name annotated
    (``commander_name``), newest first. Two queries at most whatever the row count."""
    queryset = Incident.objects.select_related("severity", "team").annotate(
        commander_name=_holder_name(IncidentRole.COMMANDER)
    )
    if open_only:
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    return queryset.order_by("-started_at", "-id")


def open_incidents() -> QuerySet[Incident]:
    """Incidents still being worked on (investigating, identified, mitigated, monitoring),
    most severe first, then oldest first."""
    return incident_list(open_only=True).order_by("severity__rank", "started_at", "id")


def incident_timeline(*, incident: Incident, newest_first: bool = False) -> QuerySet:
    """The incident's timeline events with their authors."""
    order = ("-occurred_at", "-id") if newest_first else ("occurred_at", "id")
    return (
        TimelineEvent.objects.filter(incident=incident)
        .select_related("author", "corrects")
        .order_by(*order)
    )


def incident_with_timeline(*, pk: int) -> Incident:
    """One incident with everything its page shows: severity, team, services, roles (with
    their holders), status updates and timeline, in a fixed number of queries."""
    return (
        Incident.objects.select_related("severity", "team", "declared_by", "acknowledged_by")
        .prefetch_related(
            "services",
            Prefetch(
                "roles",
                queryset=RoleAssignment.objects.select_related(
                    "user", "assigned_by", "relieved_by"
                ).order_by("assigned_at", "id"),
            ),
            Prefetch(
                "updates",
                queryset=StatusUpdate.objects.select_related("author").order_by(
                    "-posted_at", "-id"
                ),
            ),
            Prefetch(
                "timeline",
                queryset=TimelineEvent.objects.select_related("author").order_by(
                    "occurred_at", "id"
                ),
            ),
        )
        .get(pk=pk)
    )


def active_roles(incident: Incident) -> dict[str, RoleAssignment]:
    """Current holder of each role, from the prefetched ``roles`` when available."""
    return {a.role: a for a in incident.roles.all() if a.relieved_at is None}


@dataclass(frozen=True)
class IncidentDurations:
    time_to_detect: timedelta | None
    time_to_acknowledge: timedelta | None
    time_to_mitigate: timedelta | None
    time_to_resolve: timedelta | None
    duration: timedelta
    is_open: bool


def incident_durations(*, incident: Incident, now: datetime | None = None) -> IncidentDurations:
    """Time to detect (detected - started), acknowledge (acknowledged - detected), mitigate
    (mitigated - started) and resolve (resolved - started), and the duration so far, which for
    an incident still open runs until ``now``."""
    return IncidentDurations(
        time_to_detect=incident.time_to_detect,
        time_to_acknowledge=incident.time_to_acknowledge,
        time_to_mitigate=incident.time_to_mitigate,
        time_to_resolve=incident.time_to_resolve,
        duration=incident.duration(now=now or timezone.now()),
        is_open=incident.resolved_at is None,
    )


def user_time_zone(user) -> zoneinfo.ZoneInfo:
    """The person's own time zone, or the project's when they have no profile yet."""
    name = None
    if user is not None and getattr(user, "pk", None):
        try:
            name = user.profile.time_zone
        except Profile.DoesNotExist:
            name = None
    return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)


def format_duration(value: timedelta | None) -> str:
    """``2 h 05 min``, ``45 min 10 s``: how people read incident durations."""
    if value is None:
        return "—"
    total = int(value.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h {minutes:02d} min"
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    if minutes:
        return f"{sign}{minutes} min {seconds:02d} s"
    return f"{sign}{seconds} s"


def format_ratio(value: Decimal | float | None) -> str:
    """A ratio between 0 and 1 as ``87.5 %``; "—" for none."""
    if value is None:
        return "—"
    return f"{(Decimal(str(value)) * 100).quantize(Decimal('0.1'))} %"
