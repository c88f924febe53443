"""Reminder and escalation sweeps for open incidents (run by Celery beat, see ``tasks.py``).

Each sweep finds its work in a fixed number of queries, decides which reminders are due at
``now``, and records them through ``incidents.notifications.notify`` under keys that make a
second run a no-op. Reminders and escalations are also written to the incident's timeline,
once, under the same key.
"""

from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, Max, Min, OuterRef, Subquery

from incidents.events import timeline_events_record_once
from incidents.models import (
    EscalationLevel,
    Incident,
    IncidentRole,
    RoleAssignment,
    TimelineEvent,
    TimelineEventKind,
)
from incidents.models.incident import OPEN_STATUSES
from incidents.notifications import Message, notify, team_webhook_message

User = get_user_model()


def incident_link(incident: Incident) -> str:
    return f"/incidents/{incident.pk}/"


def _holder(role: str) -> Subquery:
    return Subquery(
        RoleAssignment.objects.filter(
            incident=OuterRef("pk"), role=role, relieved_at__isnull=True
        ).values("user_id")[:1]
    )


STATUS_UPDATE_KEY = "status-update-overdue:"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def status_update_reminders_due(*, now: datetime) -> list[tuple[Incident, int, datetime]]:
    """Open incidents whose last status update (or declaration) is at least one cadence old:
    ``(incident, interval number, moment it became due)``. Two queries."""
    incidents = (
        Incident.objects.filter(status__in=OPEN_STATUSES)
        .select_related("severity", "team")
        .annotate(
            last_update_at=Max("updates__posted_at"),
            communications_lead_id=_holder(IncidentRole.COMMUNICATIONS_LEAD),
            commander_id=_holder(IncidentRole.COMMANDER),
            imported=_imported(),
            severity_changed_at=Subquery(
                TimelineEvent.objects.filter(
                    incident=OuterRef("pk"), kind=TimelineEventKind.SEVERITY_CHANGED
                )
                .order_by("-occurred_at")
                .values("occurred_at")[:1]
            ),
        )
        .annotate(
            # The latest status-update reminder before the latest severity change.
            reminded_before_change=Subquery(
                TimelineEvent.objects.filter(
                    incident=OuterRef("pk"),
                    kind=TimelineEventKind.REMINDER,
                    dedup_key__startswith=STATUS_UPDATE_KEY,
                    occurred_at__lt=OuterRef("severity_changed_at"),
                )
                .order_by("-occurred_at")
                .values("occurred_at")[:1]
            ),
        )
    )
    due = []
    for incident in incidents:
        cadence = incident.severity.update_every
        if not cadence or cadence <= timedelta(0):
            continue
        if _history(incident) and incident.last_update_at is None:
            continue  # nobody has worked on it here yet
        since = update_clock_start(incident)
        elapsed = now - since
        if elapsed < cadence:
            continue
        due_at = since + cadence * int(elapsed / cadence)
        changed = incident.severity_changed_at
        if changed is not None and changed - since >= cadence:
            # Already overdue under the cadence a severity change set. Counted from the last
            # update, the next reminder could be one for a moment before the change, minutes
            # after the last one, so the count starts again.
            reminded = incident.reminded_before_change
            if reminded is not None and reminded >= max(since, changed - cadence):
                # Reminded within that cadence before the change: next a cadence after it.
                if now - reminded < cadence:
                    continue
                due_at = reminded + cadence * int((now - reminded) / cadence)
            else:
                # Nobody reminded within it: at once, then every cadence from the change.
                due_at = changed + cadence * int((now - changed) / cadence)
        due.append((incident, int((due_at - since) / cadence), due_at))
    return due


def _imported():
    """Whether an incident came in by the history import (its IMPORTED timeline entry)."""
    return Exists(
        TimelineEvent.objects.filter(incident=OuterRef("pk"), kind=TimelineEventKind.IMPORTED)
    )


def _history(incident: Incident) -> bool:
    """An imported incident nobody has reopened here is history: it left unresolved in the
    old tool, and its deadlines passed there, so no reminder or escalation is due for it (the
    import pages nobody either). Reopened, or once someone posts an update, it is live."""
    return incident.imported and incident.reopened_at is None


def update_clock_start(incident: Incident) -> datetime:
    """When the status-update clock of an open incident (annotated with ``last_update_at``)
    started: its latest update, else its declaration; a reopening restarts it, as the time
    the incident spent resolved asked for no update."""
    since = incident.last_update_at or incident.declared_at
    if incident.reopened_at is not None and incident.reopened_at > since:
        since = incident.reopened_at
    return since


def _last_heard(incident: Incident, since: datetime, now: datetime) -> str:
    minutes = int((now - since).total_seconds() // 60)
    if since == incident.last_update_at:
        return f"the last one was {minutes} minutes ago"
    if since == incident.reopened_at:
        return f"it was reopened {minutes} minutes ago and has had none since"
    return f"it has had none since it was declared {minutes} minutes ago"


@transaction.atomic
def sweep_status_updates(*, now: datetime) -> int:
    """Remind the first reachable of ``_update_chain`` (the communications lead, else the
    commander, ...) that an open incident's status update is overdue, again each further
    interval while it stays overdue. Posting an update resets the clock. Returns how many
    reminders this run recorded."""
    due = status_update_reminders_due(now=now)
    if not due:
        return 0
    wanted = {pk for incident, _, _ in due for pk in _update_chain(incident) if pk}
    users = User.objects.in_bulk(wanted)
    messages, events = [], []
    for incident, interval, due_at in due:
        since = update_clock_start(incident)
        # The first of the chain who can be reached: an account switched off, or one with no
        # address (a monitoring system that declared it), passes it on.
        recipient_id = next(
            (
                pk
                for pk in _update_chain(incident)
                if pk in users and users[pk].is_active and users[pk].email
            ),
            None,
        )
        # Keyed by the moment it fell due, not the interval's number: that number restarts
        # when the severity (and so the cadence) changes, and would match reminders sent
        # under the old cadence.
        key = f"{STATUS_UPDATE_KEY}{incident.pk}:{_stamp(since)}:{_stamp(due_at)}"
        minutes = int(incident.severity.update_every.total_seconds() // 60)
        overdue = now - (since + incident.severity.update_every)
        subject = f"{incident.reference}: status update overdue"
        body = (
            f"{incident.reference} {incident.title} ({incident.severity.name}, "
            f"{incident.get_status_display().lower()}) needs a status update: "
            f"{_last_heard(incident, since, now)}, and "
            f"{incident.severity.name} asks for one every {minutes} minutes "
            f"(overdue by {int(overdue.total_seconds() // 60)} min).\n\n"
            "Post it in the Status / Impact / Action / ETA form."
        )
        base = Message(
            key=key,
            kind="status_update_overdue",
            subject=subject,
            body=body,
            recipient=users.get(recipient_id),
            incident=incident,
            link=incident_link(incident),
            payload={"incident": incident.reference, "interval": interval},
        )
        if base.recipient is not None:
            messages.append(base)
        webhook = team_webhook_message(base, incident.team)
        if webhook is not None:
            messages.append(webhook)
        who = users.get(recipient_id)
        events.append(
            TimelineEvent(
                incident=incident,
                kind=TimelineEventKind.REMINDER,
                occurred_at=now,
                message=(
                    f"Reminder: status update overdue (every {minutes} min)"
                    + (f", sent to {who.get_full_name() or who.get_username()}" if who else "")
                ),
                payload={"reminder": "status_update_overdue", "interval": interval},
                dedup_key=key,
            )
        )
    recorded = notify(messages, now=now)
    # On the timeline when this run sent it (or there was nobody to send it to): a reminder
    # recorded before, under the keys of an earlier version, is not written twice.
    addressed = {m.key for m in messages if m.recipient is not None}
    timeline_events_record_once(
        [e for e in events if e.dedup_key in recorded or e.dedup_key not in addressed]
    )
    return len(recorded)


def _update_chain(incident: Incident) -> tuple[int | None, ...]:
    """Who is reminded of a status update, in order: the communications lead, the commander,
    the on-call engineer who acknowledged it, whoever declared it, the team's manager."""
    return (
        incident.communications_lead_id,
        incident.commander_id,
        incident.acknowledged_by_id,
        incident.declared_by_id,
        incident.team.engineering_manager_id if incident.team else None,
    )


def _nobody(level: EscalationLevel, incident: Incident) -> str:
    """Why an escalation reached nobody, for the timeline."""
    if level.kind == EscalationLevel.Kind.TEAM_MANAGER:
        if incident.team is None:
            return "nobody, the incident has no team"
        return f"nobody, {incident.team.name} has no active engineering manager"
    return "nobody is set for this level"


def escalation_recipients(level: EscalationLevel, incident: Incident) -> list:
    """The active people an escalation to ``level`` reaches for this incident (uses the
    prefetched users and groups)."""
    if level.kind == EscalationLevel.Kind.TEAM_MANAGER:
        manager = incident.team.engineering_manager if incident.team else None
        return [manager] if manager is not None and manager.is_active else []
    people = {u.pk: u for u in level.users.all() if u.is_active}
    for group in level.groups.all():
        for user in group.user_set.all():
            if user.is_active:
                people[user.pk] = user
    return sorted(people.values(), key=lambda u: u.get_username())


@transaction.atomic
def sweep_escalations(*, now: datetime) -> int:
    """Escalate each open incident that is still unresolved its severity's threshold after it
    was detected (or last reopened) to the severity's level (a person or group, or the team's
    manager), once per level and reopening; a severity raised later escalates to the new level
    too. Written to the timeline.
    Returns how many notifications this run recorded. Five queries whatever the counts."""
    candidates = (
        Incident.objects.filter(
            status__in=OPEN_STATUSES,
            severity__escalate_after__isnull=False,
            severity__escalation_level__isnull=False,
        )
        .select_related("severity__escalation_level", "team__engineering_manager")
        .prefetch_related(
            "severity__escalation_level__users",
            "severity__escalation_level__groups__user_set",
        )
        .annotate(imported=_imported(), first_update_at=Min("updates__posted_at"))
    )
    messages, events = [], []
    for incident in candidates:
        # Unresolved since detection, or since it was last reopened: a reopened incident
        # escalates again once it has stayed open the threshold anew. An imported one is
        # history until someone works on it here: from their first update.
        since = incident.reopened_at or incident.detected_at
        since_what = "reopened" if incident.reopened_at else "detected"
        if _history(incident):
            if incident.first_update_at is None:
                continue
            since, since_what = incident.first_update_at, "first updated here"
        severity = incident.severity
        if now < since + severity.escalate_after:
            continue
        level = severity.escalation_level
        people = escalation_recipients(level, incident)
        hours = severity.escalate_after.total_seconds() / 3600
        threshold = f"{hours:g} h" if hours >= 1 else f"{int(hours * 60)} min"
        subject = f"Escalation: {incident.reference} unresolved after {threshold}"
        body = (
            f"{incident.reference} {incident.title} is a {severity.name} that is still "
            f"{incident.get_status_display().lower()} more than {threshold} after it was "
            f"{since_what}. It is escalated to you as "
            f"{level.name}."
        )
        key = f"escalation:{incident.pk}:{level.pk}"
        if incident.reopened_at is not None:
            key += f":reopened-{_stamp(incident.reopened_at)}"
        for person in people:
            messages.append(
                Message(
                    key=f"{key}:{person.pk}",
                    kind="escalation",
                    subject=subject,
                    body=body,
                    recipient=person,
                    incident=incident,
                    link=incident_link(incident),
                    payload={"incident": incident.reference, "level": level.name},
                )
            )
        names = ", ".join(p.get_full_name() or p.get_username() for p in people)
        # The channel is told who it went to (or why nobody), not "escalated to you".
        channel_body = (
            f"{incident.reference} {incident.title} is a {severity.name} that is still "
            f"{incident.get_status_display().lower()} more than {threshold} after it was "
            f"{since_what}. Escalated to {level.name}: {names or _nobody(level, incident)}."
        )
        webhook = team_webhook_message(
            Message(
                key=key,
                kind="escalation",
                subject=subject,
                body=channel_body,
                incident=incident,
                link=incident_link(incident),
            ),
            incident.team,
        )
        if webhook is not None:
            messages.append(webhook)
        events.append(
            TimelineEvent(
                incident=incident,
                kind=TimelineEventKind.ESCALATION,
                occurred_at=now,
                message=f"Escalated to {level.name}: {names or _nobody(level, incident)}",
                payload={
                    "level": level.name,
                    "severity": severity.name,
                    "to": [p.get_username() for p in people],
                },
                # "Nobody" is written once under a key of its own, so that when a manager then
                # sets someone on the level, the escalation that reaches them is written too.
                dedup_key=key if people else f"{key}:nobody",
            )
        )
    recorded = notify(messages, now=now)
    timeline_events_record_once(events)
    return len(recorded)


# --- Before sending: does a reminder still apply? ---------------------------------------------


def _open_or_why(notification) -> str | None:
    incident = notification.incident
    if incident is not None and incident.status not in OPEN_STATUSES:
        return f"{incident.reference} is {incident.get_status_display().lower()}"
    return None


def status_update_reminder_applies(notification) -> str | None:
    """A status-update reminder still applies while its incident is open and nobody posted an
    update after it was decided."""
    why = _open_or_why(notification)
    if why is None and notification.incident is not None:
        posted = notification.incident.updates.filter(posted_at__gt=notification.created_at)
        if posted.exists():
            return "a status update was posted since"
    return why


def escalation_applies(notification) -> str | None:
    """An escalation still applies while its incident is open and its severity still
    escalates to the level it names (a SEV-1 lowered to SEV-3 does not wake the VP)."""
    why = _open_or_why(notification)
    incident = notification.incident
    named = notification.payload.get("level")
    if why is None and incident is not None and named:
        level = incident.severity.escalation_level
        if level is None or level.name != named:
            return f"{incident.reference} no longer escalates to {named}"
    return why


def register_send_checks() -> None:
    from incidents.notifications import register_still_applies

    register_still_applies("status_update_overdue", status_update_reminder_applies)
    register_still_applies("escalation", escalation_applies)
