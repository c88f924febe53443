"""Demo rows for a laptop (`manage.py seed_demo`). Idempotent: what exists is left alone.

Everything is created through the services, with moments in the recent past, so the timelines
look like real incidents.
"""

from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from incidents import demo_history, runbooks, services
from incidents.access import ENGINEERS, FINANCE, MANAGERS
from incidents.models import (
    EscalationLevel,
    Incident,
    IncidentRole,
    IncidentStatus,
    RootCauseCategory,
    Runbook,
    Service,
    Severity,
    Team,
    UpdateAudience,
)

User = get_user_model()

DEMO_USERS = [
    # username, first, last, group, staff, time zone, team
    ("manager", "Maria", "Manager", MANAGERS, True, "Europe/London", "Platform"),
    ("engineer", "Eddie", "Engineer", ENGINEERS, False, "Europe/London", "Platform"),
    ("finance", "Fiona", "Finance", FINANCE, False, "America/New_York", None),
    ("alice", "Alice", "Anders", ENGINEERS, False, "America/New_York", "Payments"),
    ("bob", "Bob", "Bauer", ENGINEERS, False, "Europe/Berlin", "Platform"),
    ("chandra", "Chandra", "Rao", ENGINEERS, False, "Asia/Kolkata", "Identity"),
    ("dana", "Dana", "Diaz", ENGINEERS, False, "America/Los_Angeles", "Payments"),
    ("vp", "Victor", "Price", MANAGERS, True, "America/New_York", None),
]

TEAMS = ["Platform", "Payments", "Identity"]
SERVICES = [
    ("api-gateway", "Platform", "Public HTTP entry point"),
    ("postgres-primary", "Platform", "Primary PostgreSQL cluster"),
    ("kafka", "Platform", "Event streaming"),
    ("payments-api", "Payments", "Card and wallet payments"),
    ("checkout-web", "Payments", "Checkout pages"),
    ("auth-service", "Identity", "Login and sessions"),
]


RUNBOOK_LINKS = [
    # runbook title, owner team, services, reviewed days ago (None: never)
    ("Database connection pool exhaustion", "Platform", ["postgres-primary"], 10),
    ("Database issues", "Platform", ["postgres-primary"], 200),
    ("Kafka consumer lag", "Platform", ["kafka", "payments-api"], 30),
    ("Memory pressure on Kubernetes pods", "Platform", ["api-gateway"], None),
    ("API failures", "Payments", ["api-gateway", "payments-api", "checkout-web"], 120),
    ("Performance degradation", "Identity", ["auth-service", "api-gateway"], 45),
]


def _user(username: str):
    return User.objects.get(username=username)


def seed_people() -> Iterator[str]:
    teams = {}
    for name in TEAMS:
        teams[name], created = Team.objects.get_or_create(name=name)
        if created:
            yield f"team {name}"
    for username, first, last, group, staff, tz, team in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@example.com",
                "is_staff": staff,
            },
        )
        user.set_password(settings.DEMO_PASSWORD)
        user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=group))
        services.profile_update(user=user, time_zone=tz, team=teams[team] if team else None)
        if created:
            yield f"user {username} ({group})"
    manager = _user("manager")
    for team in teams.values():
        if team.engineering_manager_id is None:
            team.engineering_manager = manager
            team.save(update_fields=["engineering_manager"])
    vp_level = EscalationLevel.objects.filter(name="VP Engineering").first()
    if vp_level is not None:
        vp_level.users.add(_user("vp"))
    for name, team, description in SERVICES:
        _, created = Service.objects.get_or_create(
            name=name, defaults={"team": teams[team], "description": description}
        )
        if created:
            yield f"service {name}"


def _declare(title: str, severity: str, service_names: list[str], ago: timedelta, **extra):
    now = timezone.now()
    return services.incident_declare(
        title=title,
        severity=Severity.objects.get(name=severity),
        declared_by=extra.pop("by"),
        services=list(Service.objects.filter(name__in=service_names)),
        started_at=now - ago - extra.pop("undetected", timedelta(minutes=2)),
        detected_at=now - ago,
        at=now - ago,
        **extra,
    )


def _update(incident, by, at, status, impact, action, eta, audience=UpdateAudience.INTERNAL):
    services.status_update_post(
        incident=incident,
        author=by,
        status=status,
        impact=impact,
        action=action,
        eta=eta,
        audience=audience,
        at=at,
    )


def seed_incidents() -> Iterator[str]:
    now = timezone.now()
    engineer, alice, bob, chandra, manager = (
        _user(n) for n in ("engineer", "alice", "bob", "chandra", "manager")
    )
    ok = services.ResolutionChecklist.all_confirmed()

    title = "Checkout returns 502 for all users"
    if not Incident.objects.filter(title=title).exists():
        t0 = now - timedelta(minutes=40)
        inc = _declare(
            title,
            "SEV-1",
            ["checkout-web", "payments-api"],
            timedelta(minutes=40),
            by=engineer,
            summary="Every checkout request fails with 502 from the gateway.",
            customer_impact=True,
            impact_description="customers cannot complete purchases",
            detection_method="alert",
        )
        services.incident_acknowledge(incident=inc, by=engineer, at=t0 + timedelta(minutes=2))
        services.role_assign(
            incident=inc,
            role=IncidentRole.COMMANDER,
            user=engineer,
            by=engineer,
            at=t0 + timedelta(minutes=3),
        )
        services.role_assign(
            incident=inc,
            role=IncidentRole.TECHNICAL_LEAD,
            user=alice,
            by=engineer,
            at=t0 + timedelta(minutes=4),
        )
        _update(
            inc,
            engineer,
            t0 + timedelta(minutes=5),
            "Investigating",
            "All checkout attempts fail.",
            "Checking the latest payments-api deploy.",
            "unknown",
            audience=UpdateAudience.STATUS_PAGE,
        )
        # Last update 35 minutes ago on a 15-minute cadence: the reminder sweep has work.
        yield f"incident {inc.reference} {title} (investigating, update overdue)"

    title = "Login latency above 5 s for EU users"
    if not Incident.objects.filter(title=title).exists():
        t0 = now - timedelta(hours=3)
        inc = _declare(
            title,
            "SEV-2",
            ["auth-service"],
            timedelta(hours=3),
            by=chandra,
            customer_impact=True,
            impact_description="slow logins in Europe",
            detection_method="monitoring",
            undetected=timedelta(minutes=6),
        )
        services.role_assign(
            incident=inc,
            role=IncidentRole.COMMANDER,
            user=chandra,
            by=chandra,
            at=t0 + timedelta(minutes=4),
        )
        runbook = Runbook.objects.filter(title="Performance degradation").first()
        if runbook is not None:
            run = runbooks.runbook_start(
                incident=inc, runbook=runbook, by=chandra, at=t0 + timedelta(minutes=8)
            )
            for position, minutes in ((1, 10), (2, 14)):
                runbooks.runbook_step_record(
                    run=run,
                    position=position,
                    outcome="done",
                    by=chandra,
                    at=t0 + timedelta(minutes=minutes),
                )
            runbooks.runbook_step_record(
                run=run,
                position=3,
                outcome="skipped",
                by=chandra,
                note="No deploy in the last 24 hours.",
                at=t0 + timedelta(minutes=15),
            )
        services.incident_change_status(
            incident=inc,
            to_status=IncidentStatus.IDENTIFIED,
            by=chandra,
            note="Session store hot shard.",
            at=t0 + timedelta(minutes=20),
        )
        services.incident_change_status(
            incident=inc,
            to_status=IncidentStatus.MITIGATED,
            by=chandra,
            mitigation_action="Rebalanced the session store shards.",
            at=t0 + timedelta(minutes=50),
        )
        _update(
            inc,
            chandra,
            t0 + timedelta(minutes=55),
            "Mitigating",
            "EU logins slower than usual.",
            "Shards rebalanced, watching p99.",
            "1 hour",
        )
        yield f"incident {inc.reference} {title} (mitigated)"

    title = "Payments webhook backlog"
    if not Incident.objects.filter(title=title).exists():
        t0 = now - timedelta(hours=5)
        inc = _declare(
            title,
            "SEV-2",
            ["payments-api", "kafka"],
            timedelta(hours=5),
            by=alice,
            detection_method="alert",
        )
        services.role_assign(
            incident=inc,
            role=IncidentRole.COMMANDER,
            user=alice,
            by=alice,
            at=t0 + timedelta(minutes=3),
        )
        services.role_assign(
            incident=inc,
            role=IncidentRole.COMMANDER,
            user=bob,
            by=alice,
            at=t0 + timedelta(hours=1),
        )
        services.incident_change_status(
            incident=inc,
            to_status=IncidentStatus.MITIGATED,
            by=bob,
            mitigation_action="Scaled consumers from 4 to 12.",
            at=t0 + timedelta(hours=2),
        )
        services.incident_change_status(
            incident=inc,
            to_status=IncidentStatus.MONITORING,
            by=bob,
            at=t0 + timedelta(hours=3),
        )
        yield f"incident {inc.reference} {title} (monitoring)"

    title = "Internal dashboard slow"
    if not Incident.objects.filter(title=title).exists():
        t0 = now - timedelta(days=1, hours=4)
        inc = _declare(
            title,
            "SEV-3",
            ["api-gateway"],
            timedelta(days=1, hours=4),
            by=bob,
            detection_method="internal",
        )
        services.incident_change_status(
            incident=inc,
            to_status=IncidentStatus.IDENTIFIED,
            by=bob,
            at=t0 + timedelta(minutes=30),
        )
        services.incident_resolve(
            incident=inc,
            by=bob,
            checklist=ok,
            note="Cache warmed.",
            at=t0 + timedelta(hours=2),
        )
        yield f"incident {inc.reference} {title} (resolved)"

    title = "Primary database failover"
    if not Incident.objects.filter(title=title).exists():
        t0 = now - timedelta(days=6)
        inc = _declare(
            title,
            "SEV-1",
            ["postgres-primary", "api-gateway"],
            timedelta(days=6),
            by=engineer,
            customer_impact=True,
            impact_description="API errors for all customers",
            detection_method="alert",
            undetected=timedelta(minutes=3),
        )
        services.incident_acknowledge(incident=inc, by=engineer, at=t0 + timedelta(minutes=1))
        services.role_assign(
            incident=inc,
            role=IncidentRole.COMMANDER,
            user=engineer,
            by=engineer,
            at=t0 + timedelta(minutes=2),
        )
        services.role_assign(
            incident=inc,
            role=IncidentRole.COMMUNICATIONS_LEAD,
            user=manager,
            by=engineer,
            at=t0 + timedelta(minutes=4),
        )
        _update(
            inc,
            manager,
            t0 + timedelta(minutes=6),
            "Investigating",
            "API errors for all.",
            "Failing over to the replica.",
            "30 minutes",
            audience=UpdateAudience.STATUS_PAGE,
        )
        services.incident_change_status(
            incident=inc,
            to_status=IncidentStatus.MITIGATED,
            by=engineer,
            mitigation_action="Promoted the replica.",
            at=t0 + timedelta(minutes=25),
        )
        services.incident_resolve(
            incident=inc, by=engineer, checklist=ok, at=t0 + timedelta(minutes=70)
        )
        services.incident_update_details(
            incident=inc,
            by=manager,
            root_cause="Disk full on the primary after WAL build-up.",
            root_cause_category=RootCauseCategory.CAPACITY,
            users_affected=12000,
            at=t0 + timedelta(days=1),
        )
        services.incident_change_status(
            incident=inc,
            to_status=IncidentStatus.CLOSED,
            by=manager,
            at=t0 + timedelta(days=3),
        )
        yield f"incident {inc.reference} {title} (closed)"
    return None


def seed_runbooks() -> Iterator[str]:
    """Link the seeded runbooks to the demo services and teams; some are overdue a review."""
    now = timezone.now()
    manager = _user("manager")
    for title, team, service_names, reviewed_days_ago in RUNBOOK_LINKS:
        runbook = Runbook.objects.filter(title=title).first()
        if runbook is None or runbook.owner_team_id is not None:
            continue
        runbook.owner_team = Team.objects.get(name=team)
        runbook.save(update_fields=["owner_team"])
        runbook.services.set(Service.objects.filter(name__in=service_names))
        if reviewed_days_ago is not None:
            runbooks.runbook_mark_reviewed(
                runbook=runbook, by=manager, at=now - timedelta(days=reviewed_days_ago)
            )
        yield f"runbook {title} for {team}"


def seed() -> Iterator[str]:
    yield from seed_people()
    yield from seed_runbooks()
    # The year of history first, so references run in date order on a new database.
    yield from demo_history.seed_history()
    yield from seed_incidents()
