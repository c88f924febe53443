"""Reads of incidents. Each selector owns its joins and annotations so callers cannot N+1."""

import hmac
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BigIntegerField,
    CharField,
    Exists,
    F,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Concat, NullIf, Trim
from django.db.models.query import BaseIterable
from django.utils import timezone

from incidents.access import permission_names_sql, remember_permissions
from incidents.db import prepared_cursor
from incidents.models import (
    ApiToken,
    CommunicationTemplate,
    Incident,
    IncidentRole,
    Profile,
    RoleAssignment,
    Service,
    Severity,
    StatusUpdate,
    Team,
    TemplateKind,
    TimelineEvent,
    UpdateAudience,
)
from incidents.models.api import KEY_MARKER, hash_token
from incidents.models.incident import OPEN_STATUSES

AMBIGUOUS_NAME = (
    "Several match “{value}” in different letter case ({names}); give the name exactly."
)


def by_name(queryset: QuerySet, field: str, value: str):
    """The row whose ``field`` is ``value``: the exact match, else the only one equal in any
    letter case; None when nothing matches. When several differ from ``value`` only in case
    (``Checkout`` and ``checkout``) and none is exact, guessing could page the wrong team:
    ``ValidationError`` naming them. One query."""
    from django.core.exceptions import ValidationError

    matches = list(queryset.filter(**{f"{field}__iexact": value}).order_by("pk")[:10])
    exact = [row for row in matches if getattr(row, field) == value]
    if exact:
        return exact[0]
    if len(matches) > 1:
        names = ", ".join(getattr(row, field) for row in matches)
        raise ValidationError(AMBIGUOUS_NAME.format(value=value, names=names))
    return matches[0] if matches else None


def affects_service_q(service: Service, incident: str = "pk") -> Exists:
    """A filter for rows whose incident affects ``service``; ``incident`` is the path from the
    filtered row to its incident's id (``"pk"`` on incidents, ``"incident_id"`` on
    post-mortems). EXISTS rather than a join: a row is listed once however many of its
    incident's services there are."""
    return Exists(Service.objects.filter(incidents=OuterRef(incident), pk=service.pk))


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
        # At most one current holder per role (``role_one_active_holder``): no ordering, so
        # the subquery is one index probe and joins nothing for the model's default order.
        .order_by()
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


# What a row of the API's incident list shows, read as plain values (no model instances).
INCIDENT_ROW_FIELDS = (
    "id",
    "reference",
    "title",
    "severity_name",
    "status",
    "team_name",
    "commander_name",
    "detection_method",
    "customer_impact",
)
INCIDENT_ROW_MOMENTS = (
    "started_at",
    "detected_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
    "declared_at",
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class EpochMicroseconds(Func):
    """A moment as whole microseconds since 1970 UTC. On PostgreSQL a page of moments is read
    as integers: Django turns each ``timestamptz`` into an aware datetime in Python, which
    costs more than the query. Elsewhere the moment is read as it is."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(EXTRACT(EPOCH FROM {sql}) * 1000000)::bigint", params

    def as_sql(self, compiler, connection, **extra_context):
        return compiler.compile(self.source_expressions[0])


def moment_from(value: int | datetime | None) -> datetime | None:
    """An ``EpochMicroseconds`` value back as an aware datetime in UTC."""
    if value is None or isinstance(value, datetime):
        return value
    return EPOCH + timedelta(microseconds=value)


def incident_rows() -> QuerySet:
    """``incident_list`` as plain rows: severity and team names joined, the commander's name
    and the severity's rank (an ordering) annotated, each moment as ``<name>_us``
    (``EpochMicroseconds``), newest first. One query for any page of it; the affected services
    come from ``incident_row_services``."""
    moments = {f"{name}_us": EpochMicroseconds(F(name)) for name in INCIDENT_ROW_MOMENTS}
    extra = {}
    if connection.vendor == "postgresql":
        # The affected services' names in the same row, as an array, alphabetical.
        names = (
            Incident.services.through.objects.filter(incident_id=OuterRef("pk"))
            .order_by("service__name")
            .values("service__name")
        )
        extra["service_names"] = ArraySubquery(names)
    return (
        Incident.objects.annotate(
            severity_name=F("severity__name"),
            team_name=F("team__name"),
            severity_rank=F("severity__rank"),
            commander_name=_holder_name(IncidentRole.COMMANDER),
            **moments,
            **extra,
        )
        .values(*INCIDENT_ROW_FIELDS, *moments, *extra, "severity_rank")
        .order_by("-started_at", "-id")
    )


def _utc_text(column: str) -> str:
    """SQL: a ``timestamptz`` column as the API writes moments (``utc_moment``): ISO 8601 in
    UTC ending in ``Z``, with microseconds only when there are some; NULL stays NULL."""
    text = f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    return f"replace({text}, '.000000', '') || 'Z'"


# A page of the API list: the page's keys (``{keys}``: the filtered, ordered, limited
# ``incident_page_keys`` query, compiled by Django) with each incident written as the list
# writes it (``body``: ``IncidentListSerializer``'s fields, in its order, in its formats),
# built by PostgreSQL. Names, services and commanders are joined once for the whole page,
# not looked up per row. Only constants of this module are written into it.
_ROW_MOMENTS_JSON = ", ".join(
    f"'{name}', {_utc_text(f'i.{name}')}" for name in INCIDENT_ROW_MOMENTS
)
INCIDENT_PAGE_JSON = f"""
WITH page_keys AS ({{keys}}),
page AS (SELECT page_keys.*, row_number() OVER () AS page_position FROM page_keys)
SELECT page.*, json_build_object(
  'reference', i.reference, 'title', i.title, 'severity', v.name, 'status', i.status,
  'team', t.name, 'services', COALESCE(sv.names, '{{{{}}}}'), 'commander', c.name,
  'detection_method', i.detection_method, 'customer_impact', i.customer_impact,
  {_ROW_MOMENTS_JSON}
)::text AS body
FROM page
JOIN incidents_incident i ON i.id = page.id
JOIN incidents_severity v ON v.id = i.severity_id
LEFT JOIN incidents_team t ON t.id = i.team_id
LEFT JOIN (
  SELECT x.incident_id, array_agg(s.name ORDER BY s.name) AS names
  FROM incidents_incident_services x JOIN incidents_service s ON s.id = x.service_id
  WHERE x.incident_id IN (SELECT id FROM page) GROUP BY x.incident_id
) sv ON sv.incident_id = i.id
LEFT JOIN (
  SELECT r.incident_id,
         COALESCE(NULLIF(TRIM(u.first_name || ' ' || u.last_name), ''), u.username) AS name
  FROM incidents_roleassignment r JOIN auth_user u ON u.id = r.user_id
  WHERE r.incident_id IN (SELECT id FROM page) AND r.role = %s AND r.relieved_at IS NULL
) c ON c.incident_id = i.id
ORDER BY page.page_position
"""  # noqa: S608


class IncidentPageIterable(BaseIterable):
    """Rows of ``incident_page_keys`` with each incident's JSON (``body``) beside its keys:
    the keys query Django compiled (filters, ordering, cursor position, limit) runs inside
    ``INCIDENT_PAGE_JSON``, one prepared statement per distinct query, one round trip."""

    def __iter__(self):
        compiler = self.queryset.query.get_compiler(self.queryset.db)
        try:
            keys, params = compiler.as_sql()
        except EmptyResultSet:
            return
        with prepared_cursor() as cursor:
            cursor.execute(
                INCIDENT_PAGE_JSON.format(keys=keys),
                (*params, IncidentRole.COMMANDER.value),
            )
            names = [column.name for column in cursor.description]
            rows = cursor.fetchall()
        for row in rows:
            yield dict(zip(names, row, strict=True))


def incident_page_keys() -> QuerySet:
    """``incident_rows`` reduced to what the API list filters and pages by: the id, the
    severity's rank and the moments it may order by (as ``<name>_us``). On PostgreSQL each
    row also carries the incident as the list's JSON text (``body``, from
    ``IncidentPageIterable``), in the same statement."""
    orderings = ("started_at", "detected_at", "declared_at")
    moments = {f"{name}_us": EpochMicroseconds(F(name)) for name in orderings}
    keys = (
        Incident.objects.annotate(severity_rank=F("severity__rank"), **moments)
        .values("id", "severity_rank", *moments)
        .order_by("-started_at", "-id")
    )
    if connection.vendor == "postgresql":
        # Django's own hook for how a queryset's rows are read (``values()`` sets it too);
        # it survives filtering, ordering and slicing, which the API's backends and
        # paginator do next.
        keys._iterable_class = IncidentPageIterable
    return keys


def incident_row_services(rows: list[dict]) -> dict[int, list[str]]:
    """The affected services' names of each of ``incident_rows``' rows: already in the rows
    on PostgreSQL, one more query elsewhere."""
    if rows and "service_names" in rows[0]:
        return {row["id"]: row["service_names"] for row in rows}
    return service_names_by_incident([row["id"] for row in rows])


def service_names_by_incident(incident_ids) -> dict[int, list[str]]:
    """The names of each incident's affected services, alphabetical, in one query."""
    names: dict[int, list[str]] = {}
    rows = (
        Incident.services.through.objects.filter(incident_id__in=incident_ids)
        .order_by("service__name")
        .values_list("incident_id", "service__name")
    )
    for incident_id, name in rows:
        names.setdefault(incident_id, []).append(name)
    return names


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
                queryset=TimelineEvent.objects.select_related("author", "corrects").order_by(
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


def _columns(model, alias: str) -> str:
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


# An active token by its prefix (unique), with its user and their permissions (for
# ``remember_permissions``): the one statement every API call runs first. Only the models'
# own column names are written into it.
API_TOKEN_SQL = f"""
SELECT {_columns(ApiToken, "t")}, {_columns(get_user_model(), "u")},
       {permission_names_sql('t."user_id"')}
FROM incidents_apitoken t JOIN {get_user_model()._meta.db_table} u ON u.id = t.user_id
WHERE t.prefix = %(prefix)s AND t.revoked_at IS NULL
"""  # noqa: S608


def _api_token_by_prefix(prefix: str) -> ApiToken | None:
    if connection.vendor != "postgresql":
        return (
            ApiToken.objects.select_related("user")
            .filter(prefix=prefix, revoked_at__isnull=True)
            .first()
        )
    with prepared_cursor() as cursor:
        cursor.execute(API_TOKEN_SQL, {"prefix": prefix})
        row = cursor.fetchone()
    if row is None:
        return None
    user_model = get_user_model()
    token_fields = [f.attname for f in ApiToken._meta.concrete_fields]
    user_fields = [f.attname for f in user_model._meta.concrete_fields]
    split = len(token_fields)
    token = ApiToken.from_db(connection.alias, token_fields, row[:split])
    user = user_model.from_db(connection.alias, user_fields, row[split : split + len(user_fields)])
    token.user = user
    remember_permissions(user, row[-1])
    return token


def api_token_lookup(plain: str) -> ApiToken | None:
    """The active token ``plain`` is, with its user (and, on PostgreSQL, their permissions)
    read in the same statement, or None. The hash is compared in constant time."""
    if not plain.startswith(KEY_MARKER) or "." not in plain:
        return None
    prefix = plain[len(KEY_MARKER) :].split(".", 1)[0]
    token = _api_token_by_prefix(prefix)
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
    (counted from the latest update, else the declaration, or from its reopening when that
    came later). Uses the prefetched updates."""
    if not incident.is_open:
        return None
    moments = [u.posted_at for u in incident.updates.all()]
    since = max(moments) if moments else incident.declared_at
    if incident.reopened_at is not None and incident.reopened_at > since:
        since = incident.reopened_at
    return since + incident.severity.update_every


# The incident list's default shows what was resolved this long ago next to what is open.
RECENTLY_RESOLVED = timedelta(days=7)


def incident_filter(
    queryset: QuerySet[Incident],
    *,
    status: str = "",
    severity=None,
    team=None,
    service=None,
    since: datetime | None = None,
    involving=None,
    now: datetime | None = None,
) -> QuerySet[Incident]:
    """The incident list's filters: ``status`` is "active" (open, or resolved in the last
    ``RECENTLY_RESOLVED`` before ``now``), "open", "closed" (resolved or closed), a lifecycle
    status, or empty for all; ``since`` keeps incidents started at or after it; ``involving``
    keeps those the person declared or held (or holds) a role in."""
    if status == "active":
        recently = (now or timezone.now()) - RECENTLY_RESOLVED
        queryset = queryset.filter(Q(status__in=OPEN_STATUSES) | Q(resolved_at__gte=recently))
    elif status == "open":
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
    if involving is not None:
        held = RoleAssignment.objects.filter(incident_id=OuterRef("pk"), user=involving)
        queryset = queryset.filter(Q(declared_by=involving) | Exists(held))
    return queryset


def format_ratio(value: Decimal | float | None) -> str:
    """A ratio between 0 and 1 as ``87.5 %``; "—" for none."""
    if value is None:
        return "—"
    return f"{(Decimal(str(value)) * 100).quantize(Decimal('0.1'))} %"


# --- The public status page --------------------------------------------------------------------
#
# What the public sees is built here as plain dataclasses holding only public facts, so no
# template can reach an incident's title, summary, root cause, timeline, internal updates or
# anybody's name: public service names, the severity's public impact, the incident's status,
# its moments, its status-page updates, and the communication templates' wording filled with
# those public facts only.

STATUS_PAGE_RECENT = timedelta(days=14)
# A large company resolves hundreds of public incidents a day: the page lists the most
# recently resolved of the last 14 days, not thousands (each keeps its own page).
STATUS_PAGE_RECENT_SHOWN = 20
STATUS_FEED_ENTRIES = 50


class ServiceState:
    """A public service's state, worst last. The impact follows the severity's tier: the most
    severe level is a major outage, the next level a partial outage, any other degraded."""

    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    ORDER = (OPERATIONAL, DEGRADED, PARTIAL_OUTAGE, MAJOR_OUTAGE)
    LABELS = {
        OPERATIONAL: "Operational",
        DEGRADED: "Degraded performance",
        PARTIAL_OUTAGE: "Partial outage",
        MAJOR_OUTAGE: "Major outage",
    }
    BY_TIER = (MAJOR_OUTAGE, PARTIAL_OUTAGE, DEGRADED)

    @classmethod
    def worst(cls, states) -> str:
        return max(states, key=cls.ORDER.index, default=cls.OPERATIONAL)


@dataclass(frozen=True)
class PublicUpdate:
    """One entry of an incident on the status page: a status-page update, or the initial or
    resolution wording of the communication templates (``kind`` says which)."""

    key: str  # unique on the page and in the feed: "update-12", "initial-3", "resolved-3"
    kind: str  # "update", "initial" or "resolution"
    status: str
    posted_at: datetime
    impact: str = ""
    action: str = ""
    eta: str = ""
    body: str = ""


@dataclass(frozen=True)
class PublicIncident:
    reference: str
    services: list[str]  # public services only
    state: str  # a ServiceState value
    status: str  # "Investigating" ... "Resolved"
    started_at: datetime
    resolved_at: datetime | None
    updates: list[PublicUpdate]  # newest first

    @property
    def state_label(self) -> str:
        return ServiceState.LABELS[self.state]

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def heading(self) -> str:
        return f"{self.state_label}: {', '.join(self.services)}"


@dataclass(frozen=True)
class PublicService:
    name: str
    description: str
    state: str
    incidents: list[str]  # references of the open incidents affecting it
    latest: PublicUpdate | None = None  # the newest public word on those incidents

    @property
    def state_label(self) -> str:
        return ServiceState.LABELS[self.state]


@dataclass(frozen=True)
class StatusPage:
    services: list[PublicService]
    open_incidents: list[PublicIncident]
    recent_incidents: list[PublicIncident]
    more_recent: bool = False  # more were resolved in the period than are listed

    @property
    def state(self) -> str:
        return ServiceState.worst(s.state for s in self.services)

    @property
    def state_label(self) -> str:
        if self.state == ServiceState.OPERATIONAL:
            return "All systems operational"
        return ServiceState.LABELS[self.state]


def public_incidents() -> QuerySet[Incident]:
    """Incidents the public may know of: affecting at least one public service, and either
    with customer impact or with at least one status-page update. Others (internal-only)
    never appear on the status page."""
    public_service = Incident.services.through.objects.filter(
        incident_id=OuterRef("pk"), service__is_public=True
    )
    public_update = StatusUpdate.objects.filter(
        incident_id=OuterRef("pk"), audience=UpdateAudience.STATUS_PAGE
    )
    return Incident.objects.filter(Exists(public_service)).filter(
        Q(customer_impact=True) | Exists(public_update)
    )


def _public_template_context(incident: Incident, services: list[str], state: str) -> dict:
    """The communication templates' placeholders, filled with public facts only: the title,
    impact description and channel are internal, so they become generic wording."""
    names = ", ".join(services) or "our services"
    return {
        "title": f"an issue affecting {names}",
        "reference": incident.reference,
        "severity": ServiceState.LABELS[state],
        "services": names,
        "channel": "",
        "impact": "degraded service",
        "status": incident.get_status_display(),
        "resolved_at": (
            incident.resolved_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            if incident.resolved_at
            else ""
        ),
    }


def public_template_context(incident: Incident) -> dict:
    """The placeholders for text an engineer is about to post to the status page: the same
    public facts the page itself writes (its public services, its state), never the title,
    impact description or channel."""
    from incidents.metrics import severity_levels

    services = sorted(s.name for s in incident.services.all() if s.is_public)
    state = ServiceState.BY_TIER[severity_levels().tier(incident.severity_id)]
    return _public_template_context(incident, services, state)


def _public_incident(incident: Incident, levels, templates: dict) -> PublicIncident:
    from incidents.forms import safe_format

    services = [s.name for s in incident.public_services]
    state = ServiceState.BY_TIER[levels.tier(incident.severity_id)]
    context = _public_template_context(incident, services, state)
    updates = [
        PublicUpdate(
            key=f"update-{u.pk}",
            kind="update",
            status=u.status,
            impact=u.impact,
            action=u.action,
            eta=u.eta,
            posted_at=u.posted_at,
        )
        for u in incident.public_updates  # newest first
    ]

    def wording(kind: str, key: str, at: datetime) -> PublicUpdate | None:
        template = templates.get(kind)
        if template is None:
            return None
        return PublicUpdate(
            key=key,
            kind=kind,
            status=safe_format(template.status, context) or incident.get_status_display(),
            body=safe_format(template.body, context),
            posted_at=at,
        )

    if not updates:
        initial = wording(TemplateKind.INITIAL, f"initial-{incident.pk}", incident.declared_at)
        updates += [initial] if initial else []
    resolved = incident.resolved_at
    reopened = incident.reopened_at
    if (
        resolved is None
        and reopened is not None
        and not any(u.posted_at >= reopened for u in updates)
    ):
        # Reopened with no public word since: what the page said last ("Resolved") is not
        # true any more. The initial wording again (else the status), dated at the reopening.
        key = f"reopened-{incident.pk}-{reopened.astimezone(UTC):%Y%m%dT%H%M%SZ}"
        again = wording(TemplateKind.INITIAL, key, reopened) or PublicUpdate(
            key=key, kind="initial", status=incident.get_status_display(), posted_at=reopened
        )
        updates = [again, *updates]
    if resolved is not None and not any(u.posted_at >= resolved for u in updates):
        resolution = wording(TemplateKind.RESOLUTION, f"resolved-{incident.pk}", resolved)
        updates = ([resolution] if resolution else []) + updates
    return PublicIncident(
        reference=incident.reference,
        services=services,
        state=state,
        status="Resolved" if resolved is not None else incident.get_status_display(),
        started_at=incident.started_at,
        resolved_at=resolved,
        updates=updates,
    )


def _with_public_parts(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    return queryset.select_related(None).prefetch_related(
        Prefetch(
            "services",
            queryset=Service.objects.filter(is_public=True).order_by("name"),
            to_attr="public_services",
        ),
        Prefetch(
            "updates",
            queryset=StatusUpdate.objects.filter(audience=UpdateAudience.STATUS_PAGE).order_by(
                "-posted_at", "-id"
            ),
            to_attr="public_updates",
        ),
    )


def _templates() -> dict:
    return {
        t.kind: t
        for t in CommunicationTemplate.objects.filter(
            kind__in=[TemplateKind.INITIAL, TemplateKind.RESOLUTION]
        )
    }


def status_page(
    *, now: datetime | None = None, recent_shown: int = STATUS_PAGE_RECENT_SHOWN
) -> StatusPage:
    """Every public service with its state from the open public incidents (and the newest
    public update among them, what the service's line says is happening), those incidents,
    and the ``recent_shown`` public incidents resolved most recently in the last 14 days,
    each with its status-page updates and the template wording. Six queries whatever the
    number of incidents."""
    from incidents.metrics import severity_levels

    now = now or timezone.now()
    levels = severity_levels()
    templates = _templates()
    # The open ones by the status index, the recent ones (one more than shown, to know
    # whether there were more) by the resolution index. As one OR over the incidents,
    # PostgreSQL read every incident ever (seconds at 100,000).
    open_ones = public_incidents().filter(status__in=OPEN_STATUSES).values("pk")
    recent = (
        public_incidents()
        .filter(resolved_at__gte=now - STATUS_PAGE_RECENT)
        .exclude(status__in=OPEN_STATUSES)
        .order_by("-resolved_at", "-id")
        .values("pk")[: recent_shown + 1]
    )
    if connection.features.supports_slicing_ordering_in_compound:
        chosen = Incident.objects.filter(pk__in=open_ones.union(recent, all=True))
    else:  # SQLite (make run's default) cannot limit one part of a UNION
        chosen = Incident.objects.filter(Q(pk__in=open_ones) | Q(pk__in=recent))
    incidents = _with_public_parts(chosen.order_by("-started_at", "-id"))
    shown = [_public_incident(i, levels, templates) for i in incidents]
    resolved = sorted(
        (i for i in shown if not i.is_open),
        key=lambda i: (i.resolved_at, i.started_at, i.reference),
        reverse=True,
    )
    listed = {i.reference for i in resolved[:recent_shown]}
    open_ones = [i for i in shown if i.is_open]
    states: dict[str, list[PublicIncident]] = {}
    for incident in open_ones:
        for name in incident.services:
            states.setdefault(name, []).append(incident)
    services = []
    for service in Service.objects.filter(is_public=True).order_by("name"):
        affecting = states.get(service.name, [])
        state = ServiceState.worst(i.state for i in affecting)
        # The line's words come from the incidents that set its state: a minor one's
        # "Monitoring" must not stand beside a major outage.
        latest = [i.updates[0] for i in affecting if i.updates and i.state == state]
        services.append(
            PublicService(
                name=service.name,
                description=service.description,
                state=state,
                incidents=[i.reference for i in affecting],
                latest=max(latest, key=lambda u: (u.posted_at, u.key), default=None),
            )
        )
    return StatusPage(
        services=services,
        open_incidents=open_ones,
        recent_incidents=[i for i in shown if not i.is_open and i.reference in listed],
        more_recent=len(resolved) > recent_shown,
    )


def public_incident(*, reference: str) -> PublicIncident | None:
    """One incident as the status page shows it, however old (the feed links to it); None
    when it is not public (or unknown), so internal incidents are indistinguishable from
    missing ones. Five queries."""
    from incidents.metrics import severity_levels

    incident = _with_public_parts(public_incidents().filter(reference=reference)).first()
    if incident is None:
        return None
    return _public_incident(incident, severity_levels(), _templates())


def status_feed_entries(
    *, now: datetime | None = None
) -> list[tuple[PublicIncident, PublicUpdate]]:
    """The newest 50 entries of public incidents (open, or resolved in the last 14 days) for
    the Atom feed, newest first. Six queries."""
    # Each incident gives at least one entry dated at or after its resolution.
    page = status_page(now=now, recent_shown=STATUS_FEED_ENTRIES)
    entries = [
        (incident, update)
        for incident in page.open_incidents + page.recent_incidents
        for update in incident.updates
    ]
    entries.sort(key=lambda pair: (pair[1].posted_at, pair[1].key), reverse=True)
    return entries[:STATUS_FEED_ENTRIES]


def incident_announcement(incident: Incident, *, commander=None) -> str:
    """The internal announcement of a declared incident for its channel (the runbooks'
    "Initial Announcement"), from the managers' template: ``{commander}`` names the incident
    commander, or says nobody is yet. Empty without a template."""
    from incidents.forms import safe_format, template_context

    template = CommunicationTemplate.objects.filter(kind=TemplateKind.ANNOUNCEMENT).first()
    if template is None or not template.body.strip():
        return ""
    name = (commander.get_full_name() or commander.get_username()) if commander else ""
    context = template_context(incident) | {"commander": name or "not assigned yet"}
    return safe_format(template.body, context)
