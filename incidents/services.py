"""Every write to incidents goes through these functions.

Each one owns its transaction, locks the incident row it changes (two responders acting at once
never overwrite each other), validates the change with a clear message, stamps the moment it
names, writes the timeline event in the same transaction, and tells other apps through the
signals in ``incidents.signals``.
"""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from itertools import pairwise

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from incidents import selectors, signals, validators
from incidents.events import timeline_event_record
from incidents.models import (
    ApiToken,
    DetectionMethod,
    IdempotencyKey,
    Incident,
    IncidentRole,
    IncidentSequence,
    IncidentStatus,
    Profile,
    RoleAssignment,
    Service,
    Severity,
    StatusUpdate,
    Team,
    TimelineEvent,
    TimelineEventKind,
    UpdateAudience,
)
from incidents.models.api import KEY_MARKER, hash_token
from incidents.models.incident import OPEN_STATUSES
from incidents.notifications import WEBHOOK_TEAM, Message, notify
from incidents.selectors import by_name
from incidents.validators import validate_time_zone

User = get_user_model()

# Messages that tests and forms assert on.
UNKNOWN_SEVERITY = "Unknown severity: choose one of the active severity levels."
INACTIVE_SEVERITY = "Severity {name} is no longer in use; choose an active level."
TITLE_REQUIRED = "An incident needs a title."
DETECTED_BEFORE_STARTED = "Detection cannot be before the incident started."
MOMENT_IN_FUTURE = "{what} cannot be in the future."
SAME_STATUS = "The incident is already {status}."
INVALID_MOVE = "An incident cannot move from {from_status} to {to_status}."
CLOSED_IS_FINAL = "The incident is closed; nothing can change it except a note."
RESOLVE_NEEDS_CHECKLIST = (
    "Resolving follows the resolution checklist; confirm every item: {missing}."
)
ALREADY_ACKNOWLEDGED = "The incident was already acknowledged by {who} at {at}."
ACKNOWLEDGE_NOT_OPEN = "Only an open incident can be acknowledged; this one is {status}."
SAME_SEVERITY = "The incident is already {severity}."
ROLE_ALREADY_HELD = "{user} already holds the {role} role."
ROLE_TAKEN = (
    "{user} holds the {role} role: taking it would relieve them. Use “Hand over” if they agree."
)
ROLE_NOT_HELD = "Nobody holds the {role} role."
UNKNOWN_ROLE = "Unknown role: {role}."
UPDATE_FIELD_REQUIRED = "This field is required in a status update."
UNKNOWN_AUDIENCE = "Unknown audience: choose internal or status page."
NOTE_REQUIRED = "A note needs some text."
INACTIVE_USER = "{user} is not an active user."
REOPEN_DEDUP_TAKEN = (
    "{reference} is open with the same dedup key; add to it instead of reopening this one."
)


def _now(at: datetime | None) -> datetime:
    return at if at is not None else timezone.now()


def _lock(incident: Incident) -> Incident:
    # OF self: lock the incident only, not the severity row it joins (that would serialise
    # every change to incidents of the same severity).
    return (
        Incident.objects.select_for_update(of=("self",))
        .select_related("severity")
        .get(pk=incident.pk)
    )


# --- Moves through the lifecycle ---------------------------------------------------------------

ALLOWED_MOVES: dict[str, frozenset[str]] = {
    IncidentStatus.INVESTIGATING: frozenset(
        {
            IncidentStatus.IDENTIFIED,
            IncidentStatus.MITIGATED,
            IncidentStatus.MONITORING,
            IncidentStatus.RESOLVED,
        }
    ),
    IncidentStatus.IDENTIFIED: frozenset(
        {
            IncidentStatus.INVESTIGATING,
            IncidentStatus.MITIGATED,
            IncidentStatus.MONITORING,
            IncidentStatus.RESOLVED,
        }
    ),
    IncidentStatus.MITIGATED: frozenset(
        {
            IncidentStatus.INVESTIGATING,
            IncidentStatus.IDENTIFIED,
            IncidentStatus.MONITORING,
            IncidentStatus.RESOLVED,
        }
    ),
    IncidentStatus.MONITORING: frozenset(
        {
            IncidentStatus.INVESTIGATING,
            IncidentStatus.IDENTIFIED,
            IncidentStatus.MITIGATED,
            IncidentStatus.RESOLVED,
        }
    ),
    # Reopening a resolved incident is a move back to investigating; closed is final.
    IncidentStatus.RESOLVED: frozenset({IncidentStatus.INVESTIGATING, IncidentStatus.CLOSED}),
    IncidentStatus.CLOSED: frozenset(),
}
"""Which moves the lifecycle allows.

The runbook's order is investigating → identified → mitigated → monitoring → resolved → closed.
Open incidents may skip forward (mitigate before the cause is identified: "stop the bleeding
first") and fall back when a fix does not hold. Resolving needs the checklist, a resolved
incident may be reopened or closed, and nothing leaves closed.
"""


def allowed_moves(status: str) -> list[str]:
    """The statuses an incident in ``status`` may move to, in lifecycle order."""
    targets = ALLOWED_MOVES.get(status, frozenset())
    return [value for value in IncidentStatus.values if value in targets]


@dataclass(frozen=True)
class ResolutionChecklist:
    """The runbook's resolution checklist; every item must be confirmed to resolve."""

    issue_fixed: bool = False
    metrics_normal: bool = False
    no_alerts_firing: bool = False
    stable_for_30_minutes: bool = False
    customer_impact_verified: bool = False

    LABELS = {
        "issue_fixed": "Issue fixed",
        "metrics_normal": "Service health metrics returned to normal",
        "no_alerts_firing": "No error alerts firing",
        "stable_for_30_minutes": "Monitored for 30 minutes (stable)",
        "customer_impact_verified": "Customer impact verified resolved",
    }

    @classmethod
    def all_confirmed(cls) -> "ResolutionChecklist":
        return cls(**{f.name: True for f in fields(cls)})

    def missing(self) -> list[str]:
        return [self.LABELS[f.name] for f in fields(self) if not getattr(self, f.name)]

    def as_payload(self) -> dict[str, bool]:
        return {f.name: bool(getattr(self, f.name)) for f in fields(self)}


def _label(status: str) -> str:
    return IncidentStatus(status).label


def _stamp_acknowledged(incident: Incident, *, by, at: datetime, changed: list[str]) -> None:
    if incident.acknowledged_at is None:
        incident.acknowledged_at = at
        incident.acknowledged_by = by
        changed += ["acknowledged_at", "acknowledged_by"]
        timeline_event_record(
            incident=incident,
            kind=TimelineEventKind.ACKNOWLEDGED,
            message=f"Acknowledged by {_who(by)}",
            at=at,
            author=by,
            payload={"by": getattr(by, "username", None)},
        )
        signals.incident_acknowledged.send(sender=Incident, incident=incident, by=by, at=at)


def _who(user) -> str:
    if user is None:
        return "the system"
    return user.get_full_name() or user.get_username()


@transaction.atomic
def incident_change_status(
    *,
    incident: Incident,
    to_status: str,
    by,
    checklist: ResolutionChecklist | None = None,
    note: str = "",
    mitigation_action: str = "",
    at: datetime | None = None,
) -> Incident:
    """Move an incident through its lifecycle; the one way its status changes.

    Validates the move against ``ALLOWED_MOVES``, stamps the moment the new status names
    (mitigated, resolved, closed; acknowledged too when nobody had yet), writes a
    ``status_changed`` event, and sends ``incident_status_changed`` (and ``incident_resolved``
    when resolving) inside the transaction. Resolving needs every checklist item confirmed.
    Locks the incident row. Returns the updated incident.
    """
    at = _now(at)
    incident = _lock(incident)
    from_status = incident.status
    if to_status not in IncidentStatus.values:
        raise ValidationError({"to_status": f"Unknown status: {to_status}."})
    if from_status == IncidentStatus.CLOSED:
        raise ValidationError({"to_status": CLOSED_IS_FINAL})
    if to_status == from_status:
        raise ValidationError({"to_status": SAME_STATUS.format(status=_label(from_status))})
    if to_status not in ALLOWED_MOVES[from_status]:
        raise ValidationError(
            {
                "to_status": INVALID_MOVE.format(
                    from_status=_label(from_status), to_status=_label(to_status)
                )
            }
        )
    if to_status == IncidentStatus.RESOLVED:
        missing = (checklist or ResolutionChecklist()).missing()
        if missing:
            raise ValidationError(
                {"checklist": RESOLVE_NEEDS_CHECKLIST.format(missing="; ".join(missing))}
            )
    if at < incident.started_at:
        raise ValidationError({"at": "A status change cannot be before the incident started."})
    # Reopening an alert's incident while another holds its key is refused; closing it is not
    # (a closed incident holds no key).
    if (
        from_status == IncidentStatus.RESOLVED
        and to_status != IncidentStatus.CLOSED
        and incident.dedup_key
    ):
        other = (
            Incident.objects.filter(dedup_key=incident.dedup_key, status__in=OPEN_STATUSES)
            .exclude(pk=incident.pk)
            .values_list("reference", flat=True)
            .first()
        )
        if other is not None:
            raise ValidationError({"to_status": REOPEN_DEDUP_TAKEN.format(reference=other)})

    changed = ["status"]
    incident.status = to_status
    # Moving on from an open status is acknowledging it; closing a resolved incident (say an
    # imported one nobody acknowledged) is not, and would put an acknowledgement after the
    # resolution.
    if to_status != IncidentStatus.INVESTIGATING and from_status in OPEN_STATUSES:
        _stamp_acknowledged(incident, by=by, at=at, changed=changed)
    if to_status in (
        IncidentStatus.MITIGATED,
        IncidentStatus.MONITORING,
        IncidentStatus.RESOLVED,
    ) and (incident.mitigated_at is None):
        incident.mitigated_at = at
        changed.append("mitigated_at")
    # The action that mitigated it, told on a move to mitigated, monitoring or resolved. Said on
    # another move (back to investigating: "rollback did not help") it stays that move's note
    # on the timeline, and the recorded mitigation stands.
    mitigating = to_status in (
        IncidentStatus.MITIGATED,
        IncidentStatus.MONITORING,
        IncidentStatus.RESOLVED,
    )
    if mitigation_action and mitigating:
        incident.mitigation_action = mitigation_action
        changed.append("mitigation_action")
    if to_status == IncidentStatus.RESOLVED:
        incident.resolved_at = at
        changed.append("resolved_at")
    elif to_status == IncidentStatus.CLOSED:
        incident.closed_at = at
        changed.append("closed_at")
    elif from_status == IncidentStatus.RESOLVED:
        # Reopened: it is not resolved any more. The timeline keeps the earlier resolution.
        incident.resolved_at = None
        incident.reopened_at = at
        changed += ["resolved_at", "reopened_at"]
    incident.save(update_fields=changed)

    payload = {"from": from_status, "to": to_status}
    if note:
        payload["note"] = note
    if mitigation_action:
        payload["mitigation_action"] = mitigation_action
    if checklist is not None and to_status == IncidentStatus.RESOLVED:
        payload["checklist"] = checklist.as_payload()
    reopened = from_status == IncidentStatus.RESOLVED and to_status != IncidentStatus.CLOSED
    verb = "Reopened" if reopened else "Status"
    message = f"{verb}: {_label(from_status)} → {_label(to_status)}"
    if mitigation_action and mitigating:
        # The runbook's timeline: "MITIGATED: [time] — [what action]". The message is what
        # the post-mortem's timeline copies.
        message = f"{message}. Mitigation: {mitigation_action}"
    if note:
        message = f"{message}. {note}"
    timeline_event_record(
        incident=incident,
        kind=TimelineEventKind.STATUS_CHANGED,
        message=message,
        at=at,
        author=by,
        payload=payload,
    )
    signals.incident_status_changed.send(
        sender=Incident,
        incident=incident,
        from_status=from_status,
        to_status=to_status,
        by=by,
        at=at,
    )
    if to_status == IncidentStatus.RESOLVED:
        signals.incident_resolved.send(sender=Incident, incident=incident, by=by, at=at)
    return incident


def incident_resolve(
    *,
    incident: Incident,
    by,
    checklist: ResolutionChecklist | None,
    note: str = "",
    at: datetime | None = None,
) -> Incident:
    """Resolve an incident with the runbook's checklist (see ``incident_change_status``)."""
    return incident_change_status(
        incident=incident,
        to_status=IncidentStatus.RESOLVED,
        by=by,
        checklist=checklist,
        note=note,
        at=at,
    )


@transaction.atomic
def incident_acknowledge(*, incident: Incident, by, at: datetime | None = None) -> Incident:
    """Stamp who acknowledged the incident and when. Refused if already acknowledged."""
    at = _now(at)
    incident = _lock(incident)
    if incident.status == IncidentStatus.CLOSED:
        raise ValidationError(CLOSED_IS_FINAL)
    if incident.acknowledged_at is None and incident.status not in OPEN_STATUSES:
        raise ValidationError(
            ACKNOWLEDGE_NOT_OPEN.format(status=incident.get_status_display().lower())
        )
    if incident.acknowledged_at is not None:
        raise ValidationError(
            ALREADY_ACKNOWLEDGED.format(
                who=_who(incident.acknowledged_by),
                at=timezone.localtime(incident.acknowledged_at).strftime("%Y-%m-%d %H:%M %Z"),
            )
        )
    changed: list[str] = []
    _stamp_acknowledged(incident, by=by, at=at, changed=changed)
    incident.save(update_fields=changed)
    return incident


# --- Declaring ----------------------------------------------------------------------------------


def _next_reference(year: int) -> str:
    """The next free ``INC-YYYY-NNNN``; the year's counter row is locked until commit."""
    IncidentSequence.objects.bulk_create([IncidentSequence(year=year)], ignore_conflicts=True)
    sequence = IncidentSequence.objects.select_for_update().get(year=year)
    while True:
        sequence.last_number += 1
        reference = f"INC-{year}-{sequence.last_number:04d}"
        # Imported incidents keep their old references; step over any that are taken, in
        # any letter case (the import matches references so, and would refuse twins).
        if not Incident.objects.filter(reference__iexact=reference).exists():
            break
    sequence.save(update_fields=["last_number"])
    return reference


def channel_name_for(title: str, on: datetime) -> str:
    """``#incident-YYYY-MM-DD-short-slug`` (the runbook's naming), at most 80 characters. The
    date is in the project's ``TIME_ZONE``, whoever declares."""
    date = timezone.localtime(on, timezone.get_default_timezone()).date().isoformat()
    slug = slugify(title)[:50].strip("-") or "incident"
    return f"#incident-{date}-{slug}"


def _resolve_severity(severity: Severity | int | str | None) -> Severity:
    if isinstance(severity, Severity):
        found = severity
    else:
        query = Severity.objects.all()
        if isinstance(severity, int):
            found = query.filter(pk=severity).first()
        elif isinstance(severity, str) and severity.strip():
            found = query.filter(name__iexact=severity.strip()).first()
        else:
            found = None
        if found is None:
            raise ValidationError({"severity": UNKNOWN_SEVERITY})
    if not found.is_active:
        raise ValidationError({"severity": INACTIVE_SEVERITY.format(name=found.name)})
    return found


@transaction.atomic
def incident_declare(
    *,
    title: str,
    severity: Severity | int | str | None,
    declared_by,
    services: Iterable[Service] = (),
    detection_method: str = DetectionMethod.ALERT,
    summary: str = "",
    customer_impact: bool = False,
    impact_description: str = "",
    security_related: bool = False,
    team: Team | None = None,
    started_at: datetime | None = None,
    detected_at: datetime | None = None,
    dedup_key: str = "",
    at: datetime | None = None,
) -> Incident:
    """Declare an incident: a new ``INC-YYYY-NNNN``, its channel name, a ``declared`` event.

    ``started_at`` defaults to ``detected_at``, which defaults to the moment of declaring.
    ``team`` defaults to the first service's team, else to the declarer's own team.
    References never repeat, also under concurrent declares (the year's counter row is locked).
    ``dedup_key`` (alert intake) is refused while another open incident has it; the database
    holds that rule too (``incident_one_open_per_dedup_key``).
    Sends ``incident_declared`` inside the transaction (on-call paging listens to it).
    """
    at = _now(at)
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": TITLE_REQUIRED})
    severity = _resolve_severity(severity)
    if detection_method not in DetectionMethod.values:
        raise ValidationError(
            {"detection_method": f"Unknown detection method: {detection_method}."}
        )
    # Each moment the caller gave is checked under its own name before a default copies it
    # (a detection in year 1 is the detection's error, not the start's).
    problems = {}
    for name, moment, what in (
        ("started_at", started_at, "The start"),
        ("detected_at", detected_at, "Detection"),
    ):
        if moment is not None and validators.too_early(moment):
            problems[name] = validators.TOO_EARLY.format(what=what)
        elif moment is not None and moment > at:
            problems[name] = MOMENT_IN_FUTURE.format(what=what)
    if problems:
        raise ValidationError(problems)
    detected_at = detected_at or at
    started_at = started_at or detected_at
    if started_at > detected_at:
        raise ValidationError({"started_at": DETECTED_BEFORE_STARTED})
    services = list(services)
    # Paged on declaring: the services' teams, or a team the caller named; never a team only
    # taken from the declarer (who may be its on-call engineer themselves).
    team_to_page = team
    if team is None and services:
        team = services[0].team
    if team is None and declared_by is not None:
        # No service names an owner: the declarer's own team owns it, so its manager is
        # escalated to and reminded, as a person's manager is their team's.
        team = Team.objects.filter(members__user=declared_by).first()

    incident = Incident(
        # The year of declaring in the project's zone, not the declarer's (the web pages
        # switch the active zone to each person's own).
        reference=_next_reference(timezone.localtime(at, timezone.get_default_timezone()).year),
        title=title,
        summary=summary,
        severity=severity,
        status=IncidentStatus.INVESTIGATING,
        team=team,
        detection_method=detection_method,
        customer_impact=customer_impact,
        impact_description=impact_description,
        security_related=security_related,
        channel_name=channel_name_for(title, at),
        started_at=started_at,
        detected_at=detected_at,
        declared_by=declared_by,
        declared_at=at,
        dedup_key=(dedup_key or "").strip(),
    )
    incident.full_clean(exclude=["reference"])
    incident.save()
    if services:
        incident.services.set(services)
    timeline_event_record(
        incident=incident,
        kind=TimelineEventKind.DECLARED,
        message=f"Declared {severity.name}: {title}",
        at=at,
        author=declared_by,
        payload={
            "severity": severity.name,
            "services": [s.name for s in services],
            "detection_method": detection_method,
            "started_at": started_at.isoformat(),
            "detected_at": detected_at.isoformat(),
            "customer_impact": customer_impact,
        },
    )
    _announce(incident, at=at)
    signals.incident_declared.send(
        sender=Incident, incident=incident, by=declared_by, at=at, team_to_page=team_to_page
    )
    return incident


def _announce(incident: Incident, *, at: datetime) -> None:
    """Post the internal announcement to the owning team's chat webhook, once (sent after
    commit). Without a webhook, the incident page shows it to copy into the channel."""
    team = incident.team
    if team is None or not team.chat_webhook_url:
        return
    text = selectors.incident_announcement(incident)
    if not text:
        return
    notify(
        [
            Message(
                key=f"announcement:{incident.pk}",
                kind="incident_announcement",
                subject=f"{incident.reference}: incident declared",
                body=text,
                webhook_url=team.chat_webhook_url,
                incident=incident,
                link=f"/incidents/{incident.pk}/",
                payload={WEBHOOK_TEAM: team.pk},
            )
        ],
        now=at,
    )


# --- Severity, roles, updates, notes -----------------------------------------------------------


@transaction.atomic
def incident_change_severity(
    *,
    incident: Incident,
    severity: Severity | int | str | None,
    by,
    reason: str = "",
    at: datetime | None = None,
) -> Incident:
    """Change the severity with a ``severity_changed`` event; refused on closed incidents."""
    at = _now(at)
    incident = _lock(incident)
    if incident.status == IncidentStatus.CLOSED:
        raise ValidationError({"severity": CLOSED_IS_FINAL})
    new = _resolve_severity(severity)
    old = incident.severity
    if new.pk == old.pk:
        raise ValidationError({"severity": SAME_SEVERITY.format(severity=old.name)})
    incident.severity = new
    incident.save(update_fields=["severity"])
    direction = "Raised" if new.rank < old.rank else "Lowered"
    message = f"Severity {direction.lower()}: {old.name} → {new.name}"
    if reason:
        message = f"{message}. {reason}"
    timeline_event_record(
        incident=incident,
        kind=TimelineEventKind.SEVERITY_CHANGED,
        message=message,
        at=at,
        author=by,
        payload={"from": old.name, "to": new.name, "reason": reason},
    )
    signals.incident_severity_changed.send(
        sender=Incident, incident=incident, from_severity=old, to_severity=new, by=by, at=at
    )
    return incident


@transaction.atomic
def role_assign(
    *,
    incident: Incident,
    role: str,
    user,
    by,
    at: datetime | None = None,
    only_if_free: bool = False,
) -> RoleAssignment:
    """Give ``user`` a role on the incident, handing it over if someone else holds it.

    The previous holder is relieved (their assignment keeps its dates), so the history of who
    held each role survives. Writes ``role_assigned`` or ``role_handed_over``. With
    ``only_if_free`` (someone taking a role for themselves) a role someone holds is refused:
    one click must not relieve the incident's commander.
    """
    at = _now(at)
    incident = _lock(incident)
    if role not in IncidentRole.values:
        raise ValidationError({"role": UNKNOWN_ROLE.format(role=role)})
    if incident.status == IncidentStatus.CLOSED:
        raise ValidationError({"role": CLOSED_IS_FINAL})
    if user is None or not user.is_active:
        raise ValidationError({"user": INACTIVE_USER.format(user=user)})
    label = IncidentRole(role).label
    current = (
        RoleAssignment.objects.select_related("user")
        .filter(incident=incident, role=role, relieved_at__isnull=True)
        .first()
    )
    if current is not None and current.user_id == user.pk:
        raise ValidationError({"user": ROLE_ALREADY_HELD.format(user=_who(user), role=label)})
    if current is not None and only_if_free:
        raise ValidationError({"role": ROLE_TAKEN.format(user=_who(current.user), role=label)})
    if current is not None:
        current.relieved_at = max(at, current.assigned_at)
        current.relieved_by = by
        current.save(update_fields=["relieved_at", "relieved_by"])
    assignment = RoleAssignment.objects.create(
        incident=incident, role=role, user=user, assigned_at=at, assigned_by=by
    )
    if current is None:
        kind = TimelineEventKind.ROLE_ASSIGNED
        message = f"{label}: {_who(user)}"
    else:
        kind = TimelineEventKind.ROLE_HANDED_OVER
        message = f"{label} handed over from {_who(current.user)} to {_who(user)}"
    timeline_event_record(
        incident=incident,
        kind=kind,
        message=message,
        at=at,
        author=by,
        payload={
            "role": role,
            "user": user.get_username(),
            "previous": current.user.get_username() if current else None,
        },
    )
    return assignment


@transaction.atomic
def role_relieve(*, incident: Incident, role: str, by, at: datetime | None = None) -> None:
    """Relieve the current holder of a role without naming a successor."""
    at = _now(at)
    incident = _lock(incident)
    if role not in IncidentRole.values:
        raise ValidationError({"role": UNKNOWN_ROLE.format(role=role)})
    label = IncidentRole(role).label
    current = (
        RoleAssignment.objects.select_related("user")
        .filter(incident=incident, role=role, relieved_at__isnull=True)
        .first()
    )
    if current is None:
        raise ValidationError({"role": ROLE_NOT_HELD.format(role=label)})
    current.relieved_at = max(at, current.assigned_at)
    current.relieved_by = by
    current.save(update_fields=["relieved_at", "relieved_by"])
    timeline_event_record(
        incident=incident,
        kind=TimelineEventKind.ROLE_RELIEVED,
        message=f"{_who(current.user)} relieved as {label}",
        at=at,
        author=by,
        payload={"role": role, "user": current.user.get_username()},
    )


def status_update_message(*, audience: str, status: str, impact: str, action: str, eta: str) -> str:
    """How a status update reads on the timeline."""
    where = "Status page update" if audience == UpdateAudience.STATUS_PAGE else "Internal update"
    return f"{where}: {status}. Impact: {impact} Action: {action} ETA: {eta}"


UPDATE_NOT_PUBLIC = (
    "This incident affects no public service, so it is not on the status page: post the "
    "update as internal, or add the public service it affects first."
)


@transaction.atomic
def status_update_post(
    *,
    incident: Incident,
    author,
    status: str,
    impact: str,
    action: str,
    eta: str,
    audience: str = UpdateAudience.INTERNAL,
    at: datetime | None = None,
) -> StatusUpdate:
    """Post a Status / Impact / Action / ETA update, internal or for the status page.

    Every field is required (the runbook's template). Writes a ``status_update`` event whose
    payload carries the whole update; posting resets the update-cadence clock.
    """
    at = _now(at)
    values = {
        "status": (status or "").strip(),
        "impact": (impact or "").strip(),
        "action": (action or "").strip(),
        "eta": (eta or "").strip(),
    }
    errors = {name: UPDATE_FIELD_REQUIRED for name, value in values.items() if not value}
    errors |= {
        name: validators.CONTROL_CHARACTERS
        for name, value in values.items()
        if validators.has_control_characters(value)
    }
    if audience not in UpdateAudience.values:
        errors["audience"] = UNKNOWN_AUDIENCE
    if errors:
        raise ValidationError(errors)
    incident = _lock(incident)
    if incident.status == IncidentStatus.CLOSED:
        raise ValidationError(CLOSED_IS_FINAL)
    if audience == UpdateAudience.STATUS_PAGE and not incident.services.filter(is_public=True):
        # The status page shows incidents of public services only: posted, it would reach
        # nobody while the team believed customers had been told.
        raise ValidationError({"audience": UPDATE_NOT_PUBLIC})
    update = StatusUpdate(
        incident=incident, author=author, audience=audience, posted_at=at, **values
    )
    update.full_clean()
    update.save()
    timeline_event_record(
        incident=incident,
        kind=TimelineEventKind.STATUS_UPDATE,
        message=status_update_message(audience=audience, **values),
        at=at,
        author=author,
        payload={"update_id": update.pk, "audience": audience, **values},
    )
    return update


@transaction.atomic
def note_add(
    *,
    incident: Incident,
    author,
    text: str,
    corrects: TimelineEvent | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """Add a note to the timeline (allowed at every stage, closed included).

    ``corrects`` links the note to an earlier event it corrects: history is never edited.
    """
    at = _now(at)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": NOTE_REQUIRED})
    if corrects is not None and corrects.incident_id != incident.pk:
        raise ValidationError({"corrects": "That event belongs to another incident."})
    return timeline_event_record(
        incident=incident,
        kind=TimelineEventKind.NOTE,
        message=text,
        at=at,
        author=author,
        payload={"text": text, **({"corrects": corrects.pk} if corrects else {})},
        corrects=corrects,
    )


# Fields a manager may edit on an incident directly; each edit is recorded on the timeline.
EDITABLE_DETAILS = (
    "title",
    "summary",
    "team",
    "detection_method",
    "customer_impact",
    "impact_description",
    "users_affected",
    "revenue_impact",
    "revenue_currency",
    "data_loss",
    "data_loss_details",
    "security_related",
    "root_cause",
    "root_cause_category",
    "channel_name",
    "postmortem_required",
    "mitigation_action",
)


def _display(value) -> str | int | bool | None:
    """A JSON-safe rendering of a field value for the timeline payload."""
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


@transaction.atomic
def incident_update_details(
    *,
    incident: Incident,
    by,
    services: Iterable[Service] | None = None,
    at: datetime | None = None,
    **changes,
) -> Incident:
    """Edit the descriptive fields of an incident (not its status, severity or moments).

    Only fields in ``EDITABLE_DETAILS`` are accepted; every field that really changes is listed,
    old and new, in one ``details_changed`` event. Closed incidents may still be corrected this
    way (root cause and impact figures often arrive after the post-mortem).
    """
    at = _now(at)
    unknown = set(changes) - set(EDITABLE_DETAILS)
    if unknown:
        raise ValidationError(f"These fields cannot be edited here: {', '.join(sorted(unknown))}.")
    incident = _lock(incident)
    diff: dict[str, dict[str, object]] = {}
    for name, value in changes.items():
        old = getattr(incident, name)
        if old != value:
            diff[name] = {"from": _display(old), "to": _display(value)}
            setattr(incident, name, value)
    if services is not None:
        new_services = sorted(services, key=lambda s: s.pk)
        old_names = sorted(incident.services.values_list("name", flat=True))
        new_names = sorted(s.name for s in new_services)
        if old_names != new_names:
            diff["services"] = {"from": old_names, "to": new_names}
            incident.services.set(new_services)
    if not diff:
        return incident
    incident.full_clean(exclude=["reference"])
    update_fields = [name for name in diff if name != "services"]
    if update_fields:
        incident.save(update_fields=update_fields)
    timeline_event_record(
        incident=incident,
        kind=TimelineEventKind.DETAILS_CHANGED,
        message="Changed " + ", ".join(name.replace("_", " ") for name in diff),
        at=at,
        author=by,
        payload={"changes": diff},
    )
    # Customer impact recorded after the fact needs a post-mortem just as much (runbook:
    # "any incident with customer impact"); the post-mortems app decides whether it does.
    if any(
        diff.get(name, {}).get("to") is True for name in ("postmortem_required", "customer_impact")
    ):
        signals.incident_postmortem_required.send(sender=Incident, incident=incident, by=by, at=at)
    return incident


# --- People -----------------------------------------------------------------------------------


def profile_get_or_create(*, user) -> Profile:
    """The user's profile, created with the project's time zone when missing."""
    profile, _ = Profile.objects.get_or_create(
        user=user, defaults={"time_zone": settings.TIME_ZONE}
    )
    return profile


@transaction.atomic
def profile_update(*, user, time_zone: str | None = None, team: Team | None = None) -> Profile:
    """Set a person's time zone and/or team (the time zone is validated as an IANA name)."""
    profile = profile_get_or_create(user=user)
    changed = []
    if time_zone is not None:
        validate_time_zone(time_zone)
        profile.time_zone = time_zone
        changed.append("time_zone")
    if team is not None:
        profile.team = team
        changed.append("team")
    if changed:
        profile.save(update_fields=changed)
    return profile


# --- History from other tools ----------------------------------------------------------------

IMPORT_REFERENCE_REQUIRED = "An imported incident needs its reference."
IMPORT_ORDER = "{later} cannot be before {earlier}."


@transaction.atomic
def incident_import(
    *,
    reference: str,
    title: str,
    severity: Severity | int | str | None,
    started_at: datetime,
    detected_at: datetime | None = None,
    acknowledged_at: datetime | None = None,
    resolved_at: datetime | None = None,
) -> tuple[Incident, bool]:
    """Bring in an incident from another tool, keeping its reference.

    A new one gets a timeline built from its moments (imported, acknowledged, resolved) and
    no signals are sent: it is history, nobody is paged and no post-mortem is scheduled.

    Idempotent by reference: for an incident that exists, ``False`` is returned. A later
    export of it may add what the earlier one lacked (``incident_import_complete``); one that
    contradicts what is recorded is refused.
    """
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": IMPORT_REFERENCE_REQUIRED})
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": TITLE_REQUIRED})
    severity = _resolve_severity(severity)
    detected_at = detected_at or started_at
    for name, moment in (
        ("started_at", started_at),
        ("detected_at", detected_at),
        ("acknowledged_at", acknowledged_at),
        ("resolved_at", resolved_at),
    ):
        if validators.too_early(moment):
            raise ValidationError({name: validators.TOO_EARLY.format(what=name)})
        if moment is not None and moment > timezone.now():
            raise ValidationError({name: MOMENT_IN_FUTURE.format(what=name)})
    order = [
        ("started_at", started_at),
        ("detected_at", detected_at),
        ("acknowledged_at", acknowledged_at),
    ]
    for (earlier_name, earlier), (later_name, later) in pairwise(order):
        if earlier is not None and later is not None and later < earlier:
            raise ValidationError(
                {later_name: IMPORT_ORDER.format(later=later_name, earlier=earlier_name)}
            )
    if resolved_at is not None and resolved_at < max(detected_at, acknowledged_at or detected_at):
        earlier = "detected_at" if resolved_at < detected_at else "acknowledged_at"
        raise ValidationError(
            {"resolved_at": IMPORT_ORDER.format(later="resolved_at", earlier=earlier)}
        )
    # The row is checked in full before it is compared, so a bad row never passes unnoticed.
    existing = Incident.objects.select_for_update().filter(reference=reference).first()
    if existing is not None:
        incident_import_complete(
            incident=existing,
            started_at=started_at,
            acknowledged_at=acknowledged_at,
            resolved_at=resolved_at,
        )
        return existing, False
    incident = Incident(
        reference=reference,
        title=title,
        severity=severity,
        status=IncidentStatus.RESOLVED if resolved_at else IncidentStatus.INVESTIGATING,
        started_at=started_at,
        detected_at=detected_at,
        acknowledged_at=acknowledged_at,
        mitigated_at=resolved_at,
        resolved_at=resolved_at,
        declared_at=detected_at,
        channel_name=channel_name_for(title, detected_at),
    )
    incident.full_clean()
    incident.save()
    timeline_event_record(
        incident=incident,
        kind=TimelineEventKind.IMPORTED,
        message=f"Imported {severity.name}: {title}",
        at=detected_at,
        payload={"reference": reference, "started_at": started_at.isoformat()},
    )
    if acknowledged_at is not None:
        timeline_event_record(
            incident=incident,
            kind=TimelineEventKind.ACKNOWLEDGED,
            message="Acknowledged (imported)",
            at=acknowledged_at,
        )
    if resolved_at is not None:
        timeline_event_record(
            incident=incident,
            kind=TimelineEventKind.STATUS_CHANGED,
            message="Status: Investigating → Resolved (imported)",
            at=resolved_at,
            payload={"from": IncidentStatus.INVESTIGATING, "to": IncidentStatus.RESOLVED},
        )
    return incident, True


def _imported_moments(incident: Incident) -> dict[str, datetime]:
    """The acknowledgement and resolution the history imports recorded for ``incident`` (their
    "(imported)" timeline entries), whatever happened to it here since."""
    moments: dict[str, datetime] = {}
    for kind, message, at in incident.timeline.filter(
        kind__in=[TimelineEventKind.ACKNOWLEDGED, TimelineEventKind.STATUS_CHANGED],
        message__endswith="(imported)",
    ).values_list("kind", "message", "occurred_at"):
        if kind == TimelineEventKind.ACKNOWLEDGED:
            moments["acknowledged_at"] = at
        elif message.endswith("→ Resolved (imported)"):
            moments["resolved_at"] = at
    return moments


IMPORT_CONTRADICTS = "{reference} is already recorded with {field} {value}."
IMPORT_NOT_IMPORTED = "{reference} was declared here, not imported: its {field} is not imported."


def incident_import_complete(
    *,
    incident: Incident,
    started_at: datetime,
    acknowledged_at: datetime | None,
    resolved_at: datetime | None,
) -> list[str]:
    """A later export of an incident already here: record the moments it adds (acknowledged,
    resolved) with their timeline entries, and refuse one that contradicts a recorded moment.
    Returns the fields it set. Title and severity are not compared: they may have been edited
    here since, and the incident here is the record. Locks nothing itself: the caller holds
    the incident's row (``incident_import``)."""
    imported = (
        incident.timeline.filter(kind=TimelineEventKind.IMPORTED).values_list("payload", flat=True)
    ).first()
    # The start the first export gave is the incident's identity in the other tool.
    first_start = (imported or {}).get("started_at")
    recorded_start = datetime.fromisoformat(first_start) if first_start else incident.started_at
    if started_at != recorded_start:
        raise ValidationError(
            {
                "started_at": IMPORT_CONTRADICTS.format(
                    reference=incident.reference,
                    field="started_at",
                    value=recorded_start.isoformat(),
                )
            }
        )
    changed: list[str] = []
    brought_in = _imported_moments(incident) if imported is not None else {}
    # Worked on here since it came in: reopened, acknowledged, updated or moved here (read
    # before this export adds anything).
    worked_here = imported is not None and (
        incident.reopened_at is not None
        or (incident.acknowledged_at is not None and "acknowledged_at" not in brought_in)
        or incident.updates.exists()
        or incident.timeline.filter(kind=TimelineEventKind.STATUS_CHANGED)
        .exclude(message__endswith="(imported)")
        .exists()
    )
    for field, value in (("acknowledged_at", acknowledged_at), ("resolved_at", resolved_at)):
        if value is None:
            continue
        stored = getattr(incident, field)
        if imported is not None:
            # Compared with what the imports recorded, not with the incident now: the team
            # may have reopened and resolved it here since, and the same files again must
            # change nothing (nor refuse).
            recorded = brought_in.get(field)
            if recorded is not None:
                if value != recorded:
                    raise ValidationError(
                        {
                            field: IMPORT_CONTRADICTS.format(
                                reference=incident.reference,
                                field=field,
                                value=recorded.isoformat(),
                            )
                        }
                    )
                continue
            if stored is not None or (field == "resolved_at" and worked_here):
                # Acknowledged, resolved or reopened here since it came in: the team works
                # on it here, and that record stands.
                continue
        elif stored == value:
            continue
        elif stored is not None:
            raise ValidationError(
                {
                    field: IMPORT_CONTRADICTS.format(
                        reference=incident.reference, field=field, value=stored.isoformat()
                    )
                }
            )
        else:
            raise ValidationError(
                {field: IMPORT_NOT_IMPORTED.format(reference=incident.reference, field=field)}
            )
        # The export's own acknowledgement, when it has one, orders its resolution.
        acknowledged = acknowledged_at or incident.acknowledged_at or incident.detected_at
        if value < incident.detected_at or (field == "resolved_at" and value < acknowledged):
            earlier = "detected_at" if value < incident.detected_at else "acknowledged_at"
            raise ValidationError({field: IMPORT_ORDER.format(later=field, earlier=earlier)})
        if field == "acknowledged_at":
            incident.acknowledged_at = value
            changed.append(field)
            timeline_event_record(
                incident=incident,
                kind=TimelineEventKind.ACKNOWLEDGED,
                message="Acknowledged (imported)",
                at=value,
            )
        else:
            before = incident.status
            incident.resolved_at = value
            incident.mitigated_at = incident.mitigated_at or value
            incident.status = IncidentStatus.RESOLVED
            changed += ["resolved_at", "mitigated_at", "status"]
            timeline_event_record(
                incident=incident,
                kind=TimelineEventKind.STATUS_CHANGED,
                message=(f"Status: {IncidentStatus(before).label} → Resolved (imported)"),
                at=value,
                payload={"from": before, "to": IncidentStatus.RESOLVED},
            )
    if changed:
        incident.save(update_fields=changed)
    return changed


def profile_set_digest_muted(*, user, muted: bool) -> Profile:
    """A person mutes (or unmutes) their own weekly digest. Escalations cannot be muted."""
    profile = profile_get_or_create(user=user)
    if profile.mute_digest != muted:
        profile.mute_digest = muted
        profile.save(update_fields=["mute_digest"])
    return profile


# --- Alert intake ----------------------------------------------------------------------------

ALERT_FIELD_REQUIRED = "This field is required in an alert."
UNKNOWN_SERVICE = "Unknown service: {name}."
NO_ACTIVE_SEVERITY = "No severity level is active; a manager must activate one."


def severity_for_hint(hint: str | None) -> Severity:
    """The active severity an alert's hint names, by name (``SEV-1``) or else by label
    (``Critical``), in any letter case. No hint, or one that names no active level, gives the
    least severe active level: an alert the configuration does not recognise never raises a
    louder alarm than the least one (people raise the severity once they look)."""
    active = Severity.objects.filter(is_active=True)
    hint = (hint or "").strip()
    if hint:
        found = (
            active.filter(name__iexact=hint).first()
            or active.filter(label__iexact=hint).order_by("rank").first()
        )
        if found is not None:
            return found
    least = active.order_by("-rank").first()
    if least is None:
        raise ValidationError({"severity": NO_ACTIVE_SEVERITY})
    return least


@dataclass(frozen=True)
class AlertOutcome:
    incident: Incident | None  # None: a resolved alert with no open incident to tell
    created: bool
    event: TimelineEvent | None


ALERT_RESOLVED = "resolved"


def _open_with_dedup_key(dedup_key: str) -> Incident | None:
    return (
        Incident.objects.select_for_update(of=("self",))
        .filter(dedup_key=dedup_key, status__in=OPEN_STATUSES)
        .first()
    )


@transaction.atomic
def alert_receive(
    *,
    source: str,
    dedup_key: str,
    summary: str,
    by,
    severity_hint: str = "",
    service: str = "",
    details: str = "",
    resolved: bool = False,
    at: datetime | None = None,
) -> AlertOutcome:
    """Take in an alert from a monitoring system.

    A ``resolved`` alert (the sender saying the condition cleared) never opens an incident
    nor pages anyone: it adds a note to the open incident with its key, which stays open for
    the people working it to resolve; with none open it changes nothing.

    While an incident with the alert's ``dedup_key`` is open, the alert is added to it as a
    note on its timeline (its severity is left to the people working it, and nobody is paged
    again). Otherwise a new incident is declared with the key, detected by alert, at the
    severity the hint names (``severity_for_hint``), for the named service (case-insensitive),
    and ``incident_declared`` pages that service's on-call engineer.

    One open incident per key also under concurrent alerts: the database refuses a second open
    incident with the key (``incident_one_open_per_dedup_key``); the alert that loses the race
    waits for the winner to commit and then adds its note to the winner's incident. The open
    incident is locked while a note is added.
    """
    at = _now(at)
    values = {
        "source": (source or "").strip(),
        "dedup_key": (dedup_key or "").strip(),
        "summary": (summary or "").strip(),
    }
    errors = {name: ALERT_FIELD_REQUIRED for name, value in values.items() if not value}
    if errors:
        raise ValidationError(errors)
    source, dedup_key, summary = values["source"], values["dedup_key"], values["summary"]
    found_service = None
    if (service or "").strip():
        try:
            found_service = by_name(Service.objects.select_related("team"), "name", service.strip())
        except ValidationError as error:
            raise ValidationError({"service": error.messages}) from None
        if found_service is None:
            raise ValidationError({"service": UNKNOWN_SERVICE.format(name=service.strip())})
    chosen = severity_for_hint(severity_hint)
    payload = {
        "source": source,
        "dedup_key": dedup_key,
        "summary": summary,
        "severity_hint": severity_hint or "",
        "service": found_service.name if found_service else "",
        "details": details or "",
    }

    incident = _open_with_dedup_key(dedup_key)
    if resolved:
        if incident is None:
            return AlertOutcome(incident=None, created=False, event=None)
        event = timeline_event_record(
            incident=incident,
            kind=TimelineEventKind.NOTE,
            message=f"Alert resolved at {source}: {summary}",
            at=at,
            author=by,
            payload={**payload, "status": ALERT_RESOLVED},
        )
        return AlertOutcome(incident=incident, created=False, event=event)
    if incident is None:
        try:
            # A savepoint: losing the race to another alert must not spoil this transaction.
            with transaction.atomic():
                incident = incident_declare(
                    title=summary[:200],
                    severity=chosen,
                    declared_by=by,
                    services=[found_service] if found_service else [],
                    detection_method=DetectionMethod.ALERT,
                    summary=details or "",
                    dedup_key=dedup_key,
                    at=at,
                )
        except (IntegrityError, ValidationError):
            # Another alert opened it first (its row is committed now that we could insert
            # or validate). Anything else is a real error.
            incident = _open_with_dedup_key(dedup_key)
            if incident is None:
                raise
        else:
            event = timeline_event_record(
                incident=incident,
                kind=TimelineEventKind.NOTE,
                message=f"Opened by an alert from {source}: {summary}",
                at=at,
                author=by,
                payload={**payload, "severity": chosen.name},
            )
            return AlertOutcome(incident=incident, created=True, event=event)
    event = timeline_event_record(
        incident=incident,
        kind=TimelineEventKind.NOTE,
        message=f"Alert again from {source}: {summary}",
        at=at,
        author=by,
        payload=payload,
    )
    return AlertOutcome(incident=incident, created=False, event=event)


# --- API tokens --------------------------------------------------------------------------------

API_KEY_NAME_REQUIRED = "Name the token after what will use it."
API_KEY_ALREADY_REVOKED = "This token was already revoked."
TOKEN_LAST_USED_EVERY = timedelta(minutes=1)


@transaction.atomic
def api_token_issue(*, user, name: str, by, at: datetime | None = None) -> tuple[ApiToken, str]:
    """Issue an API token acting as ``user``. Returns the row and the plain token
    (``idk_<prefix>.<secret>``), which is shown once and never stored: the row keeps only its
    SHA-256 hash and the prefix that finds it."""
    at = _now(at)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": API_KEY_NAME_REQUIRED})
    if user is None or not user.is_active:
        raise ValidationError({"user": INACTIVE_USER.format(user=user)})
    prefix = secrets.token_hex(6)
    plain = f"{KEY_MARKER}{prefix}.{secrets.token_urlsafe(32)}"
    token = ApiToken(
        user=user,
        name=name,
        prefix=prefix,
        key_hash=hash_token(plain),
        created_at=at,
        created_by=by,
    )
    token.full_clean()
    token.save()
    return token, plain


@transaction.atomic
def api_token_revoke(*, token: ApiToken, by, at: datetime | None = None) -> ApiToken:
    """Revoke a token: it stops working at once. The row stays, with who revoked it and when."""
    at = _now(at)
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        raise ValidationError(API_KEY_ALREADY_REVOKED)
    token.revoked_at = at
    token.revoked_by = by
    token.save(update_fields=["revoked_at", "revoked_by"])
    return token


def api_token_mark_used(*, token: ApiToken, at: datetime | None = None) -> None:
    """Stamp when the token was last used, at most once a minute (one UPDATE, no lock)."""
    at = _now(at)
    if token.last_used_at is not None and at - token.last_used_at < TOKEN_LAST_USED_EVERY:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=at)
    token.last_used_at = at


# --- Idempotency keys --------------------------------------------------------------------------

IDEMPOTENCY_KEY_REUSED = (
    "This Idempotency-Key was used for a different request ({method} {path}); use a new key "
    "for a new request."
)


class IdempotencyKeyReused(Exception):
    """The key was used before by the same person for another request (other path or body)."""


def idempotency_claim(
    *, user, key: str, method: str, path: str, fingerprint: str, at: datetime | None = None
) -> IdempotencyKey:
    """Claim ``key`` for this request, inside the caller's transaction.

    The row is inserted with ``ON CONFLICT DO NOTHING`` and then locked. On PostgreSQL a
    concurrent request with the same key blocks on the insert until the first transaction
    ends: if it committed, the second finds the stored response (``response_status`` set) and
    replays it; if it rolled back, the second owns the key. The caller must store the response
    with ``idempotency_complete`` in the same transaction, or roll back.
    Raises ``IdempotencyKeyReused`` when the key was used for another request within
    ``API_IDEMPOTENCY_KEY_TTL``; an older use is forgotten.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("idempotency_claim must run inside the request's transaction.")
    at = _now(at)
    # A key older than the time it is kept for is forgotten now, not when the hourly purge
    # next runs (it may be paused): it neither replays an old response nor refuses this one.
    IdempotencyKey.objects.filter(
        user=user, key=key, created_at__lt=at - timedelta(seconds=settings.API_IDEMPOTENCY_KEY_TTL)
    ).delete()
    IdempotencyKey.objects.bulk_create(
        [
            IdempotencyKey(
                user=user,
                key=key,
                method=method,
                path=path[:500],
                fingerprint=fingerprint,
                created_at=at,
            )
        ],
        ignore_conflicts=True,
    )
    record = IdempotencyKey.objects.select_for_update().get(user=user, key=key)
    if (record.method, record.path, record.fingerprint) != (method, path[:500], fingerprint):
        raise IdempotencyKeyReused(
            IDEMPOTENCY_KEY_REUSED.format(method=record.method, path=record.path)
        )
    return record


def idempotency_complete(
    *, record: IdempotencyKey, status: int, body: str, headers: dict[str, str] | None = None
) -> IdempotencyKey:
    """Store the response (its rendered JSON text) of the request that owns ``record``, in the
    same transaction."""
    record.response_status = status
    record.response_body = body
    record.response_headers = headers or {}
    record.save(update_fields=["response_status", "response_body", "response_headers"])
    return record


def idempotency_keys_purge(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Forget keys older than ``older_than``; a request reusing one then creates anew.
    Safe to run twice or concurrently (one DELETE)."""
    cutoff = _now(now) - older_than
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# --- People ----------------------------------------------------------------------------------


def person_switched_off(*, user, by, at: datetime | None = None) -> list[str]:
    """An account was switched off (``is_active`` from true to false): the other apps let go
    of what it held (the on-call app its shifts to come). Returns what they changed, in words
    for the manager who did it."""
    from django.contrib.auth import get_user_model

    from incidents.signals import person_switched_off as signal

    results = signal.send(sender=get_user_model(), user=user, by=by, at=_now(at))
    return [said for _receiver, said in results if said]
