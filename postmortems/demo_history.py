"""Post-mortems for the incidents demo's year of history (`manage.py seed_demo`).

Each past incident that needs a post-mortem (``services.postmortem_reasons``) gets one as its
team would have written it: scheduled at the resolution, drafted, reviewed and published,
mostly by the deadlines, some late and a few never; with action items that were mostly done,
some dropped and some still open.

- Deterministic (a seeded ``random.Random``) and idempotent: only history incidents without a
  post-mortem are touched (imported incidents, history from another tool, never are).
- Written in bulk, as the incidents' history is (see ``incidents.demo_history``): the services
  cost about sixty queries per post-mortem's life, several seconds for a year. The rows are the
  ones the services would leave: deadlines from the policy (``services._set_deadlines``), the
  timeline copy taken at scheduling with each line's phase (``services.phase_for``), the
  "scheduled" and "published" events on the incident's timeline with the services' wording,
  the 5 Whys, the action items with their completion stamps, and one history row per
  post-mortem and item (its last state, by its author). ``tests/postmortems/
  test_demo_history.py`` compares them with the same year walked through the services.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from incidents.demo_history import RECENT
from incidents.events import timeline_events_record_many
from incidents.models import Incident, TimelineEvent, TimelineEventKind
from incidents.services import _who
from postmortems import selectors
from postmortems.models import (
    ActionItem,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    FiveWhy,
    Postmortem,
    PostmortemStatus,
    PostmortemTimelineEntry,
)
from postmortems.services import (
    SNAPSHOT_SKIPS,
    _deadlines_payload,
    _deadlines_text,
    _set_deadlines,
    phase_for,
    postmortem_reasons,
)

RANDOM_SEED = 72
H = timedelta(hours=1)

ITEMS = [
    ("Alert on the symptom before customers notice", ActionItemKind.DETECT),
    ("Add a runbook step for this failure", ActionItemKind.PROCESS),
    ("Automate the mitigation we ran by hand", ActionItemKind.MITIGATE),
    ("Add a regression test for the cause", ActionItemKind.PREVENT),
    ("Load-test the path at twice the peak", ActionItemKind.PREVENT),
    ("Dashboard for the dependency's error rate", ActionItemKind.DETECT),
]
WENT_WELL = "The alert fired and the runbook's mitigation worked."
IMPROVE = "Detection depended on a single signal."
WHY = "Why did it happen?"


@dataclass
class PlannedItem:
    title: str
    kind: str
    priority: str
    due_date: date
    status: str
    closed_at: datetime | None  # completed (done) or dropped (won't do)


@dataclass
class PlannedPostmortem:
    """One past post-mortem: its incident, author, reviewer, moments and action items.
    ``published`` is None for one that stalled in draft."""

    incident: Incident
    reasons: list[str]
    author: object
    reviewer: object
    drafted: datetime
    submitted: datetime | None
    held: datetime | None
    published: datetime | None
    items: list[PlannedItem] = field(default_factory=list)

    @property
    def sections(self) -> dict[str, str]:
        incident = self.incident
        return {
            "summary": f"{incident.title}.",
            "impact": incident.impact_description or "Internal only.",
            "root_cause": incident.root_cause or "Under investigation.",
            "what_went_well": WENT_WELL,
            "what_could_be_improved": IMPROVE,
        }

    @property
    def publisher(self):
        return self.reviewer or self.author


def plan(now: datetime) -> list[PlannedPostmortem]:
    """The post-mortems the history incidents without one need, oldest resolution first."""
    rng = random.Random(RANDOM_SEED)  # noqa: S311 - demo data, not secrets
    incidents = (
        Incident.objects.filter(
            resolved_at__lt=now - RECENT, declared_by__isnull=False, postmortem__isnull=True
        )
        .select_related("severity", "acknowledged_by", "declared_by", "team__engineering_manager")
        .order_by("resolved_at", "pk")
    )
    planned = []
    for incident in incidents:
        reasons = postmortem_reasons(incident)
        author = incident.acknowledged_by or incident.declared_by
        if not reasons:
            continue
        resolved = incident.resolved_at
        roll = rng.random()
        pace = 1.0 if roll < 0.82 else 1.6 if roll < 0.95 else None  # on time, late, stalled
        drafted = resolved + rng.uniform(2, 10) * H
        item = PlannedPostmortem(
            incident=incident,
            reasons=reasons,
            author=author,
            reviewer=incident.team.engineering_manager if incident.team else None,
            drafted=drafted,
            submitted=resolved + rng.uniform(12, 23) * (pace or 1) * H if pace else None,
            held=resolved + rng.uniform(30, 46) * (pace or 1) * H if pace else None,
            published=resolved + rng.uniform(50, 71) * (pace or 1) * H if pace else None,
        )
        for title, kind in rng.sample(ITEMS, rng.choice((1, 1, 2, 3))):
            due = (resolved + timedelta(days=rng.randint(7, 35))).date()
            priority = rng.choice(list(ActionItemPriority.values))
            # Most items get done within weeks, one in ten is dropped at the review, and a
            # few linger; the recent ones are still open.
            status, closed = ActionItemStatus.OPEN, None
            roll = rng.random()
            if pace is not None and roll < 0.1:
                status, closed = ActionItemStatus.WONT_DO, item.held
            elif pace is not None and roll < 0.95:
                done = drafted + timedelta(days=rng.uniform(2, 45))
                if done < now:
                    status, closed = ActionItemStatus.DONE, done
            item.items.append(PlannedItem(title, kind, priority, due, status, closed))
        planned.append(item)
    return planned


def seed_history(now: datetime | None = None) -> Iterator[str]:
    planned = write_history(now or timezone.now())
    if planned:
        published = sum(1 for p in planned if p.published)
        yield f"{len(planned)} past post-mortems ({published} published), with action items"


@transaction.atomic
def write_history(now: datetime) -> list[PlannedPostmortem]:
    planned = plan(now)
    if not planned:
        return planned
    policy = selectors.postmortem_policy()
    postmortems = []
    for p in planned:
        postmortem = Postmortem(
            incident=p.incident,
            status=PostmortemStatus.PUBLISHED if p.published else PostmortemStatus.DRAFT,
            owner=p.author,
            scheduled_at=p.incident.resolved_at,
            draft_started_at=p.drafted,
            submitted_at=p.submitted,
            review_meeting_at=p.held,
            published_at=p.published,
            **p.sections,
        )
        _set_deadlines(postmortem, p.incident.resolved_at, policy)
        postmortem._history_date = p.published or p.drafted
        postmortem._history_user = p.publisher if p.published else p.author
        postmortems.append(postmortem)
    postmortems = bulk_create_with_history(postmortems, Postmortem)
    by_incident = {pm.incident_id: pm for pm in postmortems}

    # The timeline copy each would have taken when it was scheduled (at the resolution).
    entries = []
    resolved_at = {p.incident.pk: p.incident for p in planned}
    events = TimelineEvent.objects.filter(incident_id__in=resolved_at).exclude(
        kind__in=SNAPSHOT_SKIPS
    )
    for event in events.order_by("incident_id", "occurred_at", "id"):
        incident = resolved_at[event.incident_id]
        if event.occurred_at <= incident.resolved_at:
            entries.append(
                PostmortemTimelineEntry(
                    postmortem=by_incident[incident.pk],
                    occurred_at=event.occurred_at,
                    phase=phase_for(incident, event.occurred_at),
                    text=event.message,
                    source_event=event,
                )
            )
    PostmortemTimelineEntry.objects.bulk_create(entries, batch_size=500)

    FiveWhy.objects.bulk_create(
        FiveWhy(
            postmortem=by_incident[p.incident.pk],
            position=1,
            question=WHY,
            answer=p.incident.root_cause or "Not found yet.",
        )
        for p in planned
    )
    items = []
    for p in planned:
        for planned_item in p.items:
            item = ActionItem(
                postmortem=by_incident[p.incident.pk],
                title=planned_item.title,
                owner=p.author,
                due_date=planned_item.due_date,
                kind=planned_item.kind,
                priority=planned_item.priority,
                status=planned_item.status,
                created_at=p.drafted,
            )
            if planned_item.status == ActionItemStatus.DONE:
                item.completed_at, item.completed_by = planned_item.closed_at, p.author
            item._history_date = planned_item.closed_at or p.drafted
            item._history_user = p.author
            items.append(item)
    bulk_create_with_history(items, ActionItem)

    timeline_events_record_many([event for p in planned for event in _events(p, by_incident)])
    return planned


def _events(p: PlannedPostmortem, by_incident: dict) -> list[TimelineEvent]:
    """The incident timeline events the services write: scheduled (by the system, at the
    resolution) and published."""
    postmortem = by_incident[p.incident.pk]
    events = [
        TimelineEvent(
            incident=p.incident,
            kind=TimelineEventKind.POSTMORTEM,
            message=f"Post-mortem scheduled ({', '.join(p.reasons)}): "
            f"{_deadlines_text(postmortem)}",
            occurred_at=p.incident.resolved_at,
            payload={
                "action": "scheduled",
                "reasons": p.reasons,
                **_deadlines_payload(postmortem),
            },
        )
    ]
    if p.published:
        events.append(
            TimelineEvent(
                incident=p.incident,
                kind=TimelineEventKind.POSTMORTEM,
                message=f"Post-mortem published by {_who(p.publisher)}",
                occurred_at=p.published,
                author=p.publisher,
                payload={"action": "published", "postmortem": postmortem.pk},
            )
        )
    return events
