"""The wording of on-call notifications (pages, escalations, handoffs, shift reminders)."""

from incidents.notifications import Message
from incidents.reminders import incident_link

MY_ONCALL = "/oncall/me/"


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def _when(moment, user) -> str:
    zone = user.profile.zone if hasattr(user, "profile") else None
    local = moment.astimezone(zone) if zone else moment
    return local.strftime("%a %d %b %H:%M %Z")


def page_message(page, *, key: str | None = None) -> Message:
    incident = page.incident
    what = f"{incident.reference} {incident.severity.name}: {incident.title}" if incident else ""
    subject = f"PAGE: {what or page.message or 'you are paged'}"
    # The page's own words, unless they only repeat the incident's line (as declared pages do).
    said = page.message.strip() if page.message and page.message.strip() != what else ""
    body = (
        f"You are paged{' for ' + what if what else ''}.\n"
        + (f"{said}\n" if said else "")
        + "\n"
        + f"Acknowledge within {int((page.ack_due_at - page.paged_at).total_seconds() // 60)} "
        "minutes, or the page escalates."
    )
    return Message(
        key=key or f"page:{page.pk}",
        kind="page",
        subject=subject,
        body=body,
        recipient=page.engineer,
        incident=incident,
        link=incident_link(incident) if incident else MY_ONCALL,
        payload={"page_id": page.pk},
    )


def page_escalation_message(page, target, level: int) -> Message:
    who = "secondary on call" if level == 1 else "team's manager"
    incident = page.incident
    # As the page itself: the reference, severity and title (the secondary woken at 03:00
    # judges from the subject how fast to get up).
    what = (
        f"{incident.reference} {incident.severity.name}: {incident.title}"
        if incident
        else page.message or "a page"
    )
    return Message(
        key=f"page-escalation:{page.pk}",
        kind="page_escalation",
        subject=f"PAGE (escalated): {what}",
        body=(
            f"{_name(page.engineer)} did not acknowledge a page for {what} within the target, "
            f"so it escalates to you as the {who}. Acknowledge it now."
        ),
        recipient=target,
        incident=incident,
        link=incident_link(incident) if incident else MY_ONCALL,
        payload={"escalated_page_id": page.pk, "level": level},
    )


def handoff_request_message(handoff) -> Message:
    return Message(
        # Per person asked: an override of the last hours makes someone else the outgoing
        # engineer, and they are asked in their turn.
        key=f"handoff-request:{handoff.pk}:{handoff.outgoing_id}",
        kind="handoff_request",
        subject=f"Handoff summary due for {handoff.rotation}",
        body=(
            f"Your on-call shift on {handoff.rotation} ends at "
            f"{_when(handoff.handoff_at, handoff.outgoing)}. Write the handoff summary for "
            f"{_name(handoff.incoming)}: open incidents, flaky alerts, anything to watch."
        ),
        recipient=handoff.outgoing,
        link=MY_ONCALL,
        payload={"handoff_id": handoff.pk},
    )


def handoff_written_message(handoff, *, rewritten_after_read: bool = False) -> Message:
    """The incoming engineer is told the summary is written; told again (a notice of its own,
    keyed by the new writing) when the outgoing one changes it after they read it."""
    key = f"handoff-written:{handoff.pk}"
    if rewritten_after_read:
        key = f"handoff-rewritten:{handoff.pk}:{handoff.written_at.isoformat()}"
    return Message(
        key=key,
        kind="handoff_written",
        subject=(
            f"{'Changed h' if rewritten_after_read else 'H'}andoff summary from "
            f"{_name(handoff.outgoing)}"
        ),
        body=(
            f"{_name(handoff.outgoing)} {'changed' if rewritten_after_read else 'wrote'} the "
            "handoff summary for your shift on "
            f"{handoff.rotation} starting {_when(handoff.handoff_at, handoff.incoming)}:\n\n"
            f"{handoff.summary}"
        ),
        recipient=handoff.incoming,
        link=MY_ONCALL,
        payload={"handoff_id": handoff.pk},
    )


def shift_heads_up_message(shift) -> Message:
    return Message(
        # Per person: a shift given to someone else before it starts is announced to them.
        key=f"shift-heads-up:{shift.pk}:{shift.engineer_id}",
        kind="shift_heads_up",
        subject=f"You are on call from {_when(shift.starts_at, shift.engineer)}",
        body=(
            f"Heads-up: your {shift.get_role_display().lower()} on-call shift on "
            f"{shift.rotation} starts {_when(shift.starts_at, shift.engineer)} and ends "
            f"{_when(shift.ends_at, shift.engineer)}. Keep your laptop and a reliable "
            "connection at hand, and read the handoff summary."
        ),
        recipient=shift.engineer,
        link=MY_ONCALL,
        payload={"shift_id": shift.pk},
    )


def _span(shift, user) -> str:
    return f"{_when(shift.starts_at, user)} to {_when(shift.ends_at, user)}"


def swap_messages(override, halves) -> list[Message]:
    """A swap, told once to each of the two: the role each now holds, when, and with whom."""
    covering, covered = override.engineer, override.covered_engineer
    told = []
    for person, takes, gives, other in (
        (covering, [override], halves, covered),
        (covered, halves, [override], covering),
    ):
        spans = "; ".join(
            f"{shift.get_role_display().lower()} from {_span(shift, person)}" for shift in takes
        )
        gave = ", ".join(sorted({shift.get_role_display().lower() for shift in gives}))
        told.append(
            Message(
                key=f"shift-swap:{override.pk}:{person.pk}",
                kind="shift_override",
                subject=f"You swapped with {_name(other)} on {override.rotation}",
                body=(
                    f"You are {spans} on {override.rotation}, and {_name(other)} takes your "
                    f"{gave} then. You stay on call."
                ),
                recipient=person,
                link=MY_ONCALL,
                payload={"shift_id": override.pk},
            )
        )
    return told


def override_messages(override) -> list[Message]:
    covered = override.covered_engineer
    role = override.get_role_display().lower()
    span = _span(override, override.engineer)
    messages = [
        Message(
            key=f"shift-override:{override.pk}:{override.engineer_id}",
            kind="shift_override",
            subject=f"You now cover {_name(covered)} on {override.rotation}",
            body=(
                f"You are on call on {override.rotation} as {role} from {span}, covering "
                f"{_name(covered)}."
            ),
            recipient=override.engineer,
            link=MY_ONCALL,
            payload={"shift_id": override.pk},
        )
    ]
    if covered is not None:
        messages.append(
            Message(
                key=f"shift-override:{override.pk}:{covered.pk}",
                kind="shift_override",
                subject=f"{_name(override.engineer)} covers part of your shift",
                body=(
                    f"{_name(override.engineer)} covers your {role} shift on "
                    f"{override.rotation} from {_span(override, covered)}. You are off call "
                    "then."
                ),
                recipient=covered,
                link=MY_ONCALL,
                payload={"shift_id": override.pk},
            )
        )
    return messages
