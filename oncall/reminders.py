"""On-call sweeps run by Celery beat: escalate unacknowledged pages, ask for handoff summaries,
and remind engineers the evening before their shift. Each finds its work in a fixed number of
queries and records notifications under keys that make a second run a no-op."""

from datetime import datetime, time, timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from incidents.events import timeline_events_record_once
from incidents.models import TimelineEvent, TimelineEventKind
from incidents.notifications import notify
from oncall import messages as oncall_messages
from oncall import services
from oncall.models import Handoff, Page, PageSource, Shift, ShiftRole

# Pages older than this are history, not emergencies: they are never escalated.
ESCALATION_WINDOW = timedelta(hours=12)
HANDOFF_REQUEST_LEAD = timedelta(hours=1)
HEADS_UP_AT = time(18, 0)
HEADS_UP_LOOKAHEAD = timedelta(hours=48)
# A page stops escalating once its incident is resolved, or once anyone answered since the
# page went out: the incident was acknowledged, or another of its pages was. A page sent after
# that (a call for help) still escalates when nobody answers it. A page without an incident
# stops when the page it escalates was answered after all.
STILL_UNANSWERED = Q(
    incident__isnull=True,
    escalated_from__acknowledged_at__isnull=True,
) | Q(
    Q(incident__acknowledged_at__isnull=True) | Q(incident__acknowledged_at__lt=F("paged_at")),
    ~Exists(
        Page.objects.filter(
            incident_id=OuterRef("incident_id"), acknowledged_at__gte=OuterRef("paged_at")
        )
    ),
    incident__isnull=False,
    incident__resolved_at__isnull=True,
)


@transaction.atomic
def sweep_unacknowledged_pages(*, now: datetime) -> int:
    """Escalate each page not acknowledged by its due moment: the first page goes to the team's
    secondary on call (or straight to the team's manager when there is none), the secondary's
    page to the manager. Each page escalates once (its key); the new page is on the
    incident's timeline. A page whose incident somebody acknowledged after it went out, or
    that is resolved, does not escalate (``STILL_UNANSWERED``). Returns how many escalations
    this run made."""
    overdue = list(
        Page.objects.filter(
            STILL_UNANSWERED,
            acknowledged_at__isnull=True,
            ack_due_at__lt=now,  # acknowledged at the due moment is in time
            paged_at__gte=now - ESCALATION_WINDOW,
            escalation_level__lt=2,
            escalations__isnull=True,
        )
        .exclude(source=PageSource.IMPORTED)
        .select_related("engineer", "incident__severity", "team__engineering_manager")
    )
    if not overdue:
        return 0
    teams = {page.team_id for page in overdue if page.team_id}
    secondaries = {}
    for shift in (
        Shift.objects.filter(
            rotation__team_id__in=teams,
            rotation__is_active=True,
            engineer__is_active=True,  # a switched-off secondary is skipped for the manager
            role=ShiftRole.SECONDARY,
            starts_at__lte=now,
            ends_at__gt=now,
        )
        .select_related("engineer", "rotation")
        .order_by("rotation__name", "starts_at")
    ):
        secondaries.setdefault(shift.rotation.team_id, shift)

    plans, messages, dead_ends = [], [], []
    for page in overdue:
        team = page.team
        manager = team.engineering_manager if team else None
        target, level, rotation = None, None, None
        if page.escalation_level == 0:
            shift = secondaries.get(page.team_id)
            if shift is not None and shift.engineer_id != page.engineer_id:
                target, level, rotation = shift.engineer, 1, shift.rotation
        if (
            target is None
            and manager is not None
            and manager.is_active  # a switched-off manager is nobody to escalate to
            and manager.pk != page.engineer_id
        ):
            target, level = manager, 2
        if target is None:
            if page.incident_id:
                dead_ends.append(page)
            continue
        messages.append(oncall_messages.page_escalation_message(page, target, level))
        plans.append((page, target, level, rotation))

    recorded = notify(messages, now=now)
    # Only what this run recorded: a concurrent run escalated the rest already.
    made = services.pages_record_escalations(
        [plan for plan in plans if f"page-escalation:{plan[0].pk}" in recorded], at=now
    )
    timeline_events_record_once(
        [
            TimelineEvent(
                incident=page.incident,
                kind=TimelineEventKind.ESCALATION,
                occurred_at=now,
                message=(
                    f"Page to {page.engineer} not acknowledged and nobody is left to escalate it to"
                ),
                payload={"page_id": page.pk},
                dedup_key=f"page-escalation-dead-end:{page.pk}",
            )
            for page in dead_ends
        ]
    )
    return len(made)


@transaction.atomic
def sweep_handoff_requests(*, now: datetime) -> int:
    """An hour before each primary handoff, ask the outgoing engineer for the summary (once).
    Creates the handoff rows for boundaries coming up. Four queries."""
    ending = list(
        Shift.objects.filter(
            role=ShiftRole.PRIMARY,
            rotation__is_active=True,
            engineer__is_active=True,  # a switched-off engineer hands nothing over
            ends_at__gt=now,
            ends_at__lte=now + HANDOFF_REQUEST_LEAD,
        ).values("rotation_id", "ends_at", "engineer_id")
    )
    if not ending:
        return 0
    starting = {
        (s["rotation_id"], s["starts_at"]): s["engineer_id"]
        for s in Shift.objects.filter(
            role=ShiftRole.PRIMARY,
            rotation_id__in={e["rotation_id"] for e in ending},
            starts_at__in={e["ends_at"] for e in ending},
            engineer__is_active=True,  # nothing is handed over to someone who left
        ).values("rotation_id", "starts_at", "engineer_id")
    }
    handoffs = [
        Handoff(
            rotation_id=e["rotation_id"],
            handoff_at=e["ends_at"],
            outgoing_id=e["engineer_id"],
            incoming_id=starting[(e["rotation_id"], e["ends_at"])],
        )
        for e in ending
        if (e["rotation_id"], e["ends_at"]) in starting
        and starting[(e["rotation_id"], e["ends_at"])] != e["engineer_id"]
    ]
    Handoff.objects.bulk_create(handoffs, ignore_conflicts=True)
    boundaries = {(h.rotation_id, h.handoff_at) for h in handoffs}
    found = Handoff.objects.filter(
        rotation_id__in={r for r, _ in boundaries},
        handoff_at__in={t for _, t in boundaries},
        written_at__isnull=True,
    ).select_related("rotation__team", "outgoing__profile", "incoming__profile")
    messages = [
        oncall_messages.handoff_request_message(h)
        for h in found
        if (h.rotation_id, h.handoff_at) in boundaries
    ]
    return len(notify(messages, now=now))


def heads_up_moment(shift: Shift, zone) -> datetime:
    """18:00 on the evening before the shift starts, in the engineer's own time zone."""
    start_day = shift.starts_at.astimezone(zone).date()
    return datetime.combine(start_day - timedelta(days=1), HEADS_UP_AT, tzinfo=zone)


@transaction.atomic
def sweep_shift_heads_up(*, now: datetime) -> int:
    """The evening before a shift starts (18:00 in the engineer's zone, DST-aware), remind the
    incoming engineer, once per shift. A shift created after that evening is announced at
    once. Two queries plus the recording."""
    shifts = (
        Shift.objects.filter(
            rotation__is_active=True,
            engineer__is_active=True,  # a switched-off engineer is on call for nobody
            starts_at__gt=now,
            starts_at__lte=now + HEADS_UP_LOOKAHEAD,
        )
        # The rest of a shift after someone covered part of it: its engineer has been on call
        # all along, and was told when the cover ends.
        .exclude(reason=services.REST_OF_SHIFT)
        .select_related("engineer__profile", "rotation__team")
        .order_by("starts_at")
    )
    messages = []
    for shift in shifts:
        profile = getattr(shift.engineer, "profile", None)
        zone = profile.zone if profile else services.selectors.project_zone()
        if now >= heads_up_moment(shift, zone):
            messages.append(oncall_messages.shift_heads_up_message(shift))
    return len(notify(messages, now=now))


# --- Before sending: does a message still apply? -----------------------------------------------


def _page_answered_or_over(page_id) -> str | None:
    page = Page.objects.filter(pk=page_id).select_related("incident").first()
    if page is None:
        return "the page was deleted"
    if page.acknowledged_at is not None:
        return "the page was acknowledged"
    if page.incident is not None and page.incident.resolved_at is not None:
        return f"{page.incident.reference} was resolved"
    return None


def page_applies(notification) -> str | None:
    """Being paged still applies while the page is unanswered and its incident unresolved."""
    return _page_answered_or_over(notification.payload.get("page_id"))


def page_escalation_applies(notification) -> str | None:
    """An escalated page still applies while the page it escalates is unanswered, by the
    sweep's own rule (``STILL_UNANSWERED``: nobody answered the incident since it went out,
    and it is not resolved)."""
    page_id = notification.payload.get("escalated_page_id")
    why = _page_answered_or_over(page_id)
    if why is None and not Page.objects.filter(STILL_UNANSWERED, pk=page_id).exists():
        return "somebody answered since"
    return why


def handoff_request_applies(notification) -> str | None:
    """Asking for the handoff summary applies until it is written, to whoever is still the
    outgoing engineer."""
    handoff = Handoff.objects.filter(pk=notification.payload.get("handoff_id")).first()
    if handoff is None:
        return "the handoff is gone"
    if handoff.written_at is not None:
        return "the handoff summary was written"
    if handoff.outgoing_id != notification.recipient_id:
        return "someone else hands the shift over now"
    if notification.recipient is not None and not notification.recipient.is_active:
        return "their account is switched off"
    return None


def shift_heads_up_applies(notification) -> str | None:
    """A heads-up applies while the shift is still the recipient's and not over."""
    shift = Shift.objects.filter(pk=notification.payload.get("shift_id")).first()
    if shift is None:
        return "the shift was removed"
    if shift.engineer_id != notification.recipient_id:
        return "the shift was given to someone else"
    if shift.ends_at <= timezone.now():
        return "the shift is over"
    return None


def register_send_checks() -> None:
    from incidents.notifications import register_still_applies

    register_still_applies("page", page_applies)
    register_still_applies("page_escalation", page_escalation_applies)
    register_still_applies("handoff_request", handoff_request_applies)
    register_still_applies("shift_heads_up", shift_heads_up_applies)
