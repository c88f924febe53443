"""Post-mortem deadline and action-item reminders (run by Celery beat, see ``tasks.py``).

Each sweep finds its work in a fixed number of queries and records notifications under keys
that make a second run a no-op. Action items are chased until done or won't-do, whatever
happened to their incident.
"""

import zoneinfo
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from incidents.events import timeline_events_record_once
from incidents.models import (
    IncidentRole,
    Profile,
    RoleAssignment,
    TimelineEvent,
    TimelineEventKind,
)
from incidents.notifications import Message, notify
from postmortems.models import ActionItem, ActionItemStatus, Postmortem, Stage
from postmortems.models.action_item import OPEN_ITEM_STATUSES
from postmortems.models.postmortem import STAGE_DUE_FIELD, STAGE_MET_FIELD
from postmortems.selectors import (
    due_day_end,
    format_moment,
    overdue_before,
    postmortem_policy,
    postmortems_due,
    project_zone,
)

User = get_user_model()

# A missed deadline is noticed when it passes (the sweep runs every few minutes); one missed
# longer ago than this is history, as a page is after oncall.reminders.ESCALATION_WINDOW.
NOTICE_WINDOW = timedelta(days=7)
STAGE_WORDS = {
    Stage.DRAFT: "draft it (submit the draft for review)",
    Stage.REVIEW: "hold the review meeting",
    Stage.PUBLISH: "publish it",
}
MY_ACTION_ITEMS = "/action-items/"


def postmortem_link(postmortem) -> str:
    return f"/postmortems/{postmortem.pk}/"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hours" if hours != 1 else "1 hour"


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


@transaction.atomic
def sweep_postmortem_deadlines(*, now: datetime) -> int:
    """For each deadline (draft, review, publish) not met: a reminder to the owner from
    ``remind_before`` ahead until the moment itself, and after it an overdue notice to the
    owner and the incident's engineering manager (the incident role, else the team's). Once per
    post-mortem, stage and due moment; nothing once the stage is reached. Written to the
    incident's timeline. Deadlines missed more than ``NOTICE_WINDOW`` ago are not noticed again
    (they were, when they passed; the admin and the dashboard flag them), so a run reads the
    recent deadlines only, not every overdue post-mortem there has ever been. Returns how many
    notifications this run recorded."""
    policy = postmortem_policy()
    candidates = []
    for stage in Stage.values:
        due = postmortems_due(
            stage=stage, now=now, within=policy.remind_before, since=now - NOTICE_WINDOW
        )
        for postmortem in due:
            candidates.append((stage, postmortem))
    if not candidates:
        return 0
    incident_ids = {pm.incident_id for _, pm in candidates}
    role_managers = dict(
        RoleAssignment.objects.filter(
            incident_id__in=incident_ids,
            role=IncidentRole.ENGINEERING_MANAGER,
            relieved_at__isnull=True,
        ).values_list("incident_id", "user_id")
    )
    wanted = set(role_managers.values())
    for _, pm in candidates:
        if pm.incident.team_id:
            wanted.add(pm.incident.team.engineering_manager_id)
    # Someone whose account is switched off is told nothing: the role's manager passes it
    # to the team's, and a departed owner's reminder goes to the manager.
    users = {
        pk: user
        for pk, user in User.objects.in_bulk([pk for pk in wanted if pk]).items()
        if user.is_active
    }
    zone = project_zone()
    # Each person reads the deadline in their own zone, as on the post-mortem's page.
    owner_ids = {pm.owner_id for _, pm in candidates if pm.owner_id}
    zones = {
        user_id: zoneinfo.ZoneInfo(name)
        for user_id, name in Profile.objects.filter(user_id__in=owner_ids | set(users)).values_list(
            "user_id", "time_zone"
        )
        if name
    }

    def when_for(person) -> str:
        return format_moment(due, zones.get(person.pk, zone))

    messages, events = [], []
    for stage, pm in candidates:
        due = getattr(pm, STAGE_DUE_FIELD[stage])
        incident = pm.incident
        what = f"the post-mortem of {incident.reference} {incident.title}"
        when = format_moment(due, zone)
        manager = users.get(role_managers.get(incident.pk)) or (
            users.get(incident.team.engineering_manager_id) if incident.team_id else None
        )
        owner = pm.owner if pm.owner is not None and pm.owner.is_active else None
        payload = {
            "postmortem": pm.pk,
            "stage": stage,
            "due": due.isoformat(),
            "owner": pm.owner_id,
        }
        if pm.is_overdue:
            key = f"pm-overdue:{pm.pk}:{stage}:{_stamp(due)}"
            people = {p.pk: p for p in (owner, manager) if p is not None}
            for person in people.values():
                their_when = when_for(person)
                messages.append(
                    Message(
                        key=f"{key}:{person.pk}",
                        kind="postmortem_overdue",
                        subject=f"Overdue: {what} ({stage} deadline {their_when})",
                        body=(
                            f"The {stage} deadline of {what} passed at {their_when}: "
                            f"{STAGE_WORDS[stage]}. The policy asks for a draft within "
                            f"{_hours(policy.draft_within)}, the review within "
                            f"{_hours(policy.review_within)} and publication within "
                            f"{_hours(policy.publish_within)} of resolution."
                        ),
                        recipient=person,
                        incident=incident,
                        link=postmortem_link(pm),
                        payload=payload,
                    )
                )
            label = f"Reminder: post-mortem {stage} deadline missed"
        else:
            person = owner or manager
            # The timeline says it once per deadline; the message is also for whom (a
            # post-mortem handed to someone else reminds its new owner).
            key = f"pm-due-soon:{pm.pk}:{stage}:{_stamp(due)}"
            if person is not None:
                messages.append(
                    Message(
                        key=f"{key}:{person.pk}",
                        kind="postmortem_due_soon",
                        subject=f"Due {when_for(person)}: {what} ({stage})",
                        body=(
                            f"The {stage} deadline of {what} is {when_for(person)}: "
                            f"{STAGE_WORDS[stage]}."
                        ),
                        recipient=person,
                        incident=incident,
                        link=postmortem_link(pm),
                        payload=payload,
                    )
                )
            label = f"Reminder: post-mortem {stage} deadline {when}"
        events.append(
            TimelineEvent(
                incident=incident,
                kind=TimelineEventKind.REMINDER,
                occurred_at=now,
                message=label,
                payload={"reminder": key.split(":")[0], "stage": stage},
                dedup_key=key,
            )
        )
    recorded = notify(messages, now=now)
    timeline_events_record_once(events)
    return len(recorded)


def _open_items_with_owner():
    return ActionItem.objects.filter(
        status__in=OPEN_ITEM_STATUSES, owner__isnull=False, due_date__isnull=False
    ).select_related("owner__profile__team__engineering_manager", "postmortem__incident")


def _due_by(item: ActionItem, profile) -> str:
    """When the due day ends, as the owner's clock shows it: a day is due by the midnight
    that ends it in the project's zone, which is the afternoon before for an owner west of
    it (said, so nobody reads "due on the 9th" as their own 9th)."""
    mine = profile.zone if profile is not None else project_zone()
    return f"by {due_day_end(item.due_date).astimezone(mine):%a %d %b %H:%M %Z} your time"


@transaction.atomic
def sweep_action_items(*, now: datetime) -> int:
    """Open action items: a reminder to the owner when the due date is near (the policy's
    days), an overdue reminder once it has passed, and an escalation to the owner's manager
    once it is overdue by more than the grace period. Once per item, due date and owner
    (moving the due date starts over; a new owner hears of it too); items whose escalation
    day is more than ``NOTICE_WINDOW`` past are history. Two queries plus the recording."""
    policy = postmortem_policy()
    today = now.astimezone(project_zone()).date()
    overdue_from = overdue_before(now)  # due strictly before this: overdue
    soon_until = today + timedelta(days=policy.item_due_soon_days)
    # The last notice an item gets is its escalation, the day after the grace period; items
    # due longer ago than that and ``NOTICE_WINDOW`` were noticed when it was time.
    history_before = today - timedelta(days=policy.item_grace_days + 1) - NOTICE_WINDOW
    # A new owner's grace runs from when it became theirs: chased items stay in view as long.
    chased_since = now - timedelta(days=policy.item_grace_days + 1) - NOTICE_WINDOW
    items = (
        _open_items_with_owner()
        .filter(
            Q(due_date__gte=history_before) | Q(chase_from__gte=chased_since),
            due_date__lte=soon_until,
        )
        .order_by("due_date", "pk")
    )
    messages = []
    for item in items:
        owner = item.owner
        incident = item.postmortem.incident
        base = f"{item.title} (from the post-mortem of {incident.reference})"
        due = item.due_date.isoformat()
        payload = {"action_item": item.pk, "due_date": due}
        # Chased anew (reopened, given to someone, a new date): its notices start over.
        chase = f":{_stamp(item.chase_from)}" if item.chase_from else ""
        profile = getattr(owner, "profile", None)
        manager = profile.team.engineering_manager if profile and profile.team else None
        if manager is not None and not manager.is_active:
            manager = None
        if not owner.is_active:
            # The owner left: nobody is reminded; once it is overdue, their manager is told
            # at once, as nobody is working on it.
            if item.due_date < overdue_from and manager is not None:
                messages.append(
                    _escalation(item, base=base, manager=manager, today=today, chase=chase)
                )
            continue
        by = _due_by(item, profile)
        if item.due_date >= overdue_from:
            messages.append(
                Message(
                    key=f"ai-due-soon:{item.pk}:{due}:{owner.pk}{chase}",
                    kind="action_item_due_soon",
                    subject=f"Action item due {due}: {item.title}",
                    body=f"Your action item {base} is due on {due} ({by}).",
                    recipient=owner,
                    incident=incident,
                    link=MY_ACTION_ITEMS,
                    payload=payload,
                )
            )
            continue
        messages.append(
            Message(
                key=f"ai-overdue:{item.pk}:{due}:{owner.pk}{chase}",
                kind="action_item_overdue",
                subject=f"Overdue action item: {item.title}",
                body=f"Your action item {base} was due on {due} ({by}). Finish it, or update its "
                "status or due date.",
                recipient=owner,
                incident=incident,
                link=MY_ACTION_ITEMS,
                payload=payload,
            )
        )
        grace_from = item.due_date
        if item.owner_since is not None:
            grace_from = max(grace_from, item.owner_since.astimezone(project_zone()).date())
        # Whole days overdue by the overdue rule's own clock: at the midnight that ends the
        # grace period the item has been overdue for exactly that long, one second later longer.
        days_late = (overdue_from - grace_from).days
        if days_late > policy.item_grace_days and manager is not None and manager != owner:
            messages.append(
                _escalation(
                    item,
                    base=base,
                    manager=manager,
                    today=today,
                    chase=chase,
                    why=f"after the {policy.item_grace_days}-day grace period",
                )
            )
    return len(notify(messages, now=now))


def _escalation(
    item: ActionItem, *, base: str, manager, today, chase: str, why: str = ""
) -> Message:
    """The escalation of an overdue action item to its owner's manager (once per item, due
    date and chase)."""
    owner = item.owner
    due = item.due_date.isoformat()
    days_late = (today - item.due_date).days
    why = why or f"and {_name(owner)}'s account is switched off"
    return Message(
        key=f"ai-escalation:{item.pk}:{due}{chase}",
        kind="action_item_escalation",
        subject=f"Escalation: {_name(owner)}'s action item is {days_late} days late",
        body=(
            f"{_name(owner)}'s action item {base} was due on {due} and is still "
            f"{item.get_status_display().lower()} {why}."
        ),
        recipient=manager,
        incident=item.postmortem.incident,
        link=postmortem_link(item.postmortem),
        payload={"action_item": item.pk, "due_date": due},
    )


@transaction.atomic
def send_action_item_digests(*, now: datetime) -> int:
    """A weekly digest per owner of all their open action items, unless they muted it (the
    reminders and escalations above cannot be muted). Once per owner and ISO week."""
    # The week by the clock beat's schedule runs on (UTC): read in a zone west of UTC, the
    # first Monday after the clocks go back would fall in the week before and be skipped.
    year, week, _ = now.astimezone(UTC).isocalendar()
    overdue_from = overdue_before(now)
    # Each owner's whole open list: read as values (tens of thousands of items at a large
    # company), the owners as users afterwards. Muted owners are left out by the query; an
    # owner without a profile has not muted it.
    by_owner: dict[int, list[tuple]] = defaultdict(list)
    for pk, owner_id, title, due_date, status, reference in (
        ActionItem.objects.filter(
            status__in=OPEN_ITEM_STATUSES, owner__isnull=False, owner__is_active=True
        )
        .exclude(owner__profile__mute_digest=True)
        .order_by("due_date", "pk")
        .values_list(
            "pk", "owner_id", "title", "due_date", "status", "postmortem__incident__reference"
        )
    ):
        by_owner[owner_id].append((pk, title, due_date, status, reference))
    owners = User.objects.in_bulk(list(by_owner))
    messages = []
    for owner_id, items in by_owner.items():
        lines = []
        overdue = 0
        for _pk, title, due_date, status, reference in items:
            due = due_date.isoformat() if due_date else "no due date"
            late = due_date is not None and due_date < overdue_from
            overdue += late
            lines.append(
                f"- {title}: due {due}{' (OVERDUE)' if late else ''}, "
                f"{ActionItemStatus(status).label.lower()}, {reference}"
            )
        messages.append(
            Message(
                key=f"ai-digest:{owner_id}:{year}-W{week:02d}",
                kind="action_item_digest",
                subject=f"Your open action items: {len(items)} ({overdue} overdue)",
                body="Your open action items this week:\n\n" + "\n".join(lines),
                recipient=owners[owner_id],
                link=MY_ACTION_ITEMS,
                payload={"items": [item[0] for item in items]},
            )
        )
    return len(notify(messages, now=now))


# --- Before sending: does a reminder still apply? ---------------------------------------------


def postmortem_reminder_applies(notification) -> str | None:
    """A deadline reminder or overdue notice applies until its stage is reached."""
    stage = notification.payload.get("stage")
    if stage not in STAGE_MET_FIELD:
        return None
    met = (
        Postmortem.objects.filter(pk=notification.payload.get("postmortem"))
        .values_list(STAGE_MET_FIELD[stage], flat=True)
        .first()
    )
    if met is not None:
        return f"the {Stage(stage).label.lower()} stage was reached"
    postmortem = (
        Postmortem.objects.filter(pk=notification.payload.get("postmortem"))
        .select_related("incident")
        .first()
    )
    if postmortem is None:
        return "the post-mortem was deleted"
    if postmortem.incident.resolved_at is None:
        return f"{postmortem.incident.reference} was reopened"
    due = getattr(postmortem, STAGE_DUE_FIELD[stage])
    sent_for = notification.payload.get("due")
    if sent_for and (due is None or due.isoformat() != sent_for):
        return "its deadline was recounted"
    owner_then = notification.payload.get("owner")
    if (
        owner_then is not None
        and notification.recipient_id == owner_then
        and postmortem.owner_id != owner_then
    ):
        return "the post-mortem has another owner now"
    return None


def action_item_reminder_applies(notification) -> str | None:
    """An action item's reminder applies while the item is open, due on the day it named, and
    (a reminder to its owner) still theirs."""
    row = (
        ActionItem.objects.filter(pk=notification.payload.get("action_item"))
        .values_list("status", "due_date", "owner_id")
        .first()
    )
    if row is None:
        return None
    status, due_date, owner_id = row
    if status not in OPEN_ITEM_STATUSES:
        return f"the action item is {ActionItemStatus(status).label.lower()}"
    named = notification.payload.get("due_date")
    if named and (due_date is None or due_date.isoformat() != named):
        return "its due date changed"
    if (
        notification.kind in ("action_item_due_soon", "action_item_overdue")
        and owner_id != notification.recipient_id
    ):
        return "it has another owner now"
    return None


def register_send_checks() -> None:
    from incidents.notifications import register_still_applies

    for kind in ("postmortem_due_soon", "postmortem_overdue"):
        register_still_applies(kind, postmortem_reminder_applies)
    for kind in ("action_item_due_soon", "action_item_overdue", "action_item_escalation"):
        register_still_applies(kind, action_item_reminder_applies)
