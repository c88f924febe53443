"""Runbooks: the writes (services) and reads (selectors) of the runbook library, and the
monthly reminder about runbooks nobody has reviewed in 90 days."""

from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from incidents.access import MANAGERS
from incidents.events import timeline_event_record
from incidents.models import (
    Incident,
    IncidentRunbook,
    IncidentStatus,
    Profile,
    Runbook,
    RunbookStep,
    RunbookStepRecord,
    RunbookVersion,
    StepOutcome,
    TimelineEventKind,
)
from incidents.notifications import Message, notify, team_webhook_message
from incidents.selectors import user_time_zone
from incidents.signals import incident_runbook_recorded

User = get_user_model()
STALE_AFTER = timedelta(days=90)

RUNBOOK_INACTIVE = "This runbook is retired; choose another."
RUNBOOK_ALREADY_STARTED = "This runbook was already started on this incident."
RUNBOOK_NO_STEPS = "This runbook has no steps yet."
INCIDENT_CLOSED = "The incident is closed."
UNKNOWN_STEP = "The runbook has no step {position}."
STEP_ALREADY_RECORDED = "Step {position} was already marked {outcome}."
SKIP_NEEDS_NOTE = "Say why the step is skipped."
UNKNOWN_OUTCOME = "A step is done or skipped."

NULL_CHARACTERS = "Null characters are not allowed."


def _now(at: datetime | None) -> datetime:
    return at if at is not None else timezone.now()


def _who(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else "the system"


def _content(runbook: Runbook) -> dict:
    return {
        "title": runbook.title,
        "summary": runbook.summary,
        "when_to_use": runbook.when_to_use,
        "steps": [
            {"position": s.position, "title": s.title, "body": s.body, "command": s.command}
            for s in runbook.steps.order_by("position", "id")
        ],
    }


# --- Services ----------------------------------------------------------------------------------


@transaction.atomic
def runbook_snapshot(*, runbook: Runbook, by=None, at: datetime | None = None) -> RunbookVersion:
    """The version matching the runbook's text and steps now: the latest one if nothing
    changed, else a new one (numbered on). Incidents that followed older versions keep them."""
    runbook = Runbook.objects.select_for_update().get(pk=runbook.pk)
    content = _content(runbook)
    latest = runbook.versions.order_by("-number").first()
    if (
        latest is not None
        and {
            "title": latest.title,
            "summary": latest.summary,
            "when_to_use": latest.when_to_use,
            "steps": latest.steps,
        }
        == content
    ):
        return latest
    return RunbookVersion.objects.create(
        runbook=runbook,
        number=(latest.number + 1) if latest else 1,
        created_at=_now(at),
        created_by=by,
        **content,
    )


@transaction.atomic
def runbook_mark_reviewed(*, runbook: Runbook, by, at: datetime | None = None) -> Runbook:
    """Someone checked the runbook is still right: it is not stale for another 90 days."""
    runbook = Runbook.objects.select_for_update().get(pk=runbook.pk)
    runbook.last_reviewed_at = _now(at)
    runbook.last_reviewed_by = by
    runbook.save(update_fields=["last_reviewed_at", "last_reviewed_by"])
    return runbook


@transaction.atomic
def runbook_start(
    *, incident: Incident, runbook: Runbook, by, at: datetime | None = None
) -> IncidentRunbook:
    """Attach a runbook to an incident in its current version and say so on the timeline."""
    at = _now(at)
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
    if incident.status == IncidentStatus.CLOSED:
        raise ValidationError(INCIDENT_CLOSED)
    if not runbook.is_active:
        raise ValidationError(RUNBOOK_INACTIVE)
    if IncidentRunbook.objects.filter(incident=incident, runbook=runbook).exists():
        raise ValidationError(RUNBOOK_ALREADY_STARTED)
    version = runbook_snapshot(runbook=runbook, by=by, at=at)
    if not version.steps:
        raise ValidationError(RUNBOOK_NO_STEPS)
    run = IncidentRunbook.objects.create(
        incident=incident, runbook=runbook, version=version, started_at=at, started_by=by
    )
    event = timeline_event_record(
        incident=incident,
        kind=TimelineEventKind.RUNBOOK,
        message=f"Runbook started: {version.title} (version {version.number}, "
        f"{len(version.steps)} steps)",
        at=at,
        author=by,
        payload={"runbook": runbook.pk, "version": version.number, "run": run.pk},
    )
    incident_runbook_recorded.send(sender=Incident, incident=incident, event=event, by=by, at=at)
    return run


@transaction.atomic
def runbook_step_record(
    *,
    run: IncidentRunbook,
    position: int,
    outcome: str,
    by,
    note: str = "",
    at: datetime | None = None,
) -> RunbookStepRecord:
    """Tick a step of a started runbook done, or skipped with a note. Once per step; written to
    the incident's timeline (and from there to the post-mortem's)."""
    at = _now(at)
    run = (
        IncidentRunbook.objects.select_for_update()
        .select_related("version", "incident")
        .get(pk=run.pk)
    )
    if run.incident.status == IncidentStatus.CLOSED:
        raise ValidationError(INCIDENT_CLOSED)
    if outcome not in StepOutcome.values:
        raise ValidationError({"outcome": UNKNOWN_OUTCOME})
    step = next((s for s in run.version.steps if s["position"] == position), None)
    if step is None:
        raise ValidationError(UNKNOWN_STEP.format(position=position))
    note = (note or "").strip()
    if "\x00" in note:  # a hand-made request: the page's form never sends one
        raise ValidationError({"note": NULL_CHARACTERS})
    if outcome == StepOutcome.SKIPPED and not note:
        raise ValidationError({"note": SKIP_NEEDS_NOTE})
    existing = run.records.filter(position=position).first()
    if existing is not None:
        raise ValidationError(
            STEP_ALREADY_RECORDED.format(position=position, outcome=existing.outcome)
        )
    record = RunbookStepRecord.objects.create(
        run=run, position=position, outcome=outcome, note=note, at=at, by=by
    )
    label = "done" if outcome == StepOutcome.DONE else "skipped"
    message = f"Runbook {run.version.title}, step {position} {label}: {step['title']}"
    if note:
        message += f" ({note})"
    event = timeline_event_record(
        incident=run.incident,
        kind=TimelineEventKind.RUNBOOK,
        message=message,
        at=at,
        author=by,
        payload={"run": run.pk, "position": position, "outcome": outcome, "note": note},
    )
    # A runbook recorded after the resolution (often how it goes) still reaches the
    # post-mortem's timeline, which was copied at the resolution.
    incident_runbook_recorded.send(
        sender=Incident, incident=run.incident, event=event, by=by, at=at
    )
    return record


# --- Selectors ---------------------------------------------------------------------------------


def runbooks_suggested(*, incident: Incident) -> QuerySet[Runbook]:
    """Active runbooks linked to the incident's services that it has not started. One query."""
    return (
        Runbook.objects.filter(is_active=True, services__incidents=incident)
        .exclude(runs__incident=incident)
        .distinct()
        .order_by("title")
    )


def runbook_search(*, text: str, incident: Incident | None = None) -> QuerySet[Runbook]:
    """Active runbooks whose title, tags, summary, "when to use" or steps (title, text or
    command) mention ``text``."""
    text = (text or "").strip()
    queryset = Runbook.objects.filter(is_active=True)
    if text:
        in_steps = RunbookStep.objects.filter(runbook=OuterRef("pk")).filter(
            Q(title__icontains=text) | Q(body__icontains=text) | Q(command__icontains=text)
        )
        queryset = queryset.filter(
            Q(title__icontains=text)
            | Q(tags__icontains=text)
            | Q(summary__icontains=text)
            | Q(when_to_use__icontains=text)
            | Exists(in_steps)
        )
    if incident is not None:
        queryset = queryset.exclude(runs__incident=incident)
    return queryset.order_by("title")[:20]


def incident_runs(*, incident: Incident) -> list[IncidentRunbook]:
    """The runbooks an incident started, each with its version and its ticked steps (by
    position), in three queries."""
    runs = list(
        IncidentRunbook.objects.filter(incident=incident)
        .select_related("version", "started_by")
        .prefetch_related(
            Prefetch("records", queryset=RunbookStepRecord.objects.select_related("by"))
        )
    )
    for run in runs:
        done = {record.position: record for record in run.records.all()}
        run.steps_with_records = [(step, done.get(step["position"])) for step in run.version.steps]
    return runs


def stale_q(now: datetime) -> Q:
    """Runbooks not reviewed for 90 days at ``now`` (never reviewed: created that long ago).
    Exactly 90 days after the review it is stale; a second before, it is not."""
    limit = now - STALE_AFTER
    return Q(last_reviewed_at__lte=limit) | Q(last_reviewed_at__isnull=True, created_at__lte=limit)


def stale_runbooks(*, now: datetime | None = None) -> QuerySet[Runbook]:
    now = now or timezone.now()
    return (
        Runbook.objects.filter(stale_q(now), is_active=True)
        .select_related("owner_team__engineering_manager")
        .order_by("owner_team__name", "title")
    )


def runbook_usage() -> QuerySet[Runbook]:
    """Runbooks with how many incidents followed them (``times_used``)."""
    return Runbook.objects.annotate(times_used=Count("runs"))


# --- The monthly reminder ---------------------------------------------------------------------


@transaction.atomic
def remind_stale_runbooks(*, now: datetime) -> int:
    """Once a month, tell each owner team about its runbooks not reviewed in 90 days: its
    engineering manager (or, with none, its members) by email and its chat webhook. One
    reminder per team and month. Returns how many notifications this run recorded."""
    by_team: dict[int, list[Runbook]] = defaultdict(list)
    teams = {}
    stale = stale_runbooks(now=now).filter(owner_team__isnull=False)
    for runbook in stale.select_related("owner_team__engineering_manager__profile"):
        by_team[runbook.owner_team_id].append(runbook)
        teams[runbook.owner_team_id] = runbook.owner_team
    if not by_team:
        return 0
    members: dict[int, list] = defaultdict(list)
    for profile in Profile.objects.filter(team_id__in=list(by_team)).select_related("user"):
        if profile.user.is_active:
            members[profile.team_id].append(profile.user)
    month = now.strftime("%Y-%m")
    told = {}
    for team_id in by_team:
        manager = teams[team_id].engineering_manager
        told[team_id] = [manager] if manager is not None and manager.is_active else members[team_id]
    # Who of them runs the admin, in one query (is_manager would ask per person).
    managers = set(
        User.objects.filter(pk__in=[p.pk for people in told.values() for p in people])
        .filter(Q(is_superuser=True) | Q(groups__name=MANAGERS))
        .values_list("pk", flat=True)
    )
    messages = []
    for team_id, runbooks in by_team.items():
        team = teams[team_id]
        subject = f"{len(runbooks)} runbook(s) of {team.name} need a review"
        people = told[team_id]
        key = f"stale-runbooks:{team_id}:{month}"
        for person in people:
            # Managers mark runbooks reviewed in the admin; members (a team with no manager)
            # cannot open it, so they are asked to get one to, and sent no admin link.
            manages = person.pk in managers
            messages.append(
                Message(
                    key=f"{key}:{person.pk}",
                    kind="stale_runbooks",
                    subject=subject,
                    # Review days as the reader's calendar has them.
                    body=_stale_body(team, runbooks, user_time_zone(person), manages=manages),
                    recipient=person,
                    link="/admin/incidents/runbook/?stale=yes" if manages else "",
                    payload={"team": team.name, "runbooks": [r.pk for r in runbooks]},
                )
            )
        zone = timezone.get_default_timezone()
        body = _stale_body(team, runbooks, zone) + f"\n\n(Dates in {zone.key}.)"
        webhook = team_webhook_message(
            Message(key=key, kind="stale_runbooks", subject=subject, body=body), team
        )
        if webhook is not None:
            messages.append(webhook)
    return len(notify(messages, now=now))


# Step numbers stay below this; numbers are parked above it while steps are renumbered.
STEP_PARKING = 10000


@contextmanager
def renumbering_steps(runbook: Runbook):
    """Inside: write the steps' new numbers (steps may swap them). Each existing step is first
    parked at its number plus ``STEP_PARKING``, so no write meets a number still held by a
    step yet to move; those left unchanged get their numbers back after. The caller's
    transaction holds it together, and the unique (runbook, number) constraint still
    refuses a number given twice."""
    RunbookStep.objects.filter(runbook=runbook).update(position=F("position") + STEP_PARKING)
    yield
    RunbookStep.objects.filter(runbook=runbook, position__gte=STEP_PARKING).update(
        position=F("position") - STEP_PARKING
    )


def _stale_body(team, runbooks: list[Runbook], zone, *, manages: bool = True) -> str:
    lines = [
        f"- {r.title} (last reviewed {r.last_reviewed_at.astimezone(zone):%Y-%m-%d})"
        if r.last_reviewed_at
        else f"- {r.title} (never)"
        for r in runbooks
    ]
    then = (
        "mark it reviewed in the admin"
        if manages
        else "ask a manager to mark it reviewed (in the admin)"
    )
    return (
        f"These runbooks owned by {team.name} have not been reviewed in 90 days. Check "
        f"each still works and {then}:\n\n" + "\n".join(lines)
    )
