"""Reads of incidents. Each selector owns its joins and annotations so callers cannot N+1."""

import hmac
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import CharField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Concat, NullIf, Trim
from django.utils import timezone

from incidents.models import (
    ApiToken,
    Incident,
    IncidentRole,
    Profile,
    RoleAssignment,
    Service,
    Severity,
    StatusUpdate,
    Team,
    TimelineEvent,
)
from incidents.models.api import KEY_MARKER, hash_token
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


def incident_list(*, open_only: bool = False, with_services: bool = False) -> QuerySet[Incident]:
    """Incidents with their severity and team joined and the commander's name annotated
    (``commander_name``), newest first; ``with_services`` prefetches the affected services.
    Two queries at most whatever the row count."""
    queryset = Incident.objects.select_related("severity", "team").annotate(
        commander_name=_holder_name(IncidentRole.COMMANDER)
    )
    if with_services:
        queryset = queryset.prefetch_related(
            Prefetch("services", queryset=Service.objects.order_by("name"))
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


def incident_detail() -> QuerySet[Incident]:
    """Incidents with what one incident's API view shows, without its timeline (read that
    page by page with ``incident_timeline``): severity, team, the people who declared and
    acknowledged it, services and the current role holders. Three queries for one incident."""
    return (
        Incident.objects.select_related("severity", "team", "declared_by", "acknowledged_by")
        .annotate(commander_name=_holder_name(IncidentRole.COMMANDER))
        .prefetch_related(
            Prefetch("services", queryset=Service.objects.order_by("name")),
            Prefetch(
                "roles",
                queryset=RoleAssignment.objects.filter(relieved_at__isnull=True)
                .select_related("user")
                .order_by("role", "assigned_at", "id"),
                to_attr="active_role_assignments",
            ),
        )
    )


def severity_list(*, active_only: bool = False) -> QuerySet[Severity]:
    """Severity levels, most severe first, with their escalation level joined."""
    queryset = Severity.objects.select_related("escalation_level").order_by("rank")
    return queryset.filter(is_active=True) if active_only else queryset


def team_list() -> QuerySet[Team]:
    """Teams by name with their engineering manager joined."""
    return Team.objects.select_related("engineering_manager").order_by("name", "id")


def service_list() -> QuerySet[Service]:
    """Services by name with their owning team joined."""
    return Service.objects.select_related("team").order_by("name", "id")


def api_token_lookup(plain: str) -> ApiToken | None:
    """The active token ``plain`` is, with its user joined, or None. One query; the hash is
    compared in constant time."""
    if not plain.startswith(KEY_MARKER) or "." not in plain:
        return None
    prefix = plain[len(KEY_MARKER) :].split(".", 1)[0]
    token = (
        ApiToken.objects.select_related("user")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.key_hash, hash_token(plain)):
        return None
    return token


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


def next_update_due(incident: Incident) -> datetime | None:
    """When the severity's cadence asks for the next status update of an open incident
    (counted from the latest update, else the declaration). Uses the prefetched updates."""
    if not incident.is_open:
        return None
    moments = [u.posted_at for u in incident.updates.all()]
    since = max(moments) if moments else incident.declared_at
    return since + incident.severity.update_every


def incident_filter(
    queryset: QuerySet[Incident],
    *,
    status: str = "",
    severity=None,
    team=None,
    service=None,
    since: datetime | None = None,
) -> QuerySet[Incident]:
    """The incident list's filters: ``status`` is "open", "closed" (resolved or closed), a
    lifecycle status, or empty for all; ``since`` keeps incidents started at or after it."""
    if status == "open":
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    elif status == "closed":
        queryset = queryset.exclude(status__in=OPEN_STATUSES)
    elif status:
        queryset = queryset.filter(status=status)
    if severity is not None:
        queryset = queryset.filter(severity=severity)
    if team is not None:
        queryset = queryset.filter(team=team)
    if service is not None:
        queryset = queryset.filter(services=service)
    if since is not None:
        queryset = queryset.filter(started_at__gte=since)
    return queryset
