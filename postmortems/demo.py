"""Demo post-mortems for a laptop (`manage.py seed_demo`, after the incidents app's rows).

Idempotent: each step runs only while its post-mortem is still where the previous run left it,
and new incidents are created only if their title is not there yet. Everything goes through
the services with moments in the recent past, so there is one post-mortem in each status:

- published: the incidents demo's "Primary database failover" (its resolution six days ago
  scheduled it), with action items done, in progress and one overdue;
- in review, review meeting overdue: "Order confirmation emails delayed" (SEV-3 with
  customer impact), with an overdue action item;
- draft, draft overdue: "Card payments declined for one issuer" (SEV-2), with an action item
  still missing its owner and due date;
- scheduled: "Search results stale after reindex" (SEV-2, resolved two hours ago);
- scheduled because a manager required it: the incidents demo's "Internal dashboard slow"
  (SEV-3 without customer impact, which needs none by itself).
"""

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Incident, IncidentStatus, Service
from postmortems import demo_history, services
from postmortems.models import (
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    Postmortem,
    PostmortemStatus,
)

User = get_user_model()


def _user(username: str):
    return User.objects.get(username=username)


def _resolved_incident(
    *,
    title: str,
    severity: str,
    service_names: list[str],
    by,
    detected_at: datetime,
    resolved_at: datetime,
    customer_impact: bool = False,
    impact_description: str = "",
    mitigation_action: str = "",
) -> Incident:
    """Declare, acknowledge, mitigate and resolve an incident through the incident services;
    the resolution schedules its post-mortem when it needs one."""
    incident = incident_services.incident_declare(
        title=title,
        severity=severity,
        declared_by=by,
        services=list(Service.objects.filter(name__in=service_names)),
        customer_impact=customer_impact,
        impact_description=impact_description,
        started_at=detected_at - timedelta(minutes=4),
        detected_at=detected_at,
        at=detected_at,
    )
    incident_services.incident_acknowledge(
        incident=incident, by=by, at=detected_at + timedelta(minutes=3)
    )
    incident_services.incident_change_status(
        incident=incident,
        to_status=IncidentStatus.MITIGATED,
        by=by,
        mitigation_action=mitigation_action,
        at=detected_at + (resolved_at - detected_at) / 2,
    )
    return incident_services.incident_resolve(
        incident=incident,
        by=by,
        checklist=incident_services.ResolutionChecklist.all_confirmed(),
        at=resolved_at,
    )


def _postmortem_of(title: str) -> Postmortem | None:
    return Postmortem.objects.filter(incident__title=title).select_related("incident").first()


def seed_published(now: datetime) -> Iterator[str]:
    postmortem = _postmortem_of("Primary database failover")
    if postmortem is None or postmortem.status != PostmortemStatus.SCHEDULED:
        return
    engineer, manager, bob, vp = (_user(n) for n in ("engineer", "manager", "bob", "vp"))
    resolved = postmortem.incident.resolved_at
    at = resolved + timedelta(hours=5)
    services.postmortem_start_draft(postmortem=postmortem, by=engineer, at=at)
    services.postmortem_set_reviewers(postmortem=postmortem, reviewers=[manager, vp], by=engineer)
    services.postmortem_update_sections(
        postmortem=postmortem,
        by=engineer,
        at=at,
        summary="The primary PostgreSQL server ran out of disk and stopped accepting writes; "
        "the API returned errors until the replica was promoted.",
        impact="Every API write failed for about an hour; about 12,000 users saw errors.",
        root_cause="Write-ahead log segments piled up because the archiving job had been "
        "failing silently for two days, and nothing alerted on free disk space.",
        what_went_well="- The error-rate alert paged within a minute.\n"
        "- The replica promotion runbook worked as written.",
        what_could_be_improved="- No alert on disk usage or on the archiving job.\n"
        "- The status page was updated late.",
        lessons_learned="A job that fails silently is a job without an owner.",
    )
    services.timeline_entry_add(
        postmortem=postmortem,
        by=engineer,
        occurred_at=postmortem.incident.started_at - timedelta(days=2),
        text="WAL archiving job starts failing (no alert)",
        at=at,
    )
    for question, answer in [
        ("Why did the API fail?", "The primary database stopped accepting writes."),
        ("Why did it stop accepting writes?", "Its disk was full."),
        ("Why was the disk full?", "WAL segments were kept because archiving failed."),
        ("Why did archiving fail unnoticed?", "The job's failures were not monitored."),
        ("Why were they not monitored?", "The job predates our alerting standard."),
    ]:
        services.five_why_add(postmortem=postmortem, by=engineer, question=question, answer=answer)
    today = timezone.localdate(now)
    done = services.action_item_add(
        postmortem=postmortem,
        by=engineer,
        title="Alert when disk usage on database hosts passes 80%",
        owner=bob,
        due_date=today - timedelta(days=3),
        kind=ActionItemKind.DETECT,
        priority=ActionItemPriority.P1,
        tracker_url="https://tracker.example.com/OPS-311",
        at=at,
    )
    services.action_item_complete(item=done, by=bob, at=resolved + timedelta(days=2))
    services.action_item_add(
        postmortem=postmortem,
        by=engineer,
        title="Alert on WAL archiving failures",
        owner=engineer,
        due_date=today - timedelta(days=1),  # overdue
        kind=ActionItemKind.DETECT,
        priority=ActionItemPriority.P1,
        tracker_url="https://tracker.example.com/OPS-312",
        at=at,
    )
    in_progress = services.action_item_add(
        postmortem=postmortem,
        by=engineer,
        title="Update the status page within 10 minutes of declaring (runbook step)",
        owner=manager,
        due_date=today + timedelta(days=10),
        kind=ActionItemKind.PROCESS,
        priority=ActionItemPriority.P2,
        at=at,
    )
    services.action_item_set_status(
        item=in_progress, status=ActionItemStatus.IN_PROGRESS, by=manager, at=at
    )
    services.postmortem_submit_for_review(
        postmortem=postmortem, by=engineer, at=resolved + timedelta(hours=20)
    )
    services.postmortem_record_review_meeting(
        postmortem=postmortem,
        by=manager,
        held_at=resolved + timedelta(hours=40),
        at=resolved + timedelta(hours=41),
    )
    services.postmortem_publish(
        postmortem=postmortem, by=manager, at=resolved + timedelta(hours=60)
    )
    yield f"post-mortem {postmortem.incident.reference} (published, one action item overdue)"


def seed_in_review(now: datetime) -> Iterator[str]:
    title = "Order confirmation emails delayed"
    if Incident.objects.filter(title=title).exists():
        return
    dana, alice, manager = (_user(n) for n in ("dana", "alice", "manager"))
    resolved = now - timedelta(hours=52)
    incident = _resolved_incident(
        title=title,
        severity="SEV-3",
        service_names=["kafka"],
        by=dana,
        detected_at=resolved - timedelta(hours=2),
        resolved_at=resolved,
        customer_impact=True,
        impact_description="order confirmation emails arrived up to two hours late",
        mitigation_action="Restarted the stuck email consumers.",
    )
    postmortem = Postmortem.objects.get(incident=incident)
    at = resolved + timedelta(hours=4)
    services.postmortem_start_draft(postmortem=postmortem, by=dana, at=at)
    services.postmortem_set_reviewers(postmortem=postmortem, reviewers=[alice, manager], by=dana)
    services.postmortem_update_sections(
        postmortem=postmortem,
        by=dana,
        at=at,
        summary="Order confirmation emails were delayed by up to two hours.",
        impact="Customers did not receive confirmations promptly; support tickets rose.",
        root_cause="A consumer rebalance left two partitions without a consumer.",
        what_went_well="Customer support spotted the pattern quickly.",
        what_could_be_improved="Consumer lag was not alerting.",
    )
    services.five_why_add(
        postmortem=postmortem,
        by=dana,
        question="Why were emails late?",
        answer="Two partitions had no consumer after a rebalance.",
    )
    services.action_item_add(
        postmortem=postmortem,
        by=dana,
        title="Alert on consumer lag above 5 minutes",
        owner=alice,
        due_date=timezone.localdate(now) - timedelta(days=1),  # overdue
        kind=ActionItemKind.DETECT,
        priority=ActionItemPriority.P2,
        at=at,
    )
    services.postmortem_submit_for_review(
        postmortem=postmortem, by=dana, at=resolved + timedelta(hours=20)
    )
    yield f"post-mortem {incident.reference} (in review, review meeting overdue)"


def seed_draft(now: datetime) -> Iterator[str]:
    title = "Card payments declined for one issuer"
    if Incident.objects.filter(title=title).exists():
        return
    alice = _user("alice")
    resolved = now - timedelta(hours=30)
    incident = _resolved_incident(
        title=title,
        severity="SEV-2",
        service_names=["payments-api"],
        by=alice,
        detected_at=resolved - timedelta(hours=1),
        resolved_at=resolved,
        customer_impact=True,
        impact_description="cards from one issuer were declined",
        mitigation_action="Routed that issuer through the backup acquirer.",
    )
    postmortem = Postmortem.objects.get(incident=incident)
    at = resolved + timedelta(hours=6)
    services.postmortem_start_draft(postmortem=postmortem, by=alice, at=at)
    services.postmortem_update_sections(
        postmortem=postmortem,
        by=alice,
        at=at,
        summary="Cards from one issuer were declined for an hour.",
    )
    services.action_item_add(
        postmortem=postmortem,
        by=alice,
        title="Health-check each acquirer route",
        kind=ActionItemKind.DETECT,
        priority=ActionItemPriority.P2,
        at=at,
    )
    yield f"post-mortem {incident.reference} (draft, draft overdue)"


def seed_scheduled(now: datetime) -> Iterator[str]:
    title = "Search results stale after reindex"
    if Incident.objects.filter(title=title).exists():
        return
    incident = _resolved_incident(
        title=title,
        severity="SEV-2",
        service_names=["api-gateway"],
        by=_user("bob"),
        detected_at=now - timedelta(hours=3),
        resolved_at=now - timedelta(hours=2),
        mitigation_action="Pointed the search alias back at the previous index.",
    )
    yield f"post-mortem {incident.reference} (scheduled)"


def seed_required(now: datetime) -> Iterator[str]:
    incident = Incident.objects.filter(title="Internal dashboard slow").first()
    if incident is None or incident.postmortem_required:
        return
    services.postmortem_require(incident=incident, by=_user("manager"), at=now)
    yield f"post-mortem {incident.reference} (scheduled: required by a manager)"


def seed() -> Iterator[str]:
    now = timezone.now()
    yield from demo_history.seed_history(now)
    yield from seed_published(now)
    yield from seed_in_review(now)
    yield from seed_draft(now)
    yield from seed_scheduled(now)
    yield from seed_required(now)
