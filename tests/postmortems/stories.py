"""A whole post-mortem built through the services, the way people reach it: the incident is
declared, worked and resolved (which schedules the post-mortem), then drafted, reviewed and
published. Deterministic: fixed people, moments and figures, so its Markdown can be compared
with a committed fixture byte for byte."""

from datetime import date, timedelta
from decimal import Decimal

from incidents import services as incident_services
from incidents.models import IncidentStatus
from incidents.services import ResolutionChecklist
from postmortems import services
from postmortems.models import ActionItemKind, ActionItemPriority, Postmortem
from tests.incidents.factories import (
    BASE_TIME,
    EngineerFactory,
    ServiceFactory,
    TeamFactory,
)

T0 = BASE_TIME  # 2026-03-02 09:00 UTC
RESOLVED_AT = T0 + timedelta(hours=1, minutes=10)


def people():
    return {
        "eddie": EngineerFactory(username="eddie.story", first_name="Eddie", last_name="Engineer"),
        "ada": EngineerFactory(username="ada.story", first_name="Ada", last_name="Author"),
        "rob": EngineerFactory(username="rob.story", first_name="Rob", last_name="Reviewer"),
        "maria": EngineerFactory(username="maria.story", first_name="Maria", last_name="Manager"),
    }


def resolved_checkout_outage(who) -> Postmortem:
    """SEV-1 "Checkout returns 502 for all users", resolved at 10:10 UTC; returns the
    post-mortem its resolution scheduled."""
    team = TeamFactory(name="Payments", engineering_manager=who["maria"])
    incident = incident_services.incident_declare(
        title="Checkout returns 502 for all users",
        severity="SEV-1",
        declared_by=who["eddie"],
        services=[ServiceFactory(name="checkout-web", team=team)],
        customer_impact=True,
        impact_description="customers cannot complete purchases",
        started_at=T0 - timedelta(minutes=4),
        detected_at=T0,
        at=T0,
    )
    incident_services.incident_acknowledge(
        incident=incident, by=who["eddie"], at=T0 + timedelta(minutes=2)
    )
    incident_services.note_add(
        incident=incident,
        author=who["eddie"],
        text="payments-api v42 deployed at 08:55 | suspected",
        at=T0 + timedelta(minutes=9),
    )
    incident_services.incident_change_status(
        incident=incident,
        to_status=IncidentStatus.MITIGATED,
        by=who["eddie"],
        mitigation_action="Rolled back payments-api to v41.",
        at=T0 + timedelta(minutes=21),
    )
    incident_services.incident_resolve(
        incident=incident,
        by=who["eddie"],
        checklist=ResolutionChecklist.all_confirmed(),
        at=RESOLVED_AT,
    )
    incident_services.incident_update_details(
        incident=incident,
        by=who["maria"],
        users_affected=12000,
        revenue_impact=Decimal("48250.50"),
        revenue_currency="EUR",
        at=RESOLVED_AT + timedelta(hours=2),
    )
    return Postmortem.objects.get(incident=incident)


def published_checkout_postmortem() -> tuple[Postmortem, dict]:
    who = people()
    postmortem = resolved_checkout_outage(who)
    ada, rob, maria = who["ada"], who["rob"], who["maria"]
    at = RESOLVED_AT + timedelta(hours=3)
    services.postmortem_start_draft(postmortem=postmortem, by=ada, at=at)
    services.postmortem_set_reviewers(postmortem=postmortem, reviewers=[rob, maria], by=ada)
    services.postmortem_update_sections(
        postmortem=postmortem,
        by=ada,
        at=at + timedelta(hours=1),
        summary="For 74 minutes every checkout request failed with a 502 from the gateway.\n\n"
        "A release of payments-api removed the route the gateway uses for card payments.",
        impact="All customers were unable to pay by card between 08:56 and 10:10 UTC.",
        root_cause="The route table is generated at build time and the v42 build ran "
        "without the payments plugin, so the route was missing.",
        what_went_well="- The 5xx alert paged within a minute.\n- Rollback took 12 minutes.",
        what_could_be_improved="- Releases are not canaried.\n"
        "- The build does not check the route table.",
        lessons_learned="Generated configuration needs the same tests as code.",
    )
    entries = list(postmortem.timeline_entries.order_by("occurred_at", "id"))
    services.timeline_entry_update(
        entry=entries[0], by=ada, text="5xx alert fired; incident declared as SEV-1", at=at
    )
    services.timeline_entry_add(
        postmortem=postmortem,
        by=ada,
        occurred_at=T0 - timedelta(minutes=4),
        text="Error rate on checkout-web rises above 50%",
        at=at,
    )
    for question, answer in [
        ("Why did checkout return 502?", "The gateway had no route to payments-api."),
        (
            "Why was the route missing?",
            "The v42 build generated its route table without the payments plugin.\n"
            "Nothing failed the build.",
        ),
        ("Why did nothing fail the build?", "No test covers the generated route table."),
    ]:
        services.five_why_add(postmortem=postmortem, by=ada, question=question, answer=answer)
    services.action_item_add(
        postmortem=postmortem,
        by=ada,
        title="Test the generated route table in CI",
        owner=ada,
        due_date=date(2026, 3, 13),
        kind=ActionItemKind.PREVENT,
        priority=ActionItemPriority.P1,
        tracker_url="https://tracker.example.com/OPS-101",
        at=at,
    )
    canary = services.action_item_add(
        postmortem=postmortem,
        by=ada,
        title="Canary payments-api releases | 5% first",
        owner=rob,
        due_date=date(2026, 3, 27),
        kind=ActionItemKind.DETECT,
        priority=ActionItemPriority.P2,
        at=at,
    )
    services.action_item_add(
        postmortem=postmortem,
        by=ada,
        title="Add a rollback step to the payments runbook",
        owner=maria,
        due_date=date(2026, 3, 6),
        kind=ActionItemKind.PROCESS,
        priority=ActionItemPriority.P3,
        at=at,
    )
    services.action_item_set_status(item=canary, status="in_progress", by=rob, at=at)
    services.postmortem_submit_for_review(
        postmortem=postmortem, by=ada, at=RESOLVED_AT + timedelta(hours=20)
    )
    services.postmortem_record_review_meeting(
        postmortem=postmortem,
        by=maria,
        held_at=RESOLVED_AT + timedelta(hours=44),
        at=RESOLVED_AT + timedelta(hours=45),
    )
    services.postmortem_publish(
        postmortem=postmortem, by=maria, at=RESOLVED_AT + timedelta(hours=60)
    )
    postmortem.refresh_from_db()
    return postmortem, who
