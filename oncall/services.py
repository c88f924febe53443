"""Every write to on-call data: shifts, overrides, handoffs, pages, comp time, policies and
pay periods. Each function owns its transaction and validates with a clear message."""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from incidents import services as incident_services
from incidents import validators
from incidents.events import timeline_event_record, timeline_events_record_once
from incidents.models import Incident, TimelineEvent, TimelineEventKind
from incidents.models.incident import OPEN_STATUSES, shown_moment
from incidents.notifications import notify
from oncall import messages as oncall_messages
from oncall import selectors
from oncall.compensation import day_start
from oncall.models import (
    CalendarFeed,
    CompensationLine,
    CompensationPolicy,
    CompTimeTaken,
    Handoff,
    Page,
    PageSource,
    PayPeriod,
    PayPeriodStatus,
    Rotation,
    Shift,
    ShiftRole,
    ShiftSource,
)

User = get_user_model()

DEFAULT_PAGE_ACK_WITHIN = timedelta(minutes=5)

NO_MEMBERS = "The rotation has no active members to put on call."
ROTATION_RETIRED = (
    "The rotation is out of use: it pages nobody, so it gets no shifts. Put it back in use first."
)
WEEKS_OUT_OF_RANGE = "Generate between 1 and 52 weeks at a time."
OVERRIDE_OUTSIDE_SHIFT = "The override must lie within the shift it covers ({start} - {end})."
OVERRIDE_EMPTY = "The override must end after it starts."
OVERRIDE_SAME_ENGINEER = "{user} already holds this shift; choose someone else to cover it."
INACTIVE_ENGINEER = "{user} is not an active user."
HANDOFF_NOT_YOURS = "Only the outgoing engineer ({user}) can write this handoff."
HANDOFF_SUMMARY_REQUIRED = "Write a summary for the incoming engineer."
HANDOFF_ACK_NOT_YOURS = "Only the incoming engineer ({user}) can acknowledge this handoff."
HANDOFF_NOT_WRITTEN = "The outgoing engineer has not written the summary yet."
HANDOFF_NO_BOUNDARY = "No handoff happens at that moment in this rotation."
PAGE_NOT_YOURS = "Only the paged engineer ({user}) can acknowledge this page."
PAGE_ALREADY_ACKNOWLEDGED = "This page was already acknowledged at {at}."
PAGE_ACK_BEFORE_PAGED = "A page cannot be acknowledged before it was sent."
PAGE_ACK_WINDOW = timedelta(days=7)
PAGE_TOO_OLD = (
    "This page went out at {at}, more than 7 days ago: it can no longer be acknowledged (an "
    "acknowledged page earns comp time, and the pay of that week may be closed)."
)
COMP_TIME_OWN_APPROVAL = "Comp time is approved by someone else than the engineer who took it."
PAGE_INCIDENT_RESOLVED = (
    "{incident} was resolved at {at}; its page can no longer be acknowledged "
    "(nothing is left to handle)."
)
COMP_TIME_HOURS = "Comp time is logged in hours greater than zero (at most 24 a day)."
COMP_TIME_DAY_FULL = (
    "{day} already has {logged} h of comp time logged; at most {left} h more fit in the day."
)
DAY_HOURS = 24
COMP_TIME_ALREADY_APPROVED = "This comp time was already approved."
PERIOD_ALREADY_CLOSED = "This pay period is already closed."
PERIOD_NOT_OVER = "A pay period can only be closed after it ends ({end})."
POLICY_NOT_AFTER_CURRENT = (
    "A new policy must start after the one in force from {start}; to change that one, "
    "supersede it from a later date."
)
POLICY_IN_FORCE_NOT_DELETED = (
    "The policy from {start} has taken effect and prices past work; supersede it instead."
)


def _now(at: datetime | None) -> datetime:
    return at if at is not None else timezone.now()


def _shown(moment: datetime) -> str:
    """A moment in a message: the reader's zone, to the minute, the zone named."""
    return shown_moment(moment)


def _who(user) -> str:
    return user.get_full_name() or user.get_username()


# --- Rotations and shifts -----------------------------------------------------------------


def handoff_moment(rotation: Rotation, week: int) -> datetime:
    """The wall-clock handoff of week ``week`` (see ``Rotation.handoff_moment``)."""
    return rotation.handoff_moment(week)


def week_index_at(rotation: Rotation, moment: datetime) -> int:
    """The rotation week running at ``moment`` (see ``Rotation.week_index_at``)."""
    return rotation.week_index_at(moment)


@transaction.atomic
def rotation_generate_shifts(
    *, rotation: Rotation, weeks: int, by=None, now: datetime | None = None
) -> list[Shift]:
    """Create the rotation's weekly shifts from the week running now to ``weeks`` weeks ahead.

    Week k runs from the handoff of week k to the next, at the rotation's wall-clock weekday
    and time, so DST never moves the handoff hour. Of the active members (someone who left is
    never put on call), member ``k mod n`` is primary and member ``k + 1 mod n`` secondary;
    never one person in both roles at once: a gap goes to the next member in order who does
    not hold the other role then (a secondary nobody else can be is left out; a primary never
    is).
    Shifts already there for a role (generated, imported, overridden or added by hand) are left
    alone and only the hours of the week they leave uncovered get a new shift, so running it
    again adds only what is missing, also after the handoff weekday or time changed. A
    switched-off engineer's shifts not started yet are on call for nobody: they go (one running
    now ends now), and their hours are filled like any gap, never by the engineer an override
    of theirs was covering. A rotation out of use is refused. Locks the rotation row so
    two runs cannot both add a shift.
    """
    if not 1 <= weeks <= 52:
        raise ValidationError({"weeks": WEEKS_OUT_OF_RANGE})
    now = _now(now)
    rotation = Rotation.objects.select_for_update().get(pk=rotation.pk)
    if not rotation.is_active:
        raise ValidationError(ROTATION_RETIRED)
    members = [
        m.user
        for m in rotation.members.select_related("user").order_by("position")
        if m.user.is_active
    ]
    if not members:
        raise ValidationError(NO_MEMBERS)
    first = week_index_at(rotation, now)
    span_start = handoff_moment(rotation, first)
    span_end = handoff_moment(rotation, first + weeks)
    gone = Shift.objects.filter(
        rotation=rotation, engineer__is_active=False, starts_at__gte=now, starts_at__lt=span_end
    )
    # An override's hours do not go back to the engineer it covered (away, ill).
    avoid = list(
        gone.filter(covered_engineer__isnull=False).values_list(
            "covered_engineer_id", "starts_at", "ends_at"
        )
    )
    gone.delete()
    # One running now ends now, as when a rotation is retired: the rest is filled below.
    Shift.objects.filter(
        rotation=rotation, engineer__is_active=False, starts_at__lt=now, ends_at__gt=now
    ).update(ends_at=now)
    # (role, engineer id, start, end) of every shift in the span, the new ones added as made.
    placed = list(
        Shift.objects.filter(
            rotation=rotation, ends_at__gt=span_start, starts_at__lt=span_end
        ).values_list("role", "engineer_id", "starts_at", "ends_at")
    )

    def uncovered(role: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The parts of [start, end) no shift of ``role`` covers, in order."""
        gaps, cursor = [], start
        for s, e in sorted((s, e) for r, _, s, e in placed if r == role and s < end and e > start):
            if s > cursor:
                gaps.append((cursor, s))
            cursor = max(cursor, e)
        if cursor < end:
            gaps.append((cursor, end))
        return gaps

    def free(engineer, role: str, start: datetime, end: datetime) -> bool:
        """Whether ``engineer`` holds no other role at any moment of [start, end), and is not
        someone a removed override was covering then."""
        return not any(
            r != role and who == engineer.pk and s < end and e > start for r, who, s, e in placed
        ) and not any(who == engineer.pk and s < end and e > start for who, s, e in avoid)

    new = []
    for week in range(first, first + weeks):
        start, end = handoff_moment(rotation, week), handoff_moment(rotation, week + 1)
        slots = [(ShiftRole.PRIMARY, week)]
        if rotation.has_secondary and len(members) > 1:
            slots.append((ShiftRole.SECONDARY, week + 1))
        for role, turn in slots:
            for gap_start, gap_end in uncovered(role, start, end):
                # The member whose turn it is, else the next in order who is free then.
                engineer = next(
                    (
                        candidate
                        for step in range(len(members))
                        if free(
                            candidate := members[(turn + step) % len(members)],
                            role,
                            gap_start,
                            gap_end,
                        )
                    ),
                    None,
                )
                if engineer is None and role == ShiftRole.PRIMARY:
                    # Nobody else can be: a primary is never left out (the one member left
                    # may then be both, and escalation skips a secondary who is the primary).
                    engineer = members[turn % len(members)]
                if engineer is None:
                    continue
                new.append(
                    Shift(
                        rotation=rotation,
                        engineer=engineer,
                        role=role,
                        starts_at=gap_start,
                        ends_at=gap_end,
                        source=ShiftSource.GENERATED,
                        created_by=by,
                    )
                )
                placed.append((role, engineer.pk, gap_start, gap_end))
    return Shift.objects.bulk_create(new)


REST_OF_SHIFT = "Rest of the shift after an override"
SHIFT_OVERLAPS = (
    "{engineer} is already {role} on this rotation from {start} to {end}: one person holds a "
    "role at a time. Use an override to hand part of a shift to someone else."
)


def shift_overlap_problem(
    *,
    rotation,
    role: str,
    starts_at: datetime,
    ends_at: datetime,
    exclude_pk=None,
    engineer=None,
) -> str | None:
    """Why a shift added or moved by hand cannot cover [starts_at, ends_at): another shift of
    the same rotation and role already covers part of it (another engineer's, when
    ``engineer`` is given: one's own overlapping shifts count once). None when it fits."""
    clashes = Shift.objects.filter(
        rotation=rotation, role=role, starts_at__lt=ends_at, ends_at__gt=starts_at
    )
    if engineer is not None:
        clashes = clashes.exclude(engineer=engineer)
    clash = clashes.exclude(pk=exclude_pk).select_related("engineer").order_by("starts_at").first()
    if clash is None:
        return None
    zone = timezone.get_current_timezone()
    return SHIFT_OVERLAPS.format(
        engineer=_who(clash.engineer),
        role=clash.get_role_display().lower(),
        start=clash.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        end=clash.ends_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
    )


SWAP_HINT = "To trade places for these hours, override with “swap” ticked."
BOTH_ROLES = (
    "{engineer} is {role} on this rotation from {start} to {end}: one person cannot be primary "
    "and secondary at once, or escalation would skip the backup. Hand that shift on first."
)


def shift_both_roles_problem(
    *, rotation, role: str, engineer, starts_at: datetime, ends_at: datetime, exclude_pk=None
) -> str | None:
    """Why ``engineer`` cannot hold ``role`` of ``rotation`` over [starts_at, ends_at): they
    hold the rotation's other role during part of it. None when they do not."""
    clash = (
        Shift.objects.filter(
            rotation=rotation, engineer=engineer, starts_at__lt=ends_at, ends_at__gt=starts_at
        )
        .exclude(role=role)
        .exclude(pk=exclude_pk)
        .order_by("starts_at")
        .first()
    )
    if clash is None:
        return None
    zone = timezone.get_current_timezone()
    return BOTH_ROLES.format(
        engineer=_who(engineer),
        role=clash.get_role_display().lower(),
        start=clash.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        end=clash.ends_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
    )


@transaction.atomic
def rotation_retire(*, rotation: Rotation, now: datetime | None = None) -> tuple[int, int]:
    """A rotation taken out of use: nobody is on call for it from now on. Its shifts not
    started yet go, and one running now ends now (its hours so far were on call, and are
    paid; the rest would be paid for a rotation that pages nobody). Worked shifts stay.
    Returns how many shifts went and how many were cut short."""
    now = _now(now)
    rotation = Rotation.objects.select_for_update().get(pk=rotation.pk)
    removed, _ = Shift.objects.filter(rotation=rotation, starts_at__gte=now).delete()
    cut = Shift.objects.filter(rotation=rotation, starts_at__lt=now, ends_at__gt=now).update(
        ends_at=now
    )
    return removed, cut


@transaction.atomic
def engineer_switched_off(sender=None, *, user, at: datetime | None = None, **kwargs) -> str | None:
    """``person_switched_off``: someone switched off is on call for nobody from now, and
    paid for no week they will not work. In each rotation they have a shift to come in, their
    shifts not started yet go and one running now ends now, and the rotation's weeks are
    generated again so another member covers those hours (as generation does once it runs).
    A rotation with no active member left keeps the gap. Returns what changed, or None."""
    now = _now(at)
    mine = Shift.objects.filter(engineer=user, ends_at__gt=now)
    gone = mine.count()
    if not gone:
        return None
    filled = []
    for rotation in Rotation.objects.filter(pk__in=mine.values("rotation_id")).order_by("name"):
        last = Shift.objects.filter(rotation=rotation, engineer=user).latest("ends_at").ends_at
        weeks = week_index_at(rotation, last - timedelta(microseconds=1))
        weeks = min(max(weeks - week_index_at(rotation, now) + 1, 1), 52)
        try:
            if rotation.is_active:
                rotation_generate_shifts(rotation=rotation, weeks=weeks, now=now)
                filled.append(rotation.name)
        except ValidationError:
            pass  # nobody left to put on call: the hours stay uncovered
        # What generation did not reach (beyond its span, or no member left) goes too.
        Shift.objects.filter(rotation=rotation, engineer=user, starts_at__gte=now).delete()
        Shift.objects.filter(
            rotation=rotation, engineer=user, starts_at__lt=now, ends_at__gt=now
        ).update(ends_at=now)
    said = f"{_who(user)} is on call for nobody from now: {gone} shift(s) to come went or ended"
    if filled:
        said += f", and {', '.join(filled)} were filled by their other members"
    return said + "."


@transaction.atomic
def rotation_secondary_dropped(
    *, rotation: Rotation, now: datetime | None = None
) -> tuple[int, int]:
    """A rotation that no longer has a secondary: its secondary shifts not started yet go,
    and one running now ends now (nobody is paged as its secondary any more, so nobody is
    paid for it). Returns how many went and how many were cut short."""
    now = _now(now)
    rotation = Rotation.objects.select_for_update().get(pk=rotation.pk)
    secondary = Shift.objects.filter(rotation=rotation, role=ShiftRole.SECONDARY)
    removed, _ = secondary.filter(starts_at__gte=now).delete()
    cut = secondary.filter(starts_at__lt=now, ends_at__gt=now).update(ends_at=now)
    return removed, cut


@transaction.atomic
def rotation_member_left(*, rotation: Rotation, user, now: datetime | None = None) -> int:
    """Someone left a rotation: their generated shifts in it that have not started yet go
    (someone who left is never put on call, or paid for it). Shifts already worked, and ones
    added by hand or covering someone, stay. Returns how many went."""
    deleted, _ = Shift.objects.filter(
        rotation=rotation,
        engineer=user,
        source=ShiftSource.GENERATED,
        starts_at__gt=_now(now),
    ).delete()
    return deleted


@transaction.atomic
def shift_override(
    *,
    shift: Shift,
    starts_at: datetime,
    ends_at: datetime,
    engineer,
    by=None,
    reason: str = "",
    swap: bool = False,
    announce: bool = True,
) -> Shift:
    """Let ``engineer`` cover [starts_at, ends_at) of ``shift`` (a swap, sickness).

    The covering engineer gets an override shift; the original is split around it, so the
    pieces never overlap: [start, starts_at) stays with the original engineer, as does
    [ends_at, end) (a new shift), and a fully covered original is removed. Returns the override.

    Nobody holds both roles of a rotation at once: covering someone while holding the other
    role is refused, unless ``swap``: then the engineer covered takes the covering engineer's
    other role for those hours (primary and secondary trade places).
    """
    shift = Shift.objects.select_for_update().get(pk=shift.pk)
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": OVERRIDE_EMPTY})
    if starts_at < shift.starts_at or ends_at > shift.ends_at:
        raise ValidationError(
            OVERRIDE_OUTSIDE_SHIFT.format(
                start=shift.starts_at.isoformat(), end=shift.ends_at.isoformat()
            )
        )
    if engineer.pk == shift.engineer_id:
        raise ValidationError({"engineer": OVERRIDE_SAME_ENGINEER.format(user=_who(engineer))})
    if not engineer.is_active:
        raise ValidationError({"engineer": INACTIVE_ENGINEER.format(user=engineer)})
    problem = shift_both_roles_problem(
        rotation=shift.rotation,
        role=shift.role,
        engineer=engineer,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    if problem and not swap:
        raise ValidationError({"engineer": f"{problem} {SWAP_HINT}"})
    if problem and not shift.engineer.is_active:
        raise ValidationError({"engineer": INACTIVE_ENGINEER.format(user=shift.engineer)})
    traded = (
        list(
            Shift.objects.filter(
                rotation=shift.rotation,
                engineer=engineer,
                starts_at__lt=ends_at,
                ends_at__gt=starts_at,
            )
            .exclude(role=shift.role)
            .order_by("starts_at")
        )
        if problem
        else []
    )

    override = Shift(
        rotation=shift.rotation,
        engineer=engineer,
        role=shift.role,
        starts_at=starts_at,
        ends_at=ends_at,
        source=ShiftSource.OVERRIDE,
        covered_engineer=shift.engineer,
        overrides=shift,
        reason=reason,
        created_by=by,
    )
    before = starts_at > shift.starts_at
    after = ends_at < shift.ends_at
    if before and after:
        # The rest of the shift is what the shift was: an override's rest still covers the
        # same engineer, for the same reason.
        Shift.objects.create(
            rotation=shift.rotation,
            engineer=shift.engineer,
            role=shift.role,
            starts_at=ends_at,
            ends_at=shift.ends_at,
            source=shift.source,
            overrides=shift.overrides,
            covered_engineer=shift.covered_engineer,
            reason=shift.reason if shift.covered_engineer_id else REST_OF_SHIFT,
            created_by=by,
        )
        shift.ends_at = starts_at
        shift.save(update_fields=["ends_at"])
    elif before:
        shift.ends_at = starts_at
        shift.save(update_fields=["ends_at"])
    elif after:
        shift.starts_at = ends_at
        shift.save(update_fields=["starts_at"])
    else:
        # Covered entirely: the original gives way to the override, which keeps its import
        # key so importing the same history again does not bring the original back.
        override.overrides = None
        override.import_key = shift.import_key
        shift.delete()
    override.save()
    # A handoff at either end of the override, not written yet, now names who is on call.
    for boundary in Handoff.objects.filter(
        rotation=override.rotation,
        handoff_at__in=[override.starts_at, override.ends_at],
        written_at__isnull=True,
    ):
        handoff_for(rotation=override.rotation, handoff_at=boundary.handoff_at)
    now = timezone.now()
    halves = [
        # The swap's other half: the engineer covered takes the covering one's other role.
        shift_override(
            shift=other,
            starts_at=max(other.starts_at, starts_at),
            ends_at=min(other.ends_at, ends_at),
            engineer=shift.engineer,
            by=by,
            reason=reason,
            announce=False,
        )
        for other in traded
    ]
    if announce and override.ends_at > now:
        # A swap is told as one: each engineer learns the role they hold then, never "off
        # call" while they take the other's.
        messages = (
            oncall_messages.swap_messages(override, halves)
            if halves
            else oncall_messages.override_messages(override)
        )
        notify(messages, now=now)
    return override


# --- Handoffs ------------------------------------------------------------------------------


@transaction.atomic
def handoff_for(*, rotation: Rotation, handoff_at: datetime) -> Handoff:
    """The handoff at a rotation boundary, created with the outgoing and incoming primaries
    (the engineer whose primary shift ends and the one whose primary shift starts there)."""
    existing = Handoff.objects.filter(rotation=rotation, handoff_at=handoff_at).first()
    if existing is not None and existing.written_at is not None:
        return existing  # written: it stays between the two people it was written for
    ending = Shift.objects.filter(
        rotation=rotation, role=ShiftRole.PRIMARY, ends_at=handoff_at
    ).first()
    starting = Shift.objects.filter(
        rotation=rotation, role=ShiftRole.PRIMARY, starts_at=handoff_at
    ).first()
    if existing is not None:
        # Not written yet: an override since it was created may have changed who hands
        # over to whom, and the person on call now is the one to write it.
        if ending is not None and starting is not None:
            people = (ending.engineer_id, starting.engineer_id)
            if (existing.outgoing_id, existing.incoming_id) != people:
                existing.outgoing_id, existing.incoming_id = people
                existing.save(update_fields=["outgoing", "incoming"])
        return existing
    if ending is None or starting is None:
        raise ValidationError(HANDOFF_NO_BOUNDARY)
    handoff, _ = Handoff.objects.get_or_create(
        rotation=rotation,
        handoff_at=handoff_at,
        defaults={"outgoing": ending.engineer, "incoming": starting.engineer},
    )
    return handoff


@transaction.atomic
def handoff_write(*, handoff: Handoff, author, summary: str, at: datetime | None = None) -> Handoff:
    """The outgoing engineer writes (or rewrites) the summary for the incoming one. A rewrite
    after the incoming engineer read it is unread again, and they are told of the change."""
    handoff = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("outgoing")
        .get(pk=handoff.pk)
    )
    if author.pk != handoff.outgoing_id:
        raise ValidationError(HANDOFF_NOT_YOURS.format(user=_who(handoff.outgoing)))
    summary = (summary or "").strip()
    if not summary:
        raise ValidationError({"summary": HANDOFF_SUMMARY_REQUIRED})
    if summary == handoff.summary and handoff.written_at is not None:
        return handoff  # saved again unchanged: nothing new to read
    read = handoff.acknowledged_at is not None
    handoff.summary = summary
    handoff.written_at = _now(at)
    handoff.acknowledged_at = None
    handoff.save(update_fields=["summary", "written_at", "acknowledged_at"])
    notify(
        [oncall_messages.handoff_written_message(handoff, rewritten_after_read=read)],
        now=handoff.written_at,
    )
    return handoff


@transaction.atomic
def handoff_acknowledge(*, handoff: Handoff, by, at: datetime | None = None) -> Handoff:
    """The incoming engineer confirms they read the summary."""
    handoff = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("incoming")
        .get(pk=handoff.pk)
    )
    if by.pk != handoff.incoming_id:
        raise ValidationError(HANDOFF_ACK_NOT_YOURS.format(user=_who(handoff.incoming)))
    if handoff.written_at is None:
        raise ValidationError(HANDOFF_NOT_WRITTEN)
    if handoff.acknowledged_at is None:
        handoff.acknowledged_at = _now(at)
        handoff.save(update_fields=["acknowledged_at"])
    return handoff


# --- Pages ---------------------------------------------------------------------------------


@transaction.atomic
def page_record(
    *,
    engineer,
    paged_at: datetime | None = None,
    incident: Incident | None = None,
    source: str = PageSource.MANUAL,
    message: str = "",
    rotation: Rotation | None = None,
    team=None,
    escalated_from: Page | None = None,
    acknowledged_at: datetime | None = None,
    escalation_level: int | None = None,
    send: bool = True,
) -> Page:
    """Record a page to ``engineer`` and send it (``send=False`` for history and for pages
    whose message was already recorded, such as escalations). Its acknowledgement is due
    after the rotation's target (runbook: 5 minutes). A page for an incident is written to the
    incident's timeline."""
    paged_at = _now(paged_at)
    if validators.too_early(paged_at):
        raise ValidationError({"paged_at": validators.TOO_EARLY.format(what="A page")})
    ack_within = rotation.page_ack_within if rotation is not None else DEFAULT_PAGE_ACK_WITHIN
    if team is None and rotation is not None:
        team = rotation.team
    if team is None and incident is not None:
        team = incident.team
    page = Page(
        engineer=engineer,
        incident=incident,
        paged_at=paged_at,
        ack_due_at=paged_at + ack_within,
        acknowledged_at=acknowledged_at,
        source=source,
        message=message[:300],
        team=team,
        escalated_from=escalated_from,
        escalation_level=(
            escalation_level
            if escalation_level is not None
            else (escalated_from.escalation_level + 1 if escalated_from else 0)
        ),
    )
    if acknowledged_at is not None and acknowledged_at < paged_at:
        raise ValidationError({"acknowledged_at": PAGE_ACK_BEFORE_PAGED})
    page.save()
    if send:
        notify([oncall_messages.page_message(page)], now=paged_at)
    if incident is not None:
        timeline_event_record(
            incident=incident,
            kind=TimelineEventKind.PAGE,
            message=f"Paged {_who(engineer)}" + (f": {message}" if message else ""),
            at=paged_at,
            payload={"page_id": page.pk, "engineer": engineer.get_username(), "source": source},
        )
    return page


def pages_record_escalations(
    escalations: list[tuple[Page, object, int, Rotation | None]], *, at: datetime
) -> list[Page]:
    """Record escalation pages, ``(page not acknowledged, who is paged now, level, their
    rotation)``, as ``page_record`` would with ``send=False`` (the sweep recorded their
    messages): one insert for the pages and one for their timeline events, however many."""
    pages = []
    for page, target, level, rotation in escalations:
        ack_within = rotation.page_ack_within if rotation is not None else DEFAULT_PAGE_ACK_WITHIN
        pages.append(
            Page(
                engineer=target,
                incident=page.incident,
                paged_at=at,
                ack_due_at=at + ack_within,
                source=PageSource.ESCALATION,
                message=f"Escalated: {page.engineer} did not acknowledge"[:300],
                team=page.team,
                escalated_from=page,
                escalation_level=level,
            )
        )
    Page.objects.bulk_create(pages)
    timeline_events_record_once(
        [
            TimelineEvent(
                incident=new.incident,
                kind=TimelineEventKind.PAGE,
                message=f"Paged {_who(new.engineer)}: {new.message}",
                occurred_at=at,
                payload={
                    "page_id": new.pk,
                    "engineer": new.engineer.get_username(),
                    "source": new.source,
                },
                dedup_key=f"page:{new.pk}",
            )
            for new in pages
            if new.incident_id is not None
        ]
    )
    return pages


@transaction.atomic
def page_acknowledge(*, page: Page, by, at: datetime | None = None) -> Page:
    """The paged engineer acknowledges. The first acknowledgement of an incident's page also
    acknowledges the incident itself when nobody has yet."""
    at = _now(at)
    page = Page.objects.select_for_update(of=("self",)).select_related("engineer").get(pk=page.pk)
    if by.pk != page.engineer_id:
        raise ValidationError(PAGE_NOT_YOURS.format(user=_who(page.engineer)))
    if page.acknowledged_at is not None:
        raise ValidationError(PAGE_ALREADY_ACKNOWLEDGED.format(at=_shown(page.acknowledged_at)))
    if at < page.paged_at:
        raise ValidationError(PAGE_ACK_BEFORE_PAGED)
    if at - page.paged_at > PAGE_ACK_WINDOW:
        raise ValidationError(PAGE_TOO_OLD.format(at=_shown(page.paged_at)))
    incident = None
    if page.incident_id is not None:
        incident = Incident.objects.get(pk=page.incident_id)
        # Answering a page once its incident is over handles nothing, and an acknowledged
        # page is what the SEV-1 bonus and overnight comp time are paid for.
        if incident.resolved_at is not None and incident.resolved_at <= at:
            raise ValidationError(
                PAGE_INCIDENT_RESOLVED.format(
                    incident=incident.reference, at=_shown(incident.resolved_at)
                )
            )
    _mark_acknowledged(page, incident=incident, by=by, at=at)
    if (
        incident is not None
        and incident.acknowledged_at is None
        and incident.status in OPEN_STATUSES
    ):
        incident_services.incident_acknowledge(incident=incident, by=by, at=at)
    return page


def acknowledge_pages_with_incident(sender, incident: Incident, by=None, at=None, **kwargs):
    """Receiver of ``incident_acknowledged``: someone paged for the incident answered it on
    the incident's page (the page e-mail links there), so their pages for it sent by then are
    answered too; an acknowledged page is what overnight comp time and the SEV-1 bonus pay
    for. Runs inside the acknowledging transaction."""
    if by is None or getattr(by, "pk", None) is None:
        return
    at = at or timezone.now()
    answered = list(
        Page.objects.select_for_update()
        .filter(
            incident=incident,
            engineer=by,
            acknowledged_at__isnull=True,
            paged_at__lte=at,
            paged_at__gte=at - PAGE_ACK_WINDOW,  # as page_acknowledge: older pages are over
        )
        .order_by("pk")
    )
    for page in answered:
        _mark_acknowledged(page, incident=incident, by=by, at=at, how=" (with the incident)")


def _mark_acknowledged(page: Page, *, incident: Incident | None, by, at: datetime, how=""):
    """Stamp the page acknowledged, and say so on its incident's timeline."""
    page.acknowledged_at = at
    page.save(update_fields=["acknowledged_at"])
    if incident is not None:
        timeline_event_record(
            incident=incident,
            kind=TimelineEventKind.PAGE,
            message=f"Page acknowledged by {_who(by)}{how}",
            at=at,
            author=by,
            payload={"page_id": page.pk, "acknowledged": True},
        )


PAGED_IN_FUTURE = "A page cannot be recorded in the future."
PAGED_BEFORE_POLICY = (
    "No compensation policy is in force at {moment}: the first starts on {first}, so a page "
    "then could not be paid. Is the year right?"
)


def page_moment_problem(paged_at: datetime) -> str | None:
    """Why a page from outside (an import, another paging tool) cannot be recorded at
    ``paged_at``, or None: every page is paid under the policy in force when it was sent, so
    one from before the first policy would leave every later comp-time balance unpriceable."""
    first = (
        CompensationPolicy.objects.order_by("effective_from")
        .values_list("effective_from", flat=True)
        .first()
    )
    if first is None or paged_at < day_start(first, selectors.project_zone()):
        return PAGED_BEFORE_POLICY.format(moment=paged_at.isoformat(), first=first)
    return None


PAGE_FOR_RESOLVED = "{incident} is resolved: there is nothing left to page anyone for."
PAGED_BEFORE_INCIDENT = (
    "A page for {incident} cannot be before the incident started (is the time's UTC offset "
    "missing?)."
)
PAGED_WHO_CANNOT_ANSWER = (
    "{user} cannot be paged here: Finance cannot open a page to acknowledge it."
)
PAGE_AT_SAME_MOMENT = (
    "This engineer's page at {moment} is already recorded, for {what}: one page is one "
    "engineer paged at one moment."
)


@transaction.atomic
def page_from_paging_tool(
    *,
    engineer,
    incident: Incident | None = None,
    team=None,
    message: str = "",
    paged_at: datetime | None = None,
    notify_engineer: bool = False,
) -> tuple[Page, bool]:
    """Record a page another tool sent (source ``api``); returns it and whether it is new.

    A page is one engineer paged at one moment, as in the history import: the same page sent
    again (a paging tool retrying after a timeout) is the page already recorded, not a second
    one to acknowledge and be paid comp time for; one at that moment for another incident is
    refused.

    The team defaults to the incident's; the team's active rotation (first by name) sets the
    acknowledgement target, else the runbook's 5 minutes. The paging tool has already reached
    the engineer, so IncidentDesk sends nothing unless ``notify_engineer``. Like every page,
    it is on the incident's timeline and escalates if nobody acknowledges it in time.
    """
    now = timezone.now()
    paged_at = paged_at or now
    if paged_at > now:
        raise ValidationError({"paged_at": PAGED_IN_FUTURE})
    if validators.too_early(paged_at):
        raise ValidationError({"paged_at": validators.TOO_EARLY.format(what="A page")})
    if problem := page_moment_problem(paged_at):
        raise ValidationError({"paged_at": problem})
    if incident is not None and paged_at < incident.started_at:
        # A paging tool's local time sent without its offset lands hours early; a page before
        # its incident began could be paid as an overnight one in the wrong night.
        raise ValidationError(
            {"paged_at": PAGED_BEFORE_INCIDENT.format(incident=incident.reference)}
        )
    if incident is not None and incident.resolved_at is not None:
        # Nobody could acknowledge it: a page is for something still going on.
        raise ValidationError({"incident": PAGE_FOR_RESOLVED.format(incident=incident.reference)})
    if engineer is None or not engineer.is_active:
        raise ValidationError({"engineer": INACTIVE_ENGINEER.format(user=engineer)})
    if not selectors.can_be_on_call().filter(pk=engineer.pk).exists():
        # Finance alone: they could never open the page; it would only wait to escalate.
        raise ValidationError({"engineer": PAGED_WHO_CANNOT_ANSWER.format(user=_who(engineer))})
    # A paging tool retries while its first request is still open: one at a time per
    # engineer, so the second finds the page the first recorded instead of adding another
    # to be acknowledged and paid comp time for.
    # FOR NO KEY UPDATE: retries wait for each other, while writes that merely point at the
    # person (an acknowledgement naming them) are not blocked, so nothing deadlocks.
    list(User.objects.select_for_update(no_key=True).filter(pk=engineer.pk).values("pk"))
    same = (
        Page.objects.select_related("incident")
        .filter(engineer=engineer, paged_at=paged_at)
        .order_by("pk")
        .first()
    )
    if same is not None:
        if same.incident_id != (incident.pk if incident is not None else None):
            recorded = same.incident.reference if same.incident else "no incident"
            raise ValidationError(
                {"paged_at": PAGE_AT_SAME_MOMENT.format(moment=paged_at.isoformat(), what=recorded)}
            )
        return same, False
    if team is None and incident is not None:
        team = incident.team
    rotation = (
        Rotation.objects.select_related("team")
        .filter(team=team, is_active=True)
        .order_by("name", "id")
        .first()
        if team is not None
        else None
    )
    page = page_record(
        engineer=engineer,
        paged_at=paged_at,
        incident=incident,
        source=PageSource.API,
        message=message,
        rotation=rotation,
        team=team,
        send=notify_engineer,
    )
    return page, True


def page_on_call_for_incident(
    sender, incident: Incident, by=None, at=None, team_to_page=None, **kwargs
) -> None:
    """Receiver of ``incident_declared``: page the current primary of every team owning an
    affected service (or, without services, the team the declarer named; not a team the
    incident only took from its declarer). Runs inside the declaring transaction.

    Teams without an active rotation are skipped (they page some other way); a team whose
    rotation has nobody on call right now gets a timeline entry saying no page was sent.
    """
    at = at or timezone.now()
    teams = {service.team for service in incident.services.select_related("team")}
    if not teams and team_to_page is not None:
        teams = {team_to_page}
    with_rotation = set(
        Rotation.objects.filter(team__in=teams, is_active=True).values_list("team_id", flat=True)
    )
    paged: dict[int, str] = {}  # engineer id -> the team they were paged for
    for team in sorted(teams, key=lambda t: t.name):
        if team.pk not in with_rotation:
            continue
        # The primary; else, when there is none (or their account is off), the secondary.
        shift = selectors.on_call_shift(
            team=team, role=ShiftRole.PRIMARY, at=at
        ) or selectors.on_call_shift(team=team, role=ShiftRole.SECONDARY, at=at)
        if shift is not None and shift.engineer_id in paged:
            # On call for two of the affected teams: one person is woken once, and one page
            # is what they acknowledge and what their comp time counts.
            timeline_event_record(
                incident=incident,
                kind=TimelineEventKind.PAGE,
                message=(
                    f"{shift.engineer.get_username()} is on call for {team.name} too; "
                    f"already paged for {paged[shift.engineer_id]}"
                ),
                at=at,
                payload={"team": team.name, "paged": None},
            )
            continue
        if shift is None:
            timeline_event_record(
                incident=incident,
                kind=TimelineEventKind.PAGE,
                message=f"Nobody is on call for {team.name}; no page was sent",
                at=at,
                payload={"team": team.name, "paged": None},
            )
            continue
        page_record(
            engineer=shift.engineer,
            paged_at=at,
            incident=incident,
            source=PageSource.INCIDENT,
            message=f"{incident.reference} {incident.severity.name}: {incident.title}",
            rotation=shift.rotation,
        )
        paged[shift.engineer_id] = team.name


# --- Comp time -----------------------------------------------------------------------------


@transaction.atomic
def comp_time_day_problem(*, engineer, day: date, hours: Decimal, exclude_pk=None) -> str | None:
    """Why ``hours`` more comp time do not fit in ``day`` (24 hours over all its entries but
    ``exclude_pk``, the entry being changed), or None."""
    logged = CompTimeTaken.objects.filter(engineer=engineer, date=day).exclude(
        pk=exclude_pk
    ).aggregate(total=Sum("hours"))["total"] or Decimal(0)
    if logged + hours > DAY_HOURS:
        return COMP_TIME_DAY_FULL.format(day=day, logged=logged, left=DAY_HOURS - logged)
    return None


COMP_TIME_IN_CLOSED_PERIOD = (
    "{day} is in the pay period {start} to {end}, which finance has closed: its balances are "
    "paid as they were. Log the day off on a day of an open period."
)
COMP_TIME_TOO_FAR_AHEAD = "A day off can be booked at most a year ahead (until {last})."
COMP_TIME_BOOK_AHEAD = timedelta(days=366)


def comp_time_date_problem(day: date) -> str | None:
    """Why comp time cannot be logged on ``day``: a day of a closed pay period (its balances
    are frozen and paid), or more than a year ahead (a mistyped year would use up the
    balance). None when it can."""
    last = project_today() + COMP_TIME_BOOK_AHEAD
    if day > last:
        return COMP_TIME_TOO_FAR_AHEAD.format(last=last.isoformat())
    return comp_time_closed_problem(day)


def comp_time_closed_problem(day: date) -> str | None:
    """Why comp time on ``day`` is fixed: the day is in a closed pay period, whose balances
    were paid as they stood (an entry there is neither added, moved, changed nor deleted).
    None when it is not."""
    closed = (
        PayPeriod.objects.filter(
            status=PayPeriodStatus.CLOSED, start_date__lte=day, end_date__gte=day
        )
        .order_by("start_date")
        .first()
    )
    if closed is not None:
        return COMP_TIME_IN_CLOSED_PERIOD.format(
            day=day.isoformat(), start=closed.start_date, end=closed.end_date
        )
    return None


@transaction.atomic
def comp_time_log(*, engineer, day: date, hours: Decimal, note: str = "") -> CompTimeTaken:
    """Log comp time an engineer takes off (counted against their balance at once). A day
    holds at most 24 hours, all its entries together: the engineer's row is locked so two
    entries logged at once are counted together."""
    if hours is None or hours <= 0 or hours > DAY_HOURS:
        raise ValidationError({"hours": COMP_TIME_HOURS})
    if validators.too_early(day):
        raise ValidationError({"day": validators.TOO_EARLY.format(what="A day off")})
    if problem := comp_time_date_problem(day):
        raise ValidationError({"day": problem})
    list(get_user_model().objects.select_for_update().filter(pk=engineer.pk).values("pk"))
    problem = comp_time_day_problem(engineer=engineer, day=day, hours=hours)
    if problem:
        raise ValidationError({"hours": problem})
    entry = CompTimeTaken(engineer=engineer, date=day, hours=hours, note=note)
    entry.full_clean()
    entry.save()
    return entry


@transaction.atomic
def comp_time_approve(*, entry: CompTimeTaken, by, at: datetime | None = None) -> CompTimeTaken:
    entry = CompTimeTaken.objects.select_for_update().get(pk=entry.pk)
    if entry.approved_at is not None:
        raise ValidationError(COMP_TIME_ALREADY_APPROVED)
    if by is not None and by.pk == entry.engineer_id:
        raise ValidationError(COMP_TIME_OWN_APPROVAL)
    entry.approved_by = by
    entry.approved_at = _now(at)
    entry.save(update_fields=["approved_by", "approved_at"])
    return entry


# --- Policies and pay periods ----------------------------------------------------------------


def project_today() -> date:
    """Today in the project's zone, where policies and pay periods start at 00:00, whatever
    zone the person asking reads in."""
    return timezone.localdate(timezone=selectors.project_zone())


def compensation_policy_supersede_problem(effective_from: date) -> str | None:
    """Why a policy cannot start on ``effective_from``, or None: a policy starting on or after
    that date has already taken effect (it would be edited in place)."""
    started = (
        CompensationPolicy.objects.filter(
            effective_from__gte=effective_from, effective_from__lte=project_today()
        )
        .order_by("effective_from")
        .first()
    )
    if started is not None:
        return POLICY_NOT_AFTER_CURRENT.format(start=started.effective_from)
    return None


@transaction.atomic
def compensation_policy_withdraw(policy: CompensationPolicy) -> None:
    """Delete a policy that has not taken effect; the one before it runs on to where the
    withdrawn one would have ended (open-ended again if it was the last), so no day is left
    without a policy."""
    policy = CompensationPolicy.objects.select_for_update().get(pk=policy.pk)
    if policy.effective_from <= project_today():
        raise ValidationError(POLICY_IN_FORCE_NOT_DELETED.format(start=policy.effective_from))
    previous = (
        CompensationPolicy.objects.select_for_update()
        .filter(effective_from__lt=policy.effective_from)
        .order_by("-effective_from")
        .first()
    )
    policy.delete()
    if previous is not None:
        previous.effective_to = policy.effective_to
        previous.save(update_fields=["effective_to"])


@transaction.atomic
def compensation_policy_supersede(
    *,
    effective_from: date,
    by=None,
    currency: str = "USD",
    weekly_stipend: Decimal,
    sev1_bonus: Decimal,
    comp_hours_per_overnight_page: Decimal,
    overnight_start,
    overnight_end,
) -> CompensationPolicy:
    """Start a new policy on ``effective_from``; the one in force until then ends that day.

    Policies are never edited once in force, so a report for any past period is priced by the
    rules of its time. Later-dated policies that have not started are replaced.
    """
    current = (
        CompensationPolicy.objects.select_for_update()
        .filter(effective_from__lt=effective_from)
        .order_by("-effective_from")
        .first()
    )
    problem = compensation_policy_supersede_problem(effective_from)
    if problem:
        raise ValidationError({"effective_from": problem})
    # Policies dated later that have not started yet are replaced by this one.
    CompensationPolicy.objects.filter(effective_from__gte=effective_from).delete()
    if current is not None:
        current.effective_to = effective_from
        current.save(update_fields=["effective_to"])
    policy = CompensationPolicy(
        effective_from=effective_from,
        effective_to=None,
        currency=currency.upper(),
        weekly_stipend=weekly_stipend,
        sev1_bonus=sev1_bonus,
        comp_hours_per_overnight_page=comp_hours_per_overnight_page,
        overnight_start=overnight_start,
        overnight_end=overnight_end,
        created_by=by,
    )
    policy.full_clean()
    policy.save()
    return policy


@transaction.atomic
def pay_period_create(*, start_date: date, end_date: date) -> PayPeriod:
    """A new open pay period; it may not overlap another (``PayPeriod.clean``)."""
    period = PayPeriod(start_date=start_date, end_date=end_date)
    period.full_clean()
    period.save()
    return period


def pay_period_monthly(*, year: int, month: int) -> PayPeriod:
    """The calendar month's pay period, created if missing."""
    start = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    existing = PayPeriod.objects.filter(start_date=start, end_date=end).first()
    return existing or pay_period_create(start_date=start, end_date=end)


def pay_period_close_problem(pay_period: PayPeriod, at: datetime | None = None) -> str | None:
    """Why ``pay_period`` cannot be closed at ``at``, or None: it is closed already, or it has
    not ended yet (its last day runs to midnight in the project's zone)."""
    if pay_period.is_closed:
        return PERIOD_ALREADY_CLOSED
    ends = day_start(pay_period.end_date + timedelta(days=1), selectors.project_zone())
    if _now(at) < ends:
        return PERIOD_NOT_OVER.format(end=pay_period.end_date)
    return None


@transaction.atomic
def pay_period_close(*, pay_period: PayPeriod, by, at: datetime | None = None) -> PayPeriod:
    """Close (freeze) a pay period once it has ended.

    Stores the engineer's own figures for the period and the corrections owed for earlier
    closed periods that land in it as ``CompensationLine`` rows; from then on its report is
    read from those lines and never changes. Locks the pay period row.
    """
    at = _now(at)
    pay_period = PayPeriod.objects.select_for_update().get(pk=pay_period.pk)
    problem = pay_period_close_problem(pay_period, at)
    if problem is not None:
        raise ValidationError(problem)
    own, corrections = selectors.pending_adjustments(pay_period=pay_period)
    lines = [_line(pay_period, row, adjusts=None) for row in own.values()]
    # One currency per line: a policy that changed currency gives an engineer two lines.
    lines += [_line(pay_period, row, adjusts=period) for period, row in corrections]
    CompensationLine.objects.bulk_create(lines)
    pay_period.status = PayPeriodStatus.CLOSED
    pay_period.closed_at = at
    pay_period.closed_by = by
    pay_period.save(update_fields=["status", "closed_at", "closed_by"])
    return pay_period


def _line(pay_period, row, adjusts) -> CompensationLine:
    return CompensationLine(
        pay_period=pay_period,
        adjusts=adjusts,
        engineer_id=row.engineer_id,
        username=row.username,
        full_name=row.full_name,
        team=row.team,
        on_call_hours=row.on_call_hours,
        stipend=row.stipend,
        sev1_incidents=row.sev1_incidents,
        sev1_bonus=row.sev1_bonus,
        overnight_pages=row.overnight_pages,
        comp_time_hours=row.comp_time_hours,
        total_pay=row.total_pay,
        currency=row.currency,
    )


# --- Calendar feed -------------------------------------------------------------------------


def calendar_feed_for(*, user) -> CalendarFeed:
    feed, _ = CalendarFeed.objects.get_or_create(user=user)
    return feed


@transaction.atomic
def calendar_feed_rotate(*, user) -> CalendarFeed:
    """Replace the private feed token (the old URL stops working). The person's row is locked,
    so two clicks in a row replace it twice rather than meet on the one-feed-per-person key."""
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values("pk"))
    CalendarFeed.objects.filter(user=user).delete()
    return CalendarFeed.objects.create(user=user)
