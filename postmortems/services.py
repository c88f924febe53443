"""Every write to post-mortems and action items goes through these functions.

Each one owns its transaction and locks the row it changes (the post-mortem for anything inside
it, so two authors never overwrite each other or take the same 5 Whys position), validates with
a clear message (the constants below, which tests and forms assert on), saves only the fields it
changed, and records who and when in the row's history (django-simple-history) using ``by`` and
``at``. ``at`` defaults to now; tests and demo data pass it to backdate.

Status moves: scheduled → draft → in review → published, and in review → draft when the review
asks for changes. Published is final for the document; its action items stay tracked.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents import validators
from incidents.access import responders
from incidents.events import timeline_event_record
from incidents.models import Incident, TimelineEvent, TimelineEventKind
from incidents.services import _who
from postmortems import selectors
from postmortems.models import (
    SECTION_FIELDS,
    ActionItem,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    FiveWhy,
    Postmortem,
    PostmortemPolicy,
    PostmortemStatus,
    PostmortemTimelineEntry,
    TimelinePhase,
)
from postmortems.models.policy import POLICY_PK

# Messages that tests and forms assert on.
INCIDENT_NOT_RESOLVED = (
    "{reference} is not resolved yet: its post-mortem is scheduled when it is resolved."
)
INVALID_MOVE = "A post-mortem cannot move from {from_status} to {to_status}."
PUBLISHED_IS_FINAL = "The post-mortem is published; its text can no longer change."
START_DRAFT_FIRST = "Start the draft before writing the post-mortem."
UNKNOWN_SECTIONS = "These are not post-mortem sections: {names}."
OWNER_REQUIRED = "A post-mortem being written needs an owner (author)."
INACTIVE_USER = "{user} is not an active user."
PUBLISH_BLOCKED = "The post-mortem cannot be published yet. Missing: {missing}."
MISSING_SECTION = "the {section} section"
MISSING_TIMELINE = "at least one timeline entry"
MISSING_WHYS = "at least one of the 5 Whys"
MISSING_WHY_ANSWER = "the answer to why #{position}"
MISSING_OWNER = "an owner (author)"
MISSING_REVIEW_MEETING = "the review meeting"
MISSING_RESOLUTION = "the incident's resolution (it is open again)"
MISSING_ITEM_OWNER = "an owner for action item “{title}”"
MISSING_ITEM_DUE = "a due date for action item “{title}”"
MEETING_IN_FUTURE = "Record the review meeting once it has been held (not in the future)."
MEETING_BEFORE_RESOLUTION = "The review meeting cannot be before the incident was resolved."
MEETING_BEFORE_DRAFT = (
    "The review meeting cannot be before the draft was started ({moment}): there was nothing "
    "to review yet."
)
SUBMIT_NEEDS_SUMMARY = (
    "Write the summary before submitting for review: the draft deadline asks for a written draft."
)
ENTRY_TEXT_REQUIRED = "A timeline entry needs some text."
ENTRY_IN_FUTURE = "A timeline entry cannot be in the future."
# A year half typed into the date picker (0001) lands before the Common Era once read in a zone
# east of UTC, which PostgreSQL stores but Python cannot read back.
EARLIEST_ENTRY = datetime(1900, 1, 1, tzinfo=UTC)
ENTRY_TOO_EARLY = "A timeline entry cannot be before 1900; check the year."
UNKNOWN_PHASE = "Unknown phase: choose detected, acknowledged, mitigated or resolved."
WRONG_POSTMORTEM = "That {what} belongs to another post-mortem."
QUESTION_REQUIRED = "Each of the 5 Whys needs a question."
REORDER_MISMATCH = "Reordering must list every one of the post-mortem's 5 Whys exactly once."
ITEM_TITLE_REQUIRED = "An action item needs a title."
UNKNOWN_ITEM_FIELDS = "These action item fields cannot be changed here: {names}."
UNKNOWN_KIND = "Unknown kind: choose prevent, detect, mitigate or process."
UNKNOWN_PRIORITY = "Unknown priority: choose P1, P2, P3 or P4."
UNKNOWN_ITEM_STATUS = "Unknown status: choose open, in progress, done or won't do."
INVALID_TRACKER_URL = "Enter the full address of the tracker ticket (http or https)."
PUBLISHED_ITEM_NEEDS = (
    "The post-mortem is published, so every action item keeps an owner and a due date."
)
ITEM_SAME_STATUS = "The action item is already {status}."
ITEM_INVALID_MOVE = "An action item cannot move from {from_status} to {to_status}; reopen it first."
REASSIGN_NEEDS_OWNER = "Choose the new owner."
NOT_A_RESPONDER = (
    "{user} cannot own an action item: only engineers and managers can see and complete them."
)
POLICY_NOT_POSITIVE = "Each deadline must be after the resolution."
POLICY_OUT_OF_ORDER = "The deadlines must come in order: draft, then review, then publish."
POLICY_LONGEST = timedelta(days=365)
POLICY_TOO_LONG = (
    "Each deadline and the reminder lead time must be at most 365 days: a post-mortem is "
    "written while the incident is remembered."
)

ALLOWED_MOVES: dict[str, frozenset[str]] = {
    PostmortemStatus.SCHEDULED: frozenset({PostmortemStatus.DRAFT}),
    PostmortemStatus.DRAFT: frozenset({PostmortemStatus.IN_REVIEW}),
    PostmortemStatus.IN_REVIEW: frozenset({PostmortemStatus.DRAFT, PostmortemStatus.PUBLISHED}),
    PostmortemStatus.PUBLISHED: frozenset(),
}

# Publishing needs these sections written; "lessons learned" is optional (often the same points
# as "what could be improved").
REQUIRED_SECTIONS = (
    "summary",
    "impact",
    "root_cause",
    "what_went_well",
    "what_could_be_improved",
)

EDITABLE_STATUSES = (PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW)
CLOSED_ITEM_STATUSES = (ActionItemStatus.DONE, ActionItemStatus.WONT_DO)

ITEM_MOVES: dict[str, frozenset[str]] = {
    ActionItemStatus.OPEN: frozenset(
        {ActionItemStatus.IN_PROGRESS, ActionItemStatus.DONE, ActionItemStatus.WONT_DO}
    ),
    ActionItemStatus.IN_PROGRESS: frozenset(
        {ActionItemStatus.OPEN, ActionItemStatus.DONE, ActionItemStatus.WONT_DO}
    ),
    # Done and won't do are left only by reopening, which clears the completion stamp.
    ActionItemStatus.DONE: frozenset({ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS}),
    ActionItemStatus.WONT_DO: frozenset({ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS}),
}

ITEM_FIELDS = ("title", "description", "owner", "due_date", "kind", "priority", "tracker_url")

# Incident timeline events that are not part of the story of the incident itself.
SNAPSHOT_SKIPS = (TimelineEventKind.POSTMORTEM, TimelineEventKind.REMINDER)


def _now(at: datetime | None) -> datetime:
    return at if at is not None else timezone.now()


def _save(obj, *, by, at: datetime, update_fields: list[str] | None = None) -> None:
    """Save with who and when recorded in the row's history (django-simple-history reads
    ``_history_user`` and ``_history_date``; without them it would take the request's user, or
    nobody outside a request, and the wall clock)."""
    obj._history_user = by
    obj._history_date = at
    if update_fields is None:
        obj.save()
    else:
        obj.save(update_fields=update_fields)


def _lock(postmortem: Postmortem) -> Postmortem:
    return (
        Postmortem.objects.select_for_update(of=("self",))
        .select_related("incident")
        .get(pk=postmortem.pk)
    )


def _utc(moment: datetime) -> str:
    return selectors.format_moment(moment, UTC)


def _label(status: str) -> str:
    return PostmortemStatus(status).label


def _check_user(user) -> None:
    if user is not None and not user.is_active:
        raise ValidationError(INACTIVE_USER.format(user=_who(user)))


NOT_A_WRITER = (
    "{user} cannot write or review a post-mortem: only engineers and managers can open it."
)


def _check_writer(user) -> None:
    """An owner or reviewer must be able to open the editor (and act on its reminders)."""
    _check_user(user)
    if user is not None and not responders().filter(pk=user.pk).exists():
        raise ValidationError(NOT_A_WRITER.format(user=_who(user)))


# --- Scheduling -------------------------------------------------------------------------------


def postmortem_reasons(incident: Incident) -> list[str]:
    """Why the incident needs a post-mortem; empty when it does not. The rule: its severity
    requires one, or it had customer impact, or a manager required one."""
    reasons = []
    if incident.severity.requires_postmortem:
        reasons.append(f"{incident.severity.name} requires one")
    if incident.customer_impact:
        reasons.append("customer impact")
    if incident.postmortem_required:
        reasons.append("required by a manager")
    return reasons


def phase_for(incident: Incident, moment: datetime) -> str:
    """The incident phase a moment falls in, from the incident's stamped moments: resolved from
    the resolution on, mitigated from the mitigation, acknowledged from the acknowledgement,
    detected before that (including anything before detection)."""
    if incident.resolved_at is not None and moment >= incident.resolved_at:
        return TimelinePhase.RESOLVED
    if incident.mitigated_at is not None and moment >= incident.mitigated_at:
        return TimelinePhase.MITIGATED
    if incident.acknowledged_at is not None and moment >= incident.acknowledged_at:
        return TimelinePhase.ACKNOWLEDGED
    return TimelinePhase.DETECTED


def _set_deadlines(postmortem: Postmortem, start: datetime, policy: PostmortemPolicy) -> None:
    postmortem.deadlines_from = start
    postmortem.draft_due_at = start + policy.draft_within
    postmortem.review_due_at = start + policy.review_within
    postmortem.publish_due_at = start + policy.publish_within


def _snapshot_timeline(postmortem: Postmortem, incident: Incident, until: datetime) -> None:
    events = (
        TimelineEvent.objects.filter(incident=incident, occurred_at__lte=until)
        .exclude(kind__in=SNAPSHOT_SKIPS)
        .order_by("occurred_at", "id")
    )
    PostmortemTimelineEntry.objects.bulk_create(
        PostmortemTimelineEntry(
            postmortem=postmortem,
            occurred_at=event.occurred_at,
            phase=phase_for(incident, event.occurred_at),
            text=event.message,
            source_event=event,
        )
        for event in events
    )


def postmortem_timeline_copy_event(*, incident: Incident, event: TimelineEvent) -> None:
    """Copy an incident timeline event recorded after the post-mortem's timeline was taken
    (a runbook worked after the resolution) into it, unless the post-mortem is published
    (what was published stays as it was) or already has it."""
    postmortem = (
        Postmortem.objects.select_for_update()
        .filter(incident=incident)
        .exclude(status=PostmortemStatus.PUBLISHED)
        .first()
    )
    if postmortem is None or postmortem.timeline_entries.filter(source_event=event).exists():
        return
    PostmortemTimelineEntry.objects.create(
        postmortem=postmortem,
        occurred_at=event.occurred_at,
        phase=phase_for(incident, event.occurred_at),
        text=event.message,
        source_event=event,
    )


def _deadlines_payload(postmortem: Postmortem) -> dict[str, str]:
    return {
        "deadlines_from": postmortem.deadlines_from.isoformat(),
        "draft_due_at": postmortem.draft_due_at.isoformat(),
        "review_due_at": postmortem.review_due_at.isoformat(),
        "publish_due_at": postmortem.publish_due_at.isoformat(),
    }


def _deadlines_text(postmortem: Postmortem) -> str:
    return (
        f"draft due {_utc(postmortem.draft_due_at)}, review meeting due "
        f"{_utc(postmortem.review_due_at)}, publish due {_utc(postmortem.publish_due_at)}"
    )


@transaction.atomic
def postmortem_schedule(*, incident: Incident, by=None, at: datetime | None = None):
    """Schedule the incident's post-mortem if it needs one (see ``postmortem_reasons``); the one
    way a post-mortem is created. Returns it, or None when the incident needs none.

    - Exactly one per incident, also when called again or concurrently: the incident row is
      locked and the post-mortem is one-to-one with it.
    - The deadlines (policy: 24/48/72 h by default) count from the incident's resolution, or
      from ``at`` when that is later (a post-mortem required after the fact never starts
      overdue). They are stored on the post-mortem, so a later policy change does not move them.
    - The timeline section starts as a copy of the incident's timeline up to ``at``.
    - Re-resolving a reopened incident: while the post-mortem is still scheduled its deadlines
      are recounted from the new resolution and its timeline copy is taken again (nobody has
      written anything yet); once drafting has started, deadlines and text are kept.
    - Writes a ``postmortem`` event on the incident's timeline when it schedules or recounts.

    Refused (ValidationError) when the incident needs one but is not resolved or closed.
    """
    at = _now(at)
    incident = (
        Incident.objects.select_for_update(of=("self",))
        .select_related("severity")
        .get(pk=incident.pk)
    )
    reasons = postmortem_reasons(incident)
    # One scheduled before stays (a severity lowered since never withdraws it), and
    # re-resolving recounts it: the reasons decide only whether a new one is scheduled.
    existing = Postmortem.objects.select_for_update().filter(incident=incident).first()
    if not reasons and existing is None:
        return None
    if incident.resolved_at is None:
        if not reasons:
            return None
        raise ValidationError(INCIDENT_NOT_RESOLVED.format(reference=incident.reference))
    policy = selectors.postmortem_policy()
    if existing is not None:
        if (
            existing.status == PostmortemStatus.SCHEDULED
            and incident.resolved_at > existing.deadlines_from
        ):
            _set_deadlines(existing, incident.resolved_at, policy)
            _save(
                existing,
                by=by,
                at=at,
                update_fields=["deadlines_from", "draft_due_at", "review_due_at", "publish_due_at"],
            )
            existing.timeline_entries.all().delete()
            _snapshot_timeline(existing, incident, at)
            timeline_event_record(
                incident=incident,
                kind=TimelineEventKind.POSTMORTEM,
                message=f"Post-mortem deadlines recounted from the new resolution: "
                f"{_deadlines_text(existing)}",
                at=at,
                author=by,
                payload={"action": "recounted", **_deadlines_payload(existing)},
            )
        return existing

    postmortem = Postmortem(incident=incident, scheduled_at=at)
    _set_deadlines(postmortem, max(incident.resolved_at, at), policy)
    _save(postmortem, by=by, at=at)
    _snapshot_timeline(postmortem, incident, at)
    timeline_event_record(
        incident=incident,
        kind=TimelineEventKind.POSTMORTEM,
        message=f"Post-mortem scheduled ({', '.join(reasons)}): {_deadlines_text(postmortem)}",
        at=at,
        author=by,
        payload={"action": "scheduled", "reasons": reasons, **_deadlines_payload(postmortem)},
    )
    return postmortem


@transaction.atomic
def postmortem_require(*, incident: Incident, by, at: datetime | None = None):
    """A manager requires a post-mortem for any incident.

    Sets the incident's ``postmortem_required`` flag through the incidents service (so the
    incident's timeline records who asked and when), then schedules the post-mortem at once if
    the incident is already resolved or closed; otherwise the resolution will. Idempotent.
    Returns the post-mortem, or None while the incident is still open.
    """
    at = _now(at)
    incident = incident_services.incident_update_details(
        incident=incident, by=by, postmortem_required=True, at=at
    )
    if incident.resolved_at is None:
        return None
    return postmortem_schedule(incident=incident, by=by, at=at)


# --- Moving through the statuses ------------------------------------------------------------


def _check_move(postmortem: Postmortem, *, from_status: str, to_status: str) -> None:
    """Each move starts from one status (``ALLOWED_MOVES`` read the other way round)."""
    if postmortem.status == PostmortemStatus.PUBLISHED:
        raise ValidationError(PUBLISHED_IS_FINAL)
    if postmortem.status != from_status:
        raise ValidationError(
            INVALID_MOVE.format(from_status=_label(postmortem.status), to_status=_label(to_status))
        )


@transaction.atomic
def postmortem_start_draft(
    *, postmortem: Postmortem, by, owner=None, at: datetime | None = None
) -> Postmortem:
    """Scheduled → draft. The owner becomes ``owner``, or stays who was assigned, or else
    ``by`` (whoever starts writing owns it). Stamps when drafting started."""
    at = _now(at)
    postmortem = _lock(postmortem)
    _check_move(
        postmortem, from_status=PostmortemStatus.SCHEDULED, to_status=PostmortemStatus.DRAFT
    )
    owner = owner or postmortem.owner or by
    if owner is None:
        raise ValidationError(OWNER_REQUIRED)
    _check_writer(owner)
    postmortem.status = PostmortemStatus.DRAFT
    postmortem.owner = owner
    postmortem.draft_started_at = at
    _save(postmortem, by=by, at=at, update_fields=["status", "owner", "draft_started_at"])
    return postmortem


@transaction.atomic
def postmortem_submit_for_review(
    *, postmortem: Postmortem, by, at: datetime | None = None
) -> Postmortem:
    """Draft → in review, once the summary is written (an empty draft would meet the draft
    deadline). Stamps ``submitted_at``, which meets the draft deadline."""
    at = _now(at)
    postmortem = _lock(postmortem)
    _check_move(
        postmortem, from_status=PostmortemStatus.DRAFT, to_status=PostmortemStatus.IN_REVIEW
    )
    if not postmortem.summary.strip():
        raise ValidationError(SUBMIT_NEEDS_SUMMARY)
    postmortem.status = PostmortemStatus.IN_REVIEW
    postmortem.submitted_at = at
    _save(postmortem, by=by, at=at, update_fields=["status", "submitted_at"])
    return postmortem


@transaction.atomic
def postmortem_return_to_draft(
    *, postmortem: Postmortem, by, at: datetime | None = None
) -> Postmortem:
    """In review → draft, when the review asks for changes. The draft is not done any more, so
    ``submitted_at`` is cleared (the history keeps the earlier submission) and the draft
    deadline counts again; a recorded review meeting stays recorded."""
    at = _now(at)
    postmortem = _lock(postmortem)
    _check_move(
        postmortem, from_status=PostmortemStatus.IN_REVIEW, to_status=PostmortemStatus.DRAFT
    )
    postmortem.status = PostmortemStatus.DRAFT
    postmortem.submitted_at = None
    _save(postmortem, by=by, at=at, update_fields=["status", "submitted_at"])
    return postmortem


@transaction.atomic
def postmortem_record_review_meeting(
    *, postmortem: Postmortem, by, held_at: datetime, at: datetime | None = None
) -> Postmortem:
    """Record when the review meeting was held (it meets the review deadline). Only while in
    review; recording again corrects the moment. Refused in the future or before resolution."""
    at = _now(at)
    postmortem = _lock(postmortem)
    if postmortem.status == PostmortemStatus.PUBLISHED:
        raise ValidationError(PUBLISHED_IS_FINAL)
    if postmortem.status != PostmortemStatus.IN_REVIEW:
        raise ValidationError(
            {
                "held_at": "The review meeting is recorded once the draft is in review "
                f"(this post-mortem is {_label(postmortem.status)})."
            }
        )
    if held_at > at:
        raise ValidationError({"held_at": MEETING_IN_FUTURE})
    resolved_at = postmortem.incident.resolved_at or postmortem.deadlines_from
    if held_at < resolved_at:
        raise ValidationError({"held_at": MEETING_BEFORE_RESOLUTION})
    if postmortem.draft_started_at is not None and held_at < postmortem.draft_started_at:
        moment = postmortem.draft_started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise ValidationError({"held_at": MEETING_BEFORE_DRAFT.format(moment=moment)})
    postmortem.review_meeting_at = held_at
    _save(postmortem, by=by, at=at, update_fields=["review_meeting_at"])
    return postmortem


def postmortem_publish_blockers(postmortem: Postmortem) -> list[str]:
    """What is missing before ``postmortem`` can be published, in reading order; empty when it
    can be. Reads the prefetched timeline, 5 Whys and action items when present."""
    missing = []
    if postmortem.incident.resolved_at is None:
        # Reopened: what the post-mortem says happened is not over yet.
        missing.append(MISSING_RESOLUTION)
    for name in REQUIRED_SECTIONS:
        if not getattr(postmortem, name).strip():
            label = Postmortem._meta.get_field(name).verbose_name
            missing.append(MISSING_SECTION.format(section=label))
    if not postmortem.timeline_entries.all():
        missing.append(MISSING_TIMELINE)
    whys = sorted(postmortem.five_whys.all(), key=lambda w: w.position)
    if not whys:
        missing.append(MISSING_WHYS)
    missing += [
        MISSING_WHY_ANSWER.format(position=why.position) for why in whys if not why.answer.strip()
    ]
    if postmortem.owner_id is None:
        missing.append(MISSING_OWNER)
    if postmortem.review_meeting_at is None:
        missing.append(MISSING_REVIEW_MEETING)
    for item in sorted(postmortem.action_items.all(), key=lambda i: i.pk):
        if item.owner_id is None:
            missing.append(MISSING_ITEM_OWNER.format(title=item.title))
        if item.due_date is None:
            missing.append(MISSING_ITEM_DUE.format(title=item.title))
    return missing


@transaction.atomic
def postmortem_publish(*, postmortem: Postmortem, by, at: datetime | None = None) -> Postmortem:
    """In review → published, once nothing is missing (``postmortem_publish_blockers``: the
    required sections, a timeline, answered 5 Whys, an owner, the review meeting, and an owner
    and due date on every action item). The refusal names everything missing at once. Stamps
    ``published_at`` and writes a ``postmortem`` event on the incident's timeline."""
    at = _now(at)
    postmortem = _lock(postmortem)
    _check_move(
        postmortem, from_status=PostmortemStatus.IN_REVIEW, to_status=PostmortemStatus.PUBLISHED
    )
    missing = postmortem_publish_blockers(postmortem)
    if missing:
        raise ValidationError(PUBLISH_BLOCKED.format(missing="; ".join(missing)))
    postmortem.status = PostmortemStatus.PUBLISHED
    postmortem.published_at = at
    postmortem.resolved_at_publishing = postmortem.incident.resolved_at
    _save(
        postmortem, by=by, at=at, update_fields=["status", "published_at", "resolved_at_publishing"]
    )
    timeline_event_record(
        incident=postmortem.incident,
        kind=TimelineEventKind.POSTMORTEM,
        message=f"Post-mortem published by {_who(by)}",
        at=at,
        author=by,
        payload={"action": "published", "postmortem": postmortem.pk},
    )
    return postmortem


# --- People ------------------------------------------------------------------------------------


@transaction.atomic
def postmortem_assign(
    *, postmortem: Postmortem, owner, by, at: datetime | None = None
) -> Postmortem:
    """Make ``owner`` the post-mortem's owner (author). Clearing the owner is only possible
    while it is scheduled; nothing changes once it is published."""
    at = _now(at)
    postmortem = _lock(postmortem)
    if postmortem.status == PostmortemStatus.PUBLISHED:
        raise ValidationError(PUBLISHED_IS_FINAL)
    if owner is None and postmortem.status != PostmortemStatus.SCHEDULED:
        raise ValidationError({"owner": OWNER_REQUIRED})
    _check_writer(owner)
    if postmortem.owner_id != (owner.pk if owner else None):
        postmortem.owner = owner
        _save(postmortem, by=by, at=at, update_fields=["owner"])
    return postmortem


@transaction.atomic
def postmortem_set_reviewers(*, postmortem: Postmortem, reviewers: Iterable, by) -> Postmortem:
    """Set who reviews the post-mortem (replaces the list). Refused once published. The
    reviewers are not part of the history (django-simple-history keeps fields, not this
    many-to-many)."""
    postmortem = _lock(postmortem)
    if postmortem.status == PostmortemStatus.PUBLISHED:
        raise ValidationError(PUBLISHED_IS_FINAL)
    reviewers = list(reviewers)
    for reviewer in reviewers:
        _check_writer(reviewer)
    postmortem.reviewers.set(reviewers)
    return postmortem


# --- The written sections, the timeline copy and the 5 Whys ----------------------------------


def _check_editable(postmortem: Postmortem) -> None:
    if postmortem.status == PostmortemStatus.PUBLISHED:
        raise ValidationError(PUBLISHED_IS_FINAL)
    if postmortem.status not in EDITABLE_STATUSES:
        raise ValidationError(START_DRAFT_FIRST)


def _same_text(a: str | None, b: str | None) -> bool:
    """Equal as a reader sees them: browsers send a textarea's line breaks as CRLF."""
    return (a or "").replace("\r\n", "\n").strip() == (b or "").replace("\r\n", "\n").strip()


@transaction.atomic
def postmortem_update_sections(
    *,
    postmortem: Postmortem,
    by,
    at: datetime | None = None,
    expected: dict[str, str] | None = None,
    **sections: str,
) -> Postmortem:
    """Write any of the sections (``SECTION_FIELDS``) while in draft or in review. Text is
    stripped; only the sections that really change are saved (and recorded in the history).

    ``expected``: per section, the text the writer started from (what their page showed).
    A section someone else changed since is not saved: two writers never overwrite each
    other; the second is told, with the text that stands now, to merge by hand. Nothing is
    saved when one section is refused."""
    at = _now(at)
    unknown = set(sections) - set(SECTION_FIELDS)
    if unknown:
        raise ValidationError(UNKNOWN_SECTIONS.format(names=", ".join(sorted(unknown))))
    postmortem = _lock(postmortem)
    _check_editable(postmortem)
    conflicts = {
        name: SECTION_CHANGED_SINCE.format(current=getattr(postmortem, name) or "(empty)")
        for name, value in sections.items()
        if expected is not None
        and name in expected
        and not _same_text(getattr(postmortem, name), expected[name])
        and not _same_text(getattr(postmortem, name), value)
    }
    if conflicts:
        raise ValidationError(conflicts)
    changed = []
    for name, value in sections.items():
        value = (value or "").strip()
        if getattr(postmortem, name) != value:
            setattr(postmortem, name, value)
            changed.append(name)
    if changed:
        _save(postmortem, by=by, at=at, update_fields=changed)
    return postmortem


SECTION_CHANGED_SINCE = (
    "Someone else changed this section since you opened the page; yours was not saved. It "
    "now reads: “{current}”. Copy your text, reload the page and merge the two."
)


def _clean_entry(*, text: str, occurred_at: datetime, phase: str, at: datetime) -> str:
    text = (text or "").strip()
    errors = {}
    if not text:
        errors["text"] = ENTRY_TEXT_REQUIRED
    if occurred_at > at:
        errors["occurred_at"] = ENTRY_IN_FUTURE
    elif occurred_at < EARLIEST_ENTRY:
        errors["occurred_at"] = ENTRY_TOO_EARLY
    if phase not in TimelinePhase.values:
        errors["phase"] = UNKNOWN_PHASE
    if errors:
        raise ValidationError(errors)
    return text


@transaction.atomic
def timeline_entry_add(
    *,
    postmortem: Postmortem,
    by,
    occurred_at: datetime,
    text: str,
    phase: str | None = None,
    at: datetime | None = None,
) -> PostmortemTimelineEntry:
    """Add a line to the post-mortem's timeline (never to the incident's). The phase defaults to
    the one the moment falls in (``phase_for``)."""
    at = _now(at)
    postmortem = _lock(postmortem)
    _check_editable(postmortem)
    phase = phase or phase_for(postmortem.incident, occurred_at)
    text = _clean_entry(text=text, occurred_at=occurred_at, phase=phase, at=at)
    return PostmortemTimelineEntry.objects.create(
        postmortem=postmortem, occurred_at=occurred_at, phase=phase, text=text
    )


@transaction.atomic
def timeline_entry_update(
    *,
    entry: PostmortemTimelineEntry,
    by,
    occurred_at: datetime | None = None,
    text: str | None = None,
    phase: str | None = None,
    at: datetime | None = None,
) -> PostmortemTimelineEntry:
    """Correct a line of the post-mortem's timeline: its moment, text or phase. A line moved
    to another moment without a phase given gets the phase its new moment falls in. The
    incident event it may have been copied from is untouched."""
    at = _now(at)
    postmortem = _lock(entry.postmortem)
    _check_editable(postmortem)
    entry = PostmortemTimelineEntry.objects.select_for_update().get(pk=entry.pk)
    new_moment = occurred_at if occurred_at is not None else entry.occurred_at
    if phase is not None:
        new_phase = phase
    elif new_moment != entry.occurred_at:
        new_phase = phase_for(postmortem.incident, new_moment)
    else:
        new_phase = entry.phase
    new_text = text if text is not None else entry.text
    new_text = _clean_entry(text=new_text, occurred_at=new_moment, phase=new_phase, at=at)
    entry.occurred_at, entry.phase, entry.text = new_moment, new_phase, new_text
    entry.save(update_fields=["occurred_at", "phase", "text"])
    return entry


@transaction.atomic
def timeline_entry_remove(*, entry: PostmortemTimelineEntry, by) -> None:
    """Remove a line from the post-mortem's timeline (the incident's timeline keeps its event)."""
    postmortem = _lock(entry.postmortem)
    _check_editable(postmortem)
    PostmortemTimelineEntry.objects.filter(pk=entry.pk, postmortem=postmortem).delete()


def _renumber(postmortem: Postmortem, ids_in_order: Sequence[int]) -> None:
    """Give the 5 Whys positions 1..n in ``ids_in_order``. PostgreSQL checks the unique
    (post-mortem, position) constraint row by row, so rows first move above every position in
    use, then into place: no two rows ever share a position."""
    whys = {why.pk: why for why in FiveWhy.objects.filter(postmortem=postmortem)}
    if not whys:
        return
    offset = max(max(w.position for w in whys.values()), len(ids_in_order)) + 1
    ordered = [whys[pk] for pk in ids_in_order]
    for index, why in enumerate(ordered):
        why.position = offset + index
    FiveWhy.objects.bulk_update(ordered, ["position"])
    for index, why in enumerate(ordered, start=1):
        why.position = index
    FiveWhy.objects.bulk_update(ordered, ["position"])


@transaction.atomic
def five_why_add(*, postmortem: Postmortem, by, question: str, answer: str = "") -> FiveWhy:
    """Append a why (question, and its answer when known) after the last one. The post-mortem
    row is locked, so two authors adding at once get consecutive positions."""
    postmortem = _lock(postmortem)
    _check_editable(postmortem)
    question = (question or "").strip()
    if not question:
        raise ValidationError({"question": QUESTION_REQUIRED})
    last = FiveWhy.objects.filter(postmortem=postmortem).order_by("-position").first()
    return FiveWhy.objects.create(
        postmortem=postmortem,
        position=(last.position + 1) if last else 1,
        question=question,
        answer=(answer or "").strip(),
    )


@transaction.atomic
def five_why_update(
    *, why: FiveWhy, by, question: str | None = None, answer: str | None = None
) -> FiveWhy:
    """Change a why's question and/or answer."""
    postmortem = _lock(why.postmortem)
    _check_editable(postmortem)
    why = FiveWhy.objects.select_for_update().get(pk=why.pk)
    if question is not None:
        question = question.strip()
        if not question:
            raise ValidationError({"question": QUESTION_REQUIRED})
        why.question = question
    if answer is not None:
        why.answer = answer.strip()
    why.save(update_fields=["question", "answer"])
    return why


@transaction.atomic
def five_why_remove(*, why: FiveWhy, by) -> None:
    """Remove a why; the ones after it move up so positions stay 1..n."""
    postmortem = _lock(why.postmortem)
    _check_editable(postmortem)
    FiveWhy.objects.filter(pk=why.pk, postmortem=postmortem).delete()
    remaining = FiveWhy.objects.filter(postmortem=postmortem).order_by("position")
    _renumber(postmortem, list(remaining.values_list("pk", flat=True)))


@transaction.atomic
def five_whys_reorder(*, postmortem: Postmortem, by, order: Sequence[int]) -> list[FiveWhy]:
    """Put the 5 Whys in ``order`` (their ids, first to last); every one exactly once."""
    postmortem = _lock(postmortem)
    _check_editable(postmortem)
    existing = set(FiveWhy.objects.filter(postmortem=postmortem).values_list("pk", flat=True))
    order = [int(pk) for pk in order]
    if len(order) != len(set(order)) or set(order) != existing:
        raise ValidationError(REORDER_MISMATCH)
    _renumber(postmortem, order)
    return list(FiveWhy.objects.filter(postmortem=postmortem).order_by("position"))


# --- Action items -----------------------------------------------------------------------------


def _clean_item_values(values: dict, *, published: bool) -> dict:
    errors = {}
    if "title" in values:
        values["title"] = (values["title"] or "").strip()
        if not values["title"]:
            errors["title"] = ITEM_TITLE_REQUIRED
    if "description" in values:
        values["description"] = (values["description"] or "").strip()
    if "kind" in values and values["kind"] not in ActionItemKind.values:
        errors["kind"] = UNKNOWN_KIND
    if "priority" in values and values["priority"] not in ActionItemPriority.values:
        errors["priority"] = UNKNOWN_PRIORITY
    if values.get("tracker_url"):
        values["tracker_url"] = values["tracker_url"].strip()
        try:
            URLValidator(schemes=["http", "https"])(values["tracker_url"])
        except ValidationError:
            errors["tracker_url"] = INVALID_TRACKER_URL
    elif "tracker_url" in values:
        values["tracker_url"] = ""
    if validators.too_early(values.get("due_date")):
        errors["due_date"] = validators.TOO_EARLY.format(what="A due date")
    owner = values.get("owner")
    if owner is not None and not owner.is_active:
        errors["owner"] = INACTIVE_USER.format(user=_who(owner))
    elif owner is not None and not responders().filter(pk=owner.pk).exists():
        errors["owner"] = NOT_A_RESPONDER.format(user=_who(owner))
    if published:
        for name in ("owner", "due_date"):
            if name in values and values[name] is None:
                errors[name] = PUBLISHED_ITEM_NEEDS
    if errors:
        raise ValidationError(errors)
    return values


@transaction.atomic
def action_item_add(
    *,
    postmortem: Postmortem,
    by,
    title: str,
    description: str = "",
    owner=None,
    due_date: date | None = None,
    kind: str = ActionItemKind.PREVENT,
    priority: str = ActionItemPriority.P3,
    tracker_url: str = "",
    at: datetime | None = None,
) -> ActionItem:
    """Add an action item, at any stage (follow-ups found after publishing are tracked too).
    Owner and due date may wait until publishing, except on a published post-mortem, where
    every item must have both from the start."""
    at = _now(at)
    postmortem = _lock(postmortem)
    published = postmortem.status == PostmortemStatus.PUBLISHED
    values = _clean_item_values(
        {
            "title": title,
            "description": description,
            "owner": owner,
            "due_date": due_date,
            "kind": kind,
            "priority": priority,
            "tracker_url": tracker_url,
        },
        published=published,
    )
    item = ActionItem(postmortem=postmortem, created_at=at, **values)
    if item.owner_id is not None:
        # Given to its owner now: as for an item handed over, their manager hears of it being
        # overdue only once the grace period has passed for them too (a due date typed in the
        # past must not reach the manager at the next sweep).
        item.owner_since = item.chase_from = at
    _save(item, by=by, at=at)
    return item


def _lock_item(item: ActionItem) -> tuple[ActionItem, Postmortem]:
    postmortem = _lock(item.postmortem)
    return ActionItem.objects.select_for_update().get(pk=item.pk), postmortem


@transaction.atomic
def action_item_update(
    *, item: ActionItem, by, at: datetime | None = None, **changes
) -> ActionItem:
    """Change an item's title, description, owner, due date, kind, priority or tracker link
    (``ITEM_FIELDS``; its status moves through ``action_item_set_status``). Only fields that
    really change are saved and recorded in the history. An item of a published post-mortem
    cannot lose its owner or due date."""
    at = _now(at)
    unknown = set(changes) - set(ITEM_FIELDS)
    if unknown:
        raise ValidationError(UNKNOWN_ITEM_FIELDS.format(names=", ".join(sorted(unknown))))
    item, postmortem = _lock_item(item)
    values = _clean_item_values(dict(changes), published=postmortem.is_published)
    changed = []
    for name, value in values.items():
        if getattr(item, name) != value:
            setattr(item, name, value)
            changed.append(name)
    if {"owner", "due_date"} & set(changed):
        item.chase_from = at  # a new owner, or a new date, is reminded even if long overdue
        changed.append("chase_from")
    if "owner" in changed:
        item.owner_since = at
        changed.append("owner_since")
    if changed:
        _save(item, by=by, at=at, update_fields=changed)
    return item


@transaction.atomic
def action_item_set_status(
    *, item: ActionItem, status: str, by, at: datetime | None = None
) -> ActionItem:
    """Move an item between open, in progress, done and won't do (``ITEM_MOVES``).

    Moving to done stamps who completed it and when; leaving done or won't do (reopening)
    clears that stamp, while the history keeps every earlier state with who and when.
    """
    at = _now(at)
    if status not in ActionItemStatus.values:
        raise ValidationError({"status": UNKNOWN_ITEM_STATUS})
    item, _ = _lock_item(item)
    if item.status == status:
        raise ValidationError(
            {"status": ITEM_SAME_STATUS.format(status=ActionItemStatus(status).label.lower())}
        )
    if status not in ITEM_MOVES[item.status]:
        raise ValidationError(
            {
                "status": ITEM_INVALID_MOVE.format(
                    from_status=ActionItemStatus(item.status).label.lower(),
                    to_status=ActionItemStatus(status).label.lower(),
                )
            }
        )
    reopened = item.status in CLOSED_ITEM_STATUSES and status not in CLOSED_ITEM_STATUSES
    item.status = status
    if status == ActionItemStatus.DONE:
        item.completed_at, item.completed_by = at, by
    else:
        item.completed_at, item.completed_by = None, None
    fields = ["status", "completed_at", "completed_by"]
    if reopened:  # the fix did not hold: chased again, however long ago it was due
        item.chase_from = at
        fields.append("chase_from")
    _save(item, by=by, at=at, update_fields=fields)
    return item


def action_item_complete(*, item: ActionItem, by, at: datetime | None = None) -> ActionItem:
    """Mark an open or in-progress item done, stamping ``completed_by`` and ``completed_at``."""
    return action_item_set_status(item=item, status=ActionItemStatus.DONE, by=by, at=at)


@transaction.atomic
def action_item_reopen(*, item: ActionItem, by, at: datetime | None = None) -> ActionItem:
    """Reopen a done or won't-do item: it is open again and its completion stamp is cleared;
    the history keeps who completed it and when."""
    item, _ = _lock_item(item)
    if item.status in (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS):
        raise ValidationError(
            {"status": ITEM_SAME_STATUS.format(status=ActionItemStatus(item.status).label.lower())}
        )
    return action_item_set_status(item=item, status=ActionItemStatus.OPEN, by=by, at=at)


@transaction.atomic
def action_items_reassign(
    *, items: Iterable[ActionItem], owner, by, at: datetime | None = None
) -> int:
    """Give every item in ``items`` to ``owner`` (an active user). Rows are locked in id order
    (no deadlock with another bulk change); each change is recorded in that item's history.
    Items the owner already has are left alone. Returns how many changed."""
    at = _now(at)
    if owner is None:
        raise ValidationError({"owner": REASSIGN_NEEDS_OWNER})
    _check_user(owner)
    if not responders().filter(pk=owner.pk).exists():
        raise ValidationError({"owner": NOT_A_RESPONDER.format(user=_who(owner))})
    ids = [item.pk for item in items]
    changed = 0
    for item in ActionItem.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
        if item.owner_id == owner.pk:
            continue
        item.owner = owner
        item.chase_from = item.owner_since = at
        _save(item, by=by, at=at, update_fields=["owner", "chase_from", "owner_since"])
        changed += 1
    return changed


# --- Policy -----------------------------------------------------------------------------------


@transaction.atomic
def postmortem_policy_update(
    *,
    by,
    draft_within,
    review_within,
    publish_within,
    remind_before=None,
    item_due_soon_days: int | None = None,
    item_grace_days: int | None = None,
    at: datetime | None = None,
) -> PostmortemPolicy:
    """Change the deadlines for post-mortems scheduled from now on (scheduled ones keep
    theirs). Each must be positive and they must come in order draft ≤ review ≤ publish.
    The reminder lead time and the action-item reminder days apply from the next sweep."""
    at = _now(at)
    if min(draft_within, review_within, publish_within).total_seconds() <= 0:
        raise ValidationError(POLICY_NOT_POSITIVE)
    if not draft_within <= review_within <= publish_within:
        raise ValidationError(POLICY_OUT_OF_ORDER)
    if publish_within > POLICY_LONGEST or (
        remind_before is not None and remind_before > POLICY_LONGEST
    ):
        raise ValidationError(POLICY_TOO_LONG)
    policy = PostmortemPolicy.objects.select_for_update().filter(pk=POLICY_PK).first()
    policy = policy or PostmortemPolicy(pk=POLICY_PK)
    policy.draft_within = draft_within
    policy.review_within = review_within
    policy.publish_within = publish_within
    if remind_before is not None:
        if remind_before.total_seconds() < 0:
            raise ValidationError(POLICY_NOT_POSITIVE)
        policy.remind_before = remind_before
    if item_due_soon_days is not None:
        policy.item_due_soon_days = item_due_soon_days
    if item_grace_days is not None:
        policy.item_grace_days = item_grace_days
    _save(policy, by=by, at=at)
    return policy
