"""Reminders reach the person responsible now: not a switched-off account, not the one who
was responsible before an override or a reassignment, and not about a clock that stopped
while an incident was resolved."""

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from incidents import reminders as incident_reminders
from incidents import services as incident_services
from incidents.models import IncidentStatus, Notification, TimelineEventKind
from incidents.notifications import notification_send
from incidents.services import ResolutionChecklist
from oncall import reminders as oncall_reminders
from oncall import services as oncall_services
from oncall.models import Handoff, Page, Shift, ShiftRole
from postmortems import reminders as pm_reminders
from postmortems import services as pm_services
from postmortems.models import Postmortem
from postmortems.selectors import postmortem_list
from tests.incidents.factories import (
    BASE_TIME,
    EngineerFactory,
    ProfileFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)
from tests.oncall.factories import RotationFactory, RotationMemberFactory, ShiftFactory, engineer
from tests.postmortems.factories import ActionItemFactory, PostmortemFactory

pytestmark = pytest.mark.django_db
SECOND = timedelta(seconds=1)
MONDAY = date(2026, 3, 2)


def told(kind: str) -> list[str]:
    return sorted(
        Notification.objects.filter(kind=kind, channel="email").values_list(
            "recipient__username", flat=True
        )
    )


def switch_off(*users) -> None:
    for user in users:
        user.is_active = False
        user.save(update_fields=["is_active"])


def post_update(incident, *, by, at) -> None:
    """A status update in the Status / Impact / Action / ETA form, posted at ``at``."""
    incident_services.status_update_post(
        incident=incident,
        author=by,
        status="Investigating",
        impact="x",
        action="y",
        eta="unknown",
        at=at,
    )


def import_open(reference: str, started_at: datetime, severity: str = "SEV-2"):
    """An incident the history import brought in unresolved."""
    incident, _ = incident_services.incident_import(
        reference=reference, title="Left open", severity=severity, started_at=started_at
    )
    return incident


def everything_checked() -> ResolutionChecklist:
    return ResolutionChecklist(**dict.fromkeys(ResolutionChecklist.__dataclass_fields__, True))


@pytest.fixture
def rotation():
    team = TeamFactory(name="Platform", engineering_manager=engineer("boss"))
    rotation = RotationFactory(team=team, starts_on=MONDAY)
    for position, name in enumerate(["ada", "bob", "cy"]):
        RotationMemberFactory(rotation=rotation, user=engineer(name), position=position)
    oncall_services.rotation_generate_shifts(
        rotation=rotation, weeks=3, now=datetime(2026, 3, 2, 10, tzinfo=UTC)
    )
    return rotation


# --- On call ------------------------------------------------------------------------------------


def test_an_unanswered_page_does_not_escalate_to_a_switched_off_manager(rotation):
    switch_off(rotation.team.engineering_manager)
    at = datetime(2026, 3, 3, 12, tzinfo=UTC)
    incident = incident_services.incident_declare(
        title="DB down",
        severity="SEV-1",
        declared_by=None,
        services=[ServiceFactory(team=rotation.team)],
        at=at,
    )
    first = Page.objects.get()
    oncall_reminders.sweep_unacknowledged_pages(now=first.ack_due_at + SECOND)
    second = Page.objects.get(escalated_from=first)  # the secondary
    oncall_reminders.sweep_unacknowledged_pages(now=second.ack_due_at + SECOND)

    assert not Page.objects.filter(escalated_from=second).exists()
    assert "boss" not in told("page_escalation")
    assert incident.timeline.filter(
        kind=TimelineEventKind.ESCALATION, message__contains="nobody is left to escalate it to"
    ).exists()


def test_the_handoff_request_follows_an_override_of_the_last_hours(rotation):
    handoff_at = datetime(2026, 3, 9, 9, tzinfo=UTC)
    assert oncall_reminders.sweep_handoff_requests(now=handoff_at - timedelta(hours=1)) == 1
    ada_shift = Shift.objects.get(rotation=rotation, role=ShiftRole.PRIMARY, ends_at=handoff_at)
    oncall_services.shift_override(
        shift=ada_shift,
        starts_at=handoff_at - timedelta(minutes=50),
        ends_at=handoff_at,
        engineer=engineer("cy"),
    )
    assert Handoff.objects.get(handoff_at=handoff_at).outgoing.username == "cy"

    assert oncall_reminders.sweep_handoff_requests(now=handoff_at - timedelta(minutes=45)) == 1
    assert told("handoff_request") == ["ada", "cy"]
    # Run again: nobody is asked twice.
    assert oncall_reminders.sweep_handoff_requests(now=handoff_at - timedelta(minutes=40)) == 0


def test_a_handoff_request_not_yet_sent_to_someone_no_longer_outgoing_is_dropped(
    rotation, mailoutbox
):
    handoff_at = datetime(2026, 3, 9, 9, tzinfo=UTC)
    # Recorded; the send (after the sweep's commit) has not run yet.
    oncall_reminders.sweep_handoff_requests(now=handoff_at - timedelta(hours=1))
    ada_shift = Shift.objects.get(rotation=rotation, role=ShiftRole.PRIMARY, ends_at=handoff_at)
    oncall_services.shift_override(
        shift=ada_shift,
        starts_at=handoff_at - timedelta(minutes=50),
        ends_at=handoff_at,
        engineer=engineer("cy"),
    )
    request = Notification.objects.get(kind="handoff_request", recipient__username="ada")
    notification_send(notification_id=request.pk, now=handoff_at - timedelta(minutes=55))
    request.refresh_from_db()
    assert request.status == "obsolete"
    assert mailoutbox == []


def test_a_shift_given_to_someone_else_before_it_starts_is_announced_to_them():
    ada, bob = engineer("ada"), engineer("bob")
    shift = ShiftFactory(engineer=ada, starts_at=datetime(2026, 3, 3, 9, tzinfo=UTC))
    assert oncall_reminders.sweep_shift_heads_up(now=datetime(2026, 3, 2, 18, tzinfo=UTC)) == 1
    shift.engineer = bob
    shift.save()
    assert oncall_reminders.sweep_shift_heads_up(now=datetime(2026, 3, 2, 20, tzinfo=UTC)) == 1
    assert told("shift_heads_up") == ["ada", "bob"]


def test_no_heads_up_for_a_switched_off_engineer():
    ada = engineer("ada")
    ShiftFactory(engineer=ada, starts_at=datetime(2026, 3, 3, 9, tzinfo=UTC))
    switch_off(ada)
    assert oncall_reminders.sweep_shift_heads_up(now=datetime(2026, 3, 2, 18, tzinfo=UTC)) == 0


# --- Status updates -----------------------------------------------------------------------------


def test_a_reopened_incident_counts_its_update_cadence_from_the_reopening(sev1, manager):
    services = incident_services
    post_update(sev1, by=manager, at=BASE_TIME + timedelta(minutes=5))
    services.incident_resolve(
        incident=sev1,
        by=manager,
        checklist=everything_checked(),
        at=BASE_TIME + timedelta(minutes=10),
    )
    reopened = BASE_TIME + timedelta(days=12)
    services.incident_change_status(
        incident=sev1, to_status=IncidentStatus.INVESTIGATING, by=manager, at=reopened
    )
    cadence = sev1.severity.update_every
    assert incident_reminders.sweep_status_updates(now=reopened + cadence - SECOND) == 0
    assert incident_reminders.sweep_status_updates(now=reopened + cadence) >= 1
    reminder = Notification.objects.filter(kind="status_update_overdue", channel="email").first()
    minutes = int(cadence.total_seconds() // 60)
    assert f"it was reopened {minutes} minutes ago and has had none since" in reminder.body


def test_the_first_reminder_says_no_update_was_posted(sev1):
    cadence = sev1.severity.update_every
    incident_reminders.sweep_status_updates(now=sev1.declared_at + cadence)
    reminder = Notification.objects.filter(kind="status_update_overdue", channel="email").first()
    minutes = int(cadence.total_seconds() // 60)
    assert f"it has had none since it was declared {minutes} minutes ago" in reminder.body


# --- Post-mortems and action items ---------------------------------------------------------------


def test_no_post_mortem_deadline_notice_while_its_incident_is_open_again(manager):
    team = TeamFactory(name="Payments", engineering_manager=UserFactory(username="em"))
    incident = incident_services.incident_declare(
        title="DB down",
        severity="SEV-1",
        declared_by=manager,
        services=[ServiceFactory(team=team)],
        at=BASE_TIME,
    )
    resolved = BASE_TIME + timedelta(hours=1)
    incident_services.incident_resolve(
        incident=incident, by=manager, checklist=everything_checked(), at=resolved
    )
    postmortem = Postmortem.objects.get(incident=incident)
    incident_services.incident_change_status(
        incident=incident,
        to_status=IncidentStatus.INVESTIGATING,
        by=manager,
        at=resolved + timedelta(hours=2),
    )
    assert pm_reminders.sweep_postmortem_deadlines(now=postmortem.draft_due_at + SECOND) == 0

    # Resolved again: the deadlines count from then, and are noticed when they pass.
    incident_services.incident_resolve(
        incident=incident, by=manager, checklist=everything_checked(), at=resolved + timedelta(1)
    )
    postmortem.refresh_from_db()
    assert pm_reminders.sweep_postmortem_deadlines(now=postmortem.draft_due_at + SECOND) >= 1


def test_a_deadline_notice_waiting_to_be_sent_is_dropped_when_the_deadline_is_recounted(
    manager, mailoutbox
):
    incident = incident_services.incident_declare(
        title="DB down", severity="SEV-1", declared_by=manager, services=[], at=BASE_TIME
    )
    incident_services.incident_resolve(
        incident=incident, by=manager, checklist=everything_checked(), at=BASE_TIME + SECOND
    )
    postmortem = Postmortem.objects.get(incident=incident)
    postmortem.owner = manager
    postmortem.save()
    overdue_at = postmortem.draft_due_at + SECOND
    assert pm_reminders.sweep_postmortem_deadlines(now=overdue_at) >= 1
    incident_services.incident_change_status(
        incident=incident, to_status=IncidentStatus.INVESTIGATING, by=manager, at=overdue_at
    )
    for pk in Notification.objects.filter(kind="postmortem_overdue").values_list("pk", flat=True):
        notification_send(notification_id=pk, now=overdue_at + SECOND)
    assert mailoutbox == []
    assert set(
        Notification.objects.filter(kind="postmortem_overdue").values_list("status", flat=True)
    ) == {"obsolete"}


def test_post_mortem_notices_skip_switched_off_people_and_reach_the_team_manager():
    team_manager = UserFactory(username="team-em")
    team = TeamFactory(name="Payments", engineering_manager=team_manager)
    owner = UserFactory(username="owner")
    postmortem = PostmortemFactory(incident__team=team, owner=owner)
    switch_off(owner)
    pm_reminders.sweep_postmortem_deadlines(now=postmortem.draft_due_at + SECOND)
    assert told("postmortem_overdue") == ["team-em"]


def test_a_due_soon_reminder_for_a_departed_owner_goes_to_the_manager():
    team = TeamFactory(name="Payments", engineering_manager=UserFactory(username="team-em"))
    owner = UserFactory(username="owner")
    postmortem = PostmortemFactory(incident__team=team, owner=owner)
    switch_off(owner)
    pm_reminders.sweep_postmortem_deadlines(now=postmortem.draft_due_at - SECOND)
    assert told("postmortem_due_soon") == ["team-em"]


def test_a_departed_owners_overdue_action_item_is_escalated_at_once():
    boss = UserFactory(username="boss")
    owner = UserFactory(username="owner")
    ProfileFactory(user=owner, team=TeamFactory(name="Platform", engineering_manager=boss))
    ActionItemFactory(owner=owner, due_date=date(2026, 3, 20))
    switch_off(owner)
    # The day after its due date, well inside the grace period.
    pm_reminders.sweep_action_items(now=datetime(2026, 3, 21, 12, tzinfo=UTC))
    assert told("action_item_overdue") == []
    assert told("action_item_due_soon") == []
    assert told("action_item_escalation") == ["boss"]
    body = Notification.objects.get(kind="action_item_escalation").body
    assert "account is switched off" in body


def test_nobody_switched_off_hears_of_an_overdue_action_item():
    boss = UserFactory(username="boss")
    owner = UserFactory(username="owner")
    ProfileFactory(user=owner, team=TeamFactory(name="Platform", engineering_manager=boss))
    ActionItemFactory(owner=owner, due_date=date(2026, 3, 20))
    switch_off(owner, boss)
    assert pm_reminders.sweep_action_items(now=datetime(2026, 3, 28, tzinfo=UTC)) == 0


def test_the_weekly_digest_skips_switched_off_owners():
    active, departed = UserFactory(username="active"), UserFactory(username="departed")
    ActionItemFactory(owner=active, due_date=date(2026, 3, 20))
    ActionItemFactory(owner=departed, due_date=date(2026, 3, 20))
    switch_off(departed)
    pm_reminders.send_action_item_digests(now=datetime(2026, 3, 16, 8, tzinfo=UTC))
    assert told("action_item_digest") == ["active"]


# --- Imported history -----------------------------------------------------------------------------


def test_an_imported_unresolved_incident_is_history_until_someone_works_on_it(manager):
    incident = import_open("OLD-1", datetime(2025, 1, 1, tzinfo=UTC), severity="SEV-1")
    later = datetime(2025, 1, 3, tzinfo=UTC)
    assert incident_reminders.sweep_escalations(now=later) == 0
    assert incident_reminders.sweep_status_updates(now=later) == 0
    assert not incident.timeline.filter(kind=TimelineEventKind.REMINDER).exists()

    # Someone picks it up here: from their update on, its cadence applies.
    posted = later + timedelta(hours=1)
    post_update(incident, by=manager, at=posted)
    cadence = incident.severity.update_every
    assert incident_reminders.sweep_status_updates(now=posted + cadence - SECOND) == 0
    incident_reminders.sweep_status_updates(now=posted + cadence)
    assert incident.timeline.filter(
        kind=TimelineEventKind.REMINDER, message__icontains="status update"
    ).exists()


def test_a_reopened_incidents_post_mortem_is_not_flagged_overdue(manager):
    incident = incident_services.incident_declare(
        title="DB down", severity="SEV-1", declared_by=manager, services=[], at=BASE_TIME
    )
    resolved = BASE_TIME + timedelta(hours=1)
    incident_services.incident_resolve(
        incident=incident, by=manager, checklist=everything_checked(), at=resolved
    )
    postmortem = Postmortem.objects.get(incident=incident)
    late = postmortem.publish_due_at + SECOND
    assert postmortem_list(now=late).get(pk=postmortem.pk).draft_overdue
    incident_services.incident_change_status(
        incident=incident, to_status=IncidentStatus.INVESTIGATING, by=manager, at=late
    )
    row = postmortem_list(now=late).get(pk=postmortem.pk)
    assert (row.draft_overdue, row.review_overdue, row.publish_overdue) == (False, False, False)


def test_no_handoff_request_to_a_switched_off_engineer(rotation):
    handoff_at = datetime(2026, 3, 9, 9, tzinfo=UTC)
    switch_off(engineer("ada"))
    assert oncall_reminders.sweep_handoff_requests(now=handoff_at - timedelta(hours=1)) == 0


def test_no_handoff_request_for_a_switched_off_incoming_engineer(rotation):
    # Bob takes over on 9 March but has left: Ada is not asked to write to him.
    handoff_at = datetime(2026, 3, 9, 9, tzinfo=UTC)
    incoming = Shift.objects.get(rotation=rotation, role=ShiftRole.PRIMARY, starts_at=handoff_at)
    switch_off(incoming.engineer)
    assert oncall_reminders.sweep_handoff_requests(now=handoff_at - timedelta(hours=1)) == 0
    assert not Handoff.objects.exists()


def test_nothing_recorded_for_someone_is_sent_once_they_are_switched_off(sev1):
    # Recorded, then the mail server was down; by the retry the person has left.
    incident_reminders.sweep_status_updates(now=sev1.declared_at + sev1.severity.update_every)
    notification = Notification.objects.filter(
        kind="status_update_overdue", channel="email"
    ).first()
    assert notification is not None
    switch_off(notification.recipient)
    assert notification_send(notification_id=notification.pk) == "obsolete"
    notification.refresh_from_db()
    assert notification.last_error == "Not sent: the recipient's account is switched off"


def test_an_imported_incident_escalates_counting_from_its_first_update_here(manager):
    incident = import_open("OLD-2", datetime(2025, 1, 1, tzinfo=UTC), severity="SEV-1")
    posted = datetime(2025, 2, 1, 9, tzinfo=UTC)
    post_update(incident, by=manager, at=posted)
    threshold = incident.severity.escalate_after
    assert incident_reminders.sweep_escalations(now=posted + threshold - SECOND) == 0
    incident_reminders.sweep_escalations(now=posted + threshold)
    assert incident.timeline.filter(kind=TimelineEventKind.ESCALATION).exists()


def test_a_final_export_leaves_an_imported_incident_acknowledged_here_to_the_team(manager):
    start = datetime(2025, 1, 1, 10, tzinfo=UTC)
    incident = import_open("OLD-7", start)
    picked_up = datetime(2025, 2, 1, tzinfo=UTC)
    incident_services.incident_acknowledge(incident=incident, by=manager, at=picked_up)
    _, created = incident_services.incident_import(
        reference="OLD-7",
        title="Left open",
        severity="SEV-2",
        started_at=start,
        acknowledged_at=start + timedelta(minutes=5),
        resolved_at=start + timedelta(hours=2),
    )
    incident.refresh_from_db()
    assert not created
    assert (incident.acknowledged_at, incident.resolved_at) == (picked_up, None)


def test_a_final_export_leaves_an_imported_incident_updated_here_to_the_team(manager):
    start = datetime(2025, 1, 1, 10, tzinfo=UTC)
    incident = import_open("OLD-8", start)
    post_update(incident, by=manager, at=datetime(2025, 2, 1, tzinfo=UTC))
    incident_services.incident_import(
        reference="OLD-8",
        title="Left open",
        severity="SEV-2",
        started_at=start,
        resolved_at=start + timedelta(hours=2),
    )
    incident.refresh_from_db()
    assert incident.resolved_at is None


# --- A notice recorded, then the situation changed before it went out --------------------------


def test_a_post_mortem_deadline_reads_in_each_recipients_zone():
    team = TeamFactory(name="Payments", engineering_manager=UserFactory(username="team-em"))
    owner = UserFactory(username="owner")
    ProfileFactory(user=owner, time_zone="Asia/Tokyo")
    postmortem = PostmortemFactory(incident__team=team, owner=owner)
    pm_reminders.sweep_postmortem_deadlines(now=postmortem.draft_due_at + SECOND)
    due = postmortem.draft_due_at
    tokyo = due.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M")
    utc = due.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    mine = Notification.objects.get(kind="postmortem_overdue", recipient=owner)
    assert f"{tokyo} JST" in mine.subject
    assert f"{tokyo} JST" in mine.body
    theirs = Notification.objects.get(kind="postmortem_overdue", recipient__username="team-em")
    assert f"{utc} UTC" in theirs.subject  # no profile: the project's zone


def test_an_action_item_reminder_is_not_sent_once_the_item_is_someone_elses():
    owner, newcomer = UserFactory(username="owner"), EngineerFactory(username="newcomer")
    item = ActionItemFactory(owner=owner, due_date=date(2026, 3, 20))
    pm_reminders.sweep_action_items(now=datetime(2026, 3, 21, 12, tzinfo=UTC))
    reminder = Notification.objects.get(kind="action_item_overdue", recipient=owner)
    pm_services.action_items_reassign(items=[item], owner=newcomer, by=None)
    assert notification_send(notification_id=reminder.pk) == "obsolete"


def test_an_action_item_reminder_is_not_sent_for_a_due_date_that_was_moved():
    owner = UserFactory(username="owner")
    item = ActionItemFactory(owner=owner, due_date=date(2026, 3, 20))
    pm_reminders.sweep_action_items(now=datetime(2026, 3, 21, 12, tzinfo=UTC))
    reminder = Notification.objects.get(kind="action_item_overdue", recipient=owner)
    pm_services.action_item_update(item=item, by=owner, due_date=date(2026, 4, 10))
    assert notification_send(notification_id=reminder.pk) == "obsolete"
    reminder.refresh_from_db()
    assert reminder.last_error == "Not sent: its due date changed"


def test_a_post_mortem_reminder_is_not_sent_to_its_former_owner():
    owner, newcomer = UserFactory(username="owner"), UserFactory(username="newcomer")
    postmortem = PostmortemFactory(owner=owner)
    pm_reminders.sweep_postmortem_deadlines(now=postmortem.draft_due_at - SECOND)
    reminder = Notification.objects.get(kind="postmortem_due_soon", recipient=owner)
    Postmortem.objects.filter(pk=postmortem.pk).update(owner=newcomer)
    assert notification_send(notification_id=reminder.pk) == "obsolete"


def test_an_escalation_is_not_sent_once_the_severity_no_longer_escalates_there(sev1, manager):
    vp_level = sev1.severity.escalation_level
    vp_level.users.add(UserFactory(username="vp"))
    incident_reminders.sweep_escalations(now=sev1.detected_at + timedelta(hours=2))
    escalation = Notification.objects.filter(kind="escalation", channel="email").first()
    assert escalation is not None
    incident_services.incident_change_severity(
        incident=sev1, severity="SEV-3", by=manager, reason="Only one customer"
    )
    assert notification_send(notification_id=escalation.pk) == "obsolete"
    escalation.refresh_from_db()
    assert f"no longer escalates to {vp_level.name}" in escalation.last_error


def test_a_severity_raised_past_its_cadence_reminds_once_then_a_cadence_later(manager):
    # A SEV-3 raised to SEV-1 long after its last update: the SEV-1 cadence is overdue at
    # once. One reminder then, the next a whole cadence later, not a minute after.
    incident = incident_services.incident_declare(
        title="Checkout slow", severity="SEV-3", declared_by=manager, at=BASE_TIME
    )
    post_update(incident, by=manager, at=BASE_TIME + timedelta(minutes=1))
    raised = BASE_TIME + timedelta(minutes=29)
    incident_services.incident_change_severity(
        incident=incident, severity="SEV-1", by=manager, at=raised
    )
    cadence = incident.severity.__class__.objects.get(name="SEV-1").update_every
    assert raised - (BASE_TIME + timedelta(minutes=1)) > cadence  # overdue when raised
    moments = [raised + timedelta(minutes=m) for m in range(0, 3 * int(cadence.seconds / 60))]
    for moment in moments:
        incident_reminders.sweep_status_updates(now=moment)
    sent = sorted(
        Notification.objects.filter(kind="status_update_overdue", channel="email").values_list(
            "created_at", flat=True
        )
    )
    gaps = [later - earlier for earlier, later in pairwise(sent)]
    assert gaps
    assert all(gap >= cadence for gap in gaps), gaps
