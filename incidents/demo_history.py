"""A year of incident history for the demo (`manage.py seed_demo`), so the metrics dashboard
and the quarterly review have something to show.

- Deterministic: a seeded ``random.Random``, so every laptop gets the same shape of year
  (moments are relative to "now", like the rest of the demo).
- Idempotent: it runs only on a database without incidents older than ``RECENT`` (the
  hand-made demo incidents are all younger, and real history is never touched), inside one
  transaction.
- Fast: the services cost about a hundred queries per incident's life (each save validates
  every constraint), so a year through them took several seconds. The rows are written in
  bulk instead, exactly as the services would write them: references from the same yearly
  sequence (``services._next_reference``), the same timeline events with the same messages
  and payloads (through ``incidents.events``), role assignments and status-page updates, all
  checked by the database's constraints. ``tests/incidents/test_demo_history.py`` holds it to
  that. No signals are sent (it is history, like ``incident_import``): the post-mortems app's
  demo schedules and walks the post-mortems these incidents need, and the on-call app's demo
  pages whoever acknowledged them.
- Durations improve over the year, so the MTTR trend goes somewhere.
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from incidents.access import ENGINEERS
from incidents.events import timeline_events_record_many
from incidents.models import (
    DetectionMethod,
    Incident,
    IncidentRole,
    IncidentStatus,
    RoleAssignment,
    RootCauseCategory,
    Service,
    Severity,
    StatusUpdate,
    Team,
    TimelineEvent,
    TimelineEventKind,
    UpdateAudience,
)
from incidents.services import (
    ResolutionChecklist,
    _next_reference,
    _who,
    channel_name_for,
    status_update_message,
)

User = get_user_model()

WEEKS = 52
RECENT = timedelta(days=10)  # the history ends here; the hand-made demo lives after it
RANDOM_SEED = 2026
INCIDENTS_PER_WEEK = (1, 1, 1, 2, 2, 2)

# Median minutes per severity: to detect, to acknowledge, to resolve (at the year's start).
MEDIANS = {"SEV-1": (2, 3, 70), "SEV-2": (3, 9, 200), "SEV-3": (5, 30, 360)}

# Services the history needs beyond the base demo's (name, team, description).
EXTRA_SERVICES = [
    ("search-api", "Platform", "Product search"),
    ("notifications", "Platform", "Email and push notifications"),
    ("billing", "Payments", "Invoices and subscriptions"),
    ("mobile-api", "Identity", "API for the mobile apps"),
    ("reporting", "Payments", "Merchant reports"),
    ("admin-portal", "Identity", "Internal back office"),
]
INTERNAL_SERVICES = ("admin-portal",)


@dataclass(frozen=True)
class Scenario:
    title: str
    severity: str
    services: tuple[str, ...]
    category: str
    customer_impact: bool
    detection: str
    impact: str
    mitigation: str
    root_cause: str
    weight: int = 2


C = RootCauseCategory
D = DetectionMethod
SCENARIOS = [
    Scenario(
        "Checkout errors after payments-api deploy",
        "SEV-1",
        ("payments-api", "checkout-web"),
        C.DEPLOYMENT,
        True,
        D.ALERT,
        "customers could not pay",
        "Rolled back the deploy.",
        "A migration locked the orders table.",
        2,
    ),
    Scenario(
        "API gateway returns 503 for all routes",
        "SEV-1",
        ("api-gateway",),
        C.CAPACITY,
        True,
        D.ALERT,
        "every API call failed",
        "Added gateway nodes and shed load.",
        "Connection pool exhausted under a traffic spike.",
        1,
    ),
    Scenario(
        "Login failures for SSO customers",
        "SEV-1",
        ("auth-service",),
        C.DEPENDENCY,
        True,
        D.CUSTOMER_REPORT,
        "SSO users could not log in",
        "Switched to the backup IdP endpoint.",
        "The identity provider rotated its signing key.",
        1,
    ),
    Scenario(
        "Primary database failover took writes down",
        "SEV-1",
        ("postgres-primary",),
        C.INFRASTRUCTURE,
        True,
        D.ALERT,
        "writes failed for all customers",
        "Promoted the replica.",
        "A disk failed on the primary.",
        1,
    ),
    Scenario(
        "Card payments slow for one acquirer",
        "SEV-2",
        ("payments-api",),
        C.DEPENDENCY,
        True,
        D.MONITORING,
        "card payments took up to 30 s",
        "Routed through the backup acquirer.",
        "The acquirer degraded.",
        3,
    ),
    Scenario(
        "Search results stale",
        "SEV-2",
        ("search-api",),
        C.CODE_DEFECT,
        True,
        D.CUSTOMER_REPORT,
        "search showed old prices",
        "Rebuilt the index.",
        "The indexer skipped updates after a schema change.",
        2,
    ),
    Scenario(
        "Kafka consumer lag on order events",
        "SEV-2",
        ("kafka",),
        C.CAPACITY,
        False,
        D.ALERT,
        "order emails were delayed",
        "Scaled consumers.",
        "Partition count too low for peak traffic.",
        3,
    ),
    Scenario(
        "Mobile app sessions expire early",
        "SEV-2",
        ("mobile-api", "auth-service"),
        C.CONFIGURATION,
        True,
        D.CUSTOMER_REPORT,
        "mobile users were logged out",
        "Restored the token lifetime.",
        "A config change shortened token lifetime.",
        2,
    ),
    Scenario(
        "Invoice generation failed overnight",
        "SEV-2",
        ("billing",),
        C.DATA,
        True,
        D.MONITORING,
        "invoices were a day late",
        "Re-ran the job with the fixed data.",
        "A merchant record had an invalid currency.",
        2,
    ),
    Scenario(
        "Push notifications delayed",
        "SEV-3",
        ("notifications",),
        C.DEPENDENCY,
        False,
        D.MONITORING,
        "pushes arrived late",
        "Retried the provider queue.",
        "The push provider throttled us.",
        3,
    ),
    Scenario(
        "Merchant reports time out",
        "SEV-3",
        ("reporting",),
        C.CAPACITY,
        False,
        D.CUSTOMER_REPORT,
        "large reports failed",
        "Raised the query timeout.",
        "Reports query scanned a year of data.",
        3,
    ),
    Scenario(
        "Back-office search slow",
        "SEV-3",
        ("admin-portal",),
        C.CODE_DEFECT,
        False,
        D.INTERNAL,
        "support agents waited",
        "Added a missing index.",
        "An ORM change dropped an index hint.",
        3,
    ),
    Scenario(
        "Certificate expiry warning on api-gateway",
        "SEV-3",
        ("api-gateway",),
        C.HUMAN_PROCESS,
        False,
        D.MONITORING,
        "none yet",
        "Renewed the certificate.",
        "Renewal was manual and forgotten.",
        1,
    ),
    Scenario(
        "Checkout page assets slow",
        "SEV-3",
        ("checkout-web",),
        C.CONFIGURATION,
        True,
        D.MONITORING,
        "checkout loaded slowly",
        "Fixed the cache headers.",
        "Cache headers were dropped in a config change.",
        2,
    ),
    Scenario(
        "Replica lag on reporting database",
        "SEV-3",
        ("postgres-primary", "reporting"),
        C.UNKNOWN,
        False,
        D.ALERT,
        "reports were minutes behind",
        "Restarted replication.",
        "Not found.",
        2,
    ),
]


def _lognormal(rng: random.Random, median: float, sigma: float = 0.55) -> float:
    return rng.lognormvariate(math.log(median), sigma)


def ensure_services() -> Iterator[str]:
    teams = {t.name: t for t in Team.objects.all()}
    for name, team, description in EXTRA_SERVICES:
        if team not in teams:
            continue
        _, created = Service.objects.get_or_create(
            name=name,
            defaults={
                "team": teams[team],
                "description": description,
                "is_public": name not in INTERNAL_SERVICES,
            },
        )
        if created:
            yield f"service {name}"


def _responders() -> dict[int, list]:
    """Each team's engineers (not managers), by username: who gets paged in the history."""
    responders: dict[int, list] = {}
    users = User.objects.filter(profile__team__isnull=False, groups__name=ENGINEERS)
    for user in users.select_related("profile").order_by("username"):
        responders.setdefault(user.profile.team_id, []).append(user)
    return responders


@dataclass
class Planned:
    """One past incident: its scenario, who handled it and its moments."""

    scenario: Scenario
    severity: Severity
    affected: list[Service]
    responder: object
    started: datetime
    detected: datetime
    acknowledged: datetime
    mitigated: datetime
    resolved: datetime
    incident: Incident | None = None
    update: StatusUpdate | None = None

    @property
    def closed(self) -> datetime:
        return self.resolved + timedelta(days=3)


def plan(now: datetime) -> list[Planned]:
    """The year, oldest first. Deterministic for a given database of demo people."""
    rng = random.Random(RANDOM_SEED)  # noqa: S311 - demo data, not secrets
    severities = {s.name: s for s in Severity.objects.filter(name__in=MEDIANS)}
    services_by_name = {s.name: s for s in Service.objects.select_related("team")}
    responders = _responders()
    everyone = [u for group in responders.values() for u in group]
    weights = [s.weight for s in SCENARIOS]
    start = now - RECENT - timedelta(weeks=WEEKS)
    planned = []
    for week in range(WEEKS):
        # Teams get better over the year: durations shrink from 140 % to 70 %.
        pace = 1.4 - 0.7 * week / (WEEKS - 1)
        for _ in range(rng.choice(INCIDENTS_PER_WEEK)):
            scenario = rng.choices(SCENARIOS, weights)[0]
            affected = [services_by_name[n] for n in scenario.services if n in services_by_name]
            ttd, tta, ttr = MEDIANS[scenario.severity]
            started = start + timedelta(weeks=week, seconds=rng.uniform(0, 7 * 86400))
            detected = started + timedelta(minutes=_lognormal(rng, ttd, 0.6))
            acknowledged = detected + timedelta(minutes=_lognormal(rng, tta))
            resolved = started + timedelta(minutes=_lognormal(rng, ttr * pace))
            resolved = max(resolved, acknowledged + timedelta(minutes=5))
            if scenario.severity not in severities or not affected or not everyone:
                continue
            people = responders.get(affected[0].team_id) or everyone
            planned.append(
                Planned(
                    scenario=scenario,
                    severity=severities[scenario.severity],
                    affected=affected,
                    responder=people[(week + len(planned)) % len(people)],
                    started=started,
                    detected=detected,
                    acknowledged=acknowledged,
                    mitigated=acknowledged + (resolved - acknowledged) * 0.6,
                    resolved=resolved,
                )
            )
    planned.sort(key=lambda p: p.detected)
    return planned


def seed_history(now: datetime | None = None) -> Iterator[str]:
    now = now or timezone.now()
    if Incident.objects.filter(declared_at__lt=now - RECENT).exists():
        return  # seeded already (or real history is there): leave it alone
    yield from ensure_services()
    count = write_history(now)
    if count:
        yield f"{count} past incidents over {WEEKS} weeks (resolved and closed)"


@transaction.atomic
def write_history(now: datetime) -> int:
    """Write the planned year in bulk; returns how many incidents."""
    planned = plan(now)
    for item in planned:
        item.incident = _incident(item)
    Incident.objects.bulk_create([p.incident for p in planned])
    Incident.services.through.objects.bulk_create(
        [
            Incident.services.through(incident_id=p.incident.pk, service_id=s.pk)
            for p in planned
            for s in p.affected
        ]
    )
    RoleAssignment.objects.bulk_create(
        [
            RoleAssignment(
                incident=p.incident,
                role=IncidentRole.COMMANDER,
                user=p.responder,
                assigned_at=p.acknowledged,
                assigned_by=p.responder,
            )
            for p in planned
        ]
    )
    for item in planned:
        if item.scenario.customer_impact:
            item.update = StatusUpdate(
                incident=item.incident,
                author=item.responder,
                audience=UpdateAudience.STATUS_PAGE,
                status="Investigating",
                impact=f"Some customers: {item.scenario.impact}.",
                action="We are investigating and will update within 30 minutes.",
                eta="unknown",
                posted_at=item.acknowledged + timedelta(minutes=2),
            )
    StatusUpdate.objects.bulk_create([p.update for p in planned if p.update is not None])
    timeline_events_record_many([event for p in planned for event in _timeline(p)])
    return len(planned)


def _incident(item: Planned) -> Incident:
    scenario, at = item.scenario, item.detected
    return Incident(
        reference=_next_reference(timezone.localtime(at).year),
        title=scenario.title,
        severity=item.severity,
        status=IncidentStatus.CLOSED,
        team=item.affected[0].team,
        detection_method=scenario.detection,
        customer_impact=scenario.customer_impact,
        impact_description=scenario.impact,
        root_cause=scenario.root_cause,
        root_cause_category=scenario.category,
        channel_name=channel_name_for(scenario.title, at),
        started_at=item.started,
        detected_at=item.detected,
        acknowledged_at=item.acknowledged,
        acknowledged_by=item.responder,
        mitigated_at=item.mitigated,
        mitigation_action=scenario.mitigation,
        resolved_at=item.resolved,
        closed_at=item.closed,
        declared_by=item.responder,
        declared_at=at,
    )


def _status_message(before: str, after: str, mitigation: str | None) -> str:
    message = f"Status: {IncidentStatus(before).label} → {IncidentStatus(after).label}"
    return f"{message}. Mitigation: {mitigation}" if mitigation else message


def _status_changed(item: Planned, before: str, after: str, at: datetime, **payload):
    return TimelineEvent(
        incident=item.incident,
        kind=TimelineEventKind.STATUS_CHANGED,
        message=_status_message(before, after, payload.get("mitigation_action")),
        occurred_at=at,
        author=item.responder,
        payload={"from": before, "to": after, **payload},
    )


def _timeline(item: Planned) -> list[TimelineEvent]:
    """The events the services write over the incident's life, with their messages and
    payloads: declare, acknowledge, commander, status-page update, mitigate, resolve (with
    the checklist), root cause, close."""
    incident, who, scenario = item.incident, item.responder, item.scenario
    events = [
        TimelineEvent(
            incident=incident,
            kind=TimelineEventKind.DECLARED,
            message=f"Declared {item.severity.name}: {scenario.title}",
            occurred_at=item.detected,
            author=who,
            payload={
                "severity": item.severity.name,
                "services": [s.name for s in item.affected],
                "detection_method": scenario.detection,
                "started_at": item.started.isoformat(),
                "detected_at": item.detected.isoformat(),
                "customer_impact": scenario.customer_impact,
            },
        ),
        TimelineEvent(
            incident=incident,
            kind=TimelineEventKind.ACKNOWLEDGED,
            message=f"Acknowledged by {_who(who)}",
            occurred_at=item.acknowledged,
            author=who,
            payload={"by": who.get_username()},
        ),
        TimelineEvent(
            incident=incident,
            kind=TimelineEventKind.ROLE_ASSIGNED,
            message=f"{IncidentRole.COMMANDER.label}: {_who(who)}",
            occurred_at=item.acknowledged,
            author=who,
            payload={"role": IncidentRole.COMMANDER, "user": who.get_username(), "previous": None},
        ),
    ]
    if item.update is not None:
        update = item.update
        values = {f: getattr(update, f) for f in ("status", "impact", "action", "eta")}
        events.append(
            TimelineEvent(
                incident=incident,
                kind=TimelineEventKind.STATUS_UPDATE,
                message=status_update_message(
                    audience=update.audience,
                    status=update.status,
                    impact=update.impact,
                    action=update.action,
                    eta=update.eta,
                ),
                occurred_at=update.posted_at,
                author=who,
                payload={"update_id": update.pk, "audience": update.audience, **values},
            )
        )
    events += [
        _status_changed(
            item,
            IncidentStatus.INVESTIGATING,
            IncidentStatus.MITIGATED,
            item.mitigated,
            mitigation_action=scenario.mitigation,
        ),
        _status_changed(
            item,
            IncidentStatus.MITIGATED,
            IncidentStatus.RESOLVED,
            item.resolved,
            checklist=ResolutionChecklist.all_confirmed().as_payload(),
        ),
        TimelineEvent(
            incident=incident,
            kind=TimelineEventKind.DETAILS_CHANGED,
            message="Changed root cause, root cause category",
            occurred_at=item.resolved + timedelta(hours=2),
            author=who,
            payload={
                "changes": {
                    "root_cause": {"from": "", "to": scenario.root_cause},
                    "root_cause_category": {"from": "", "to": scenario.category},
                }
            },
        ),
        _status_changed(item, IncidentStatus.RESOLVED, IncidentStatus.CLOSED, item.closed),
    ]
    return events
