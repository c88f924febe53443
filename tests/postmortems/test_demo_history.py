"""The demo's past post-mortems are written in bulk; these tests hold them to what the
post-mortem services leave behind for the same year."""

import pytest
from django.db import transaction
from django.utils import timezone

from incidents import demo, demo_history
from incidents.models import TimelineEventKind
from postmortems import demo_history as postmortem_history
from postmortems import services
from postmortems.models import ActionItemStatus, Postmortem, PostmortemStatus

pytestmark = pytest.mark.django_db

POSTMORTEM_FIELDS = (
    "status",
    "owner_id",
    "scheduled_at",
    "deadlines_from",
    "draft_due_at",
    "review_due_at",
    "publish_due_at",
    "draft_started_at",
    "submitted_at",
    "review_meeting_at",
    "published_at",
    "summary",
    "impact",
    "root_cause",
    "what_went_well",
    "what_could_be_improved",
    "lessons_learned",
)
ITEM_FIELDS = (
    "title",
    "description",
    "owner_id",
    "due_date",
    "kind",
    "priority",
    "status",
    "tracker_url",
    "created_at",
    "completed_at",
    "completed_by_id",
)


@pytest.fixture
def now():
    now = timezone.now()
    list(demo.seed_people())
    list(demo_history.ensure_services())
    demo_history.write_history(now)
    return now


def snapshot(incident_ids) -> dict:
    """Everything the post-mortems of these incidents left, without database ids."""
    state = {}
    for postmortem in Postmortem.objects.filter(incident_id__in=incident_ids):
        incident = postmortem.incident
        events = []
        for event in incident.timeline.filter(kind=TimelineEventKind.POSTMORTEM).order_by(
            "occurred_at", "id"
        ):
            payload = dict(event.payload)
            payload.pop("postmortem", None)
            events.append((event.message, event.occurred_at, event.author_id, payload))
        state[incident.pk] = {
            "postmortem": [getattr(postmortem, f) for f in POSTMORTEM_FIELDS],
            "timeline": list(
                postmortem.timeline_entries.order_by("occurred_at", "id").values_list(
                    "occurred_at", "phase", "text", "source_event_id"
                )
            ),
            "whys": list(
                postmortem.five_whys.order_by("position").values_list(
                    "position", "question", "answer"
                )
            ),
            "items": list(postmortem.action_items.order_by("id").values_list(*ITEM_FIELDS)),
            "events": events,
            "history": postmortem.history.exists(),
        }
    return state


def walk(p):
    """The same post-mortem's life through the services."""
    postmortem = services.postmortem_schedule(
        incident=p.incident, by=None, at=p.incident.resolved_at
    )
    services.postmortem_start_draft(postmortem=postmortem, by=p.author, at=p.drafted)
    services.postmortem_update_sections(
        postmortem=postmortem, by=p.author, at=p.drafted, **p.sections
    )
    services.five_why_add(
        postmortem=postmortem,
        by=p.author,
        question=postmortem_history.WHY,
        answer=p.incident.root_cause or "Not found yet.",
    )
    items = [
        services.action_item_add(
            postmortem=postmortem,
            by=p.author,
            title=i.title,
            owner=p.author,
            due_date=i.due_date,
            kind=i.kind,
            priority=i.priority,
            at=p.drafted,
        )
        for i in p.items
    ]
    if p.published is None:
        return
    services.postmortem_submit_for_review(postmortem=postmortem, by=p.author, at=p.submitted)
    services.postmortem_record_review_meeting(
        postmortem=postmortem, by=p.publisher, held_at=p.held, at=p.held
    )
    services.postmortem_publish(postmortem=postmortem, by=p.publisher, at=p.published)
    for item, planned in zip(items, p.items, strict=True):
        if planned.status == ActionItemStatus.WONT_DO:
            services.action_item_set_status(
                item=item, status=ActionItemStatus.WONT_DO, by=p.author, at=planned.closed_at
            )
        elif planned.status == ActionItemStatus.DONE:
            services.action_item_complete(item=item, by=p.author, at=planned.closed_at)


def test_bulk_post_mortems_are_what_the_services_leave(now):
    planned = postmortem_history.plan(now)
    assert len(planned) > 40
    # A sample with every kind of story: stalled, published late, won't do, done, still open.
    sample = [p for p in planned if p.published is None][:2]
    sample += [
        p
        for p in planned
        if p.published and p.published > p.incident.resolved_at + 72 * postmortem_history.H
    ][:2]
    for status in (ActionItemStatus.WONT_DO, ActionItemStatus.DONE, ActionItemStatus.OPEN):
        sample += [p for p in planned if any(i.status == status for i in p.items)][:2]
    ids = {p.incident.pk for p in sample}
    with transaction.atomic():
        postmortem_history.write_history(now)
        bulk = snapshot(ids)
        transaction.set_rollback(True)
    for p in planned:
        if p.incident.pk in ids:
            walk(p)
    assert snapshot(ids) == bulk
    assert len(bulk) == len(ids) >= 6


def test_a_year_of_stories_written_once(now):
    written = postmortem_history.write_history(now)
    statuses = [p.status for p in Postmortem.objects.all()]
    assert statuses.count(PostmortemStatus.PUBLISHED) > 40
    assert PostmortemStatus.DRAFT in statuses  # a few stalled
    assert len(written) == len(statuses)
    assert postmortem_history.write_history(now) == []  # nothing left to write
    assert Postmortem.objects.count() == len(statuses)
