from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services as incident_services
from incidents.models import Notification, TimelineEventKind
from oncall import reminders, services
from oncall.models import Handoff, Page, PageSource, ShiftRole
from tests.incidents.factories import ServiceFactory, TeamFactory, UserFactory
from tests.oncall.factories import (
    PageFactory,
    RotationFactory,
    RotationMemberFactory,
    ShiftFactory,
    engineer,
)

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
MONDAY = date(2026, 3, 2)
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def rotation():
    team = TeamFactory(name="Platform", engineering_manager=engineer("boss"))
    rotation = RotationFactory(team=team, starts_on=MONDAY)
    for position, name in enumerate(["ada", "bob", "cy"]):
        RotationMemberFactory(rotation=rotation, user=engineer(name), position=position)
    services.rotation_generate_shifts(
        rotation=rotation, weeks=3, now=datetime(2026, 3, 2, 10, tzinfo=UTC)
    )
    return rotation


def declare(rotation, at):
    return incident_services.incident_declare(
        title="DB down",
        severity="SEV-1",
        declared_by=None,
        services=[ServiceFactory(team=rotation.team)],
        at=at,
    )


class TestPageEscalation:
    def test_the_page_itself_is_sent(self, rotation, django_capture_on_commit_callbacks):
        at = datetime(2026, 3, 3, 12, tzinfo=UTC)
        with django_capture_on_commit_callbacks(execute=True):
            declare(rotation, at)
        [email] = mail.outbox
        assert email.to == ["ada@example.com"]
        assert email.subject.startswith("[IncidentDesk] PAGE: INC-")

    def test_secondary_then_manager_at_their_boundaries(self, rotation):
        at = datetime(2026, 3, 3, 12, tzinfo=UTC)
        incident = declare(rotation, at)
        first = Page.objects.get()
        # "Within 5 minutes": an acknowledgement at 5:00 is in time, so 5:00 does not escalate.
        assert reminders.sweep_unacknowledged_pages(now=at + timedelta(minutes=5)) == 0
        assert reminders.sweep_unacknowledged_pages(now=at + timedelta(minutes=5) + SECOND) == 1
        assert reminders.sweep_unacknowledged_pages(now=at + timedelta(minutes=6)) == 0
        second = Page.objects.get(escalated_from=first)
        assert (second.engineer.username, second.escalation_level) == ("bob", 1)
        assert second.source == PageSource.ESCALATION
        # The secondary does not answer either: the team's manager is paged.
        assert second.ack_due_at == at + timedelta(minutes=10) + SECOND
        assert reminders.sweep_unacknowledged_pages(now=second.ack_due_at) == 0
        assert reminders.sweep_unacknowledged_pages(now=second.ack_due_at + SECOND) == 1
        third = Page.objects.get(escalated_from=second)
        assert (third.engineer.username, third.escalation_level) == ("boss", 2)
        assert reminders.sweep_unacknowledged_pages(now=at + timedelta(hours=1)) == 0
        paged = incident.timeline.filter(kind=TimelineEventKind.PAGE).values_list(
            "message", flat=True
        )
        assert [m.split(":")[0] for m in paged] == [
            "Paged Ada Oncall",
            "Paged Bob Oncall",
            "Paged Boss Oncall",
        ]
        escalations = Notification.objects.filter(kind="page_escalation")
        assert sorted(escalations.values_list("recipient__username", flat=True)) == [
            "bob",
            "boss",
        ]
        # Named as the page was: reference, severity and title.
        wording = f"PAGE (escalated): {incident.reference} {incident.severity.name}: "
        assert all(e.subject.startswith(wording) for e in escalations)

    def test_acknowledged_pages_do_not_escalate(self, rotation):
        at = datetime(2026, 3, 3, 12, tzinfo=UTC)
        declare(rotation, at)
        page = Page.objects.get()
        services.page_acknowledge(page=page, by=page.engineer, at=at + timedelta(minutes=6))
        assert reminders.sweep_unacknowledged_pages(now=at + timedelta(minutes=7)) == 0

    def test_an_incident_someone_acknowledged_stops_its_pages_escalating(self, rotation):
        at = datetime(2026, 3, 3, 12, tzinfo=UTC)
        incident = declare(rotation, at)
        # The incident commander picks it up from the incident page, not from Ada's page.
        incident_services.incident_acknowledge(
            incident=incident, by=engineer("ic"), at=at + timedelta(minutes=2)
        )
        assert reminders.sweep_unacknowledged_pages(now=at + timedelta(minutes=6)) == 0
        assert not Page.objects.filter(escalation_level__gt=0).exists()
        assert not Notification.objects.filter(kind="page_escalation").exists()

    def test_a_call_for_help_after_the_acknowledgement_still_escalates(self, rotation):
        at = datetime(2026, 3, 3, 12, tzinfo=UTC)
        incident = declare(rotation, at)
        first = Page.objects.get()
        services.page_acknowledge(page=first, by=first.engineer, at=at + timedelta(minutes=1))
        help_at = at + timedelta(minutes=20)
        PageFactory(
            engineer=rotation.members.get(position=2).user,  # cy, not on call
            team=rotation.team,
            incident=incident,
            acknowledged_at=None,
            paged_at=help_at,
        )
        assert reminders.sweep_unacknowledged_pages(now=help_at + timedelta(minutes=6)) == 1
        assert Page.objects.get(escalation_level=1).engineer.username == "bob"

    def test_a_resolved_incident_stops_its_pages_escalating(self, rotation):
        at = datetime(2026, 3, 3, 12, tzinfo=UTC)
        incident = declare(rotation, at)
        incident.resolved_at = at + timedelta(minutes=3)
        incident.save(update_fields=["resolved_at"])
        assert reminders.sweep_unacknowledged_pages(now=at + timedelta(minutes=6)) == 0

    def test_an_alert_page_without_an_incident_still_escalates(self, rotation):
        at = datetime(2026, 3, 3, 12, tzinfo=UTC)
        ada = rotation.members.get(position=0).user
        PageFactory(
            engineer=ada,
            team=rotation.team,
            incident=None,
            acknowledged_at=None,
            paged_at=at,
            ack_due_at=at + timedelta(minutes=5),
        )
        assert reminders.sweep_unacknowledged_pages(now=at + timedelta(minutes=6)) == 1
        assert Page.objects.get(escalation_level=1).engineer.username == "bob"

    def test_no_secondary_goes_straight_to_the_manager(self, rotation):
        at = datetime(2026, 3, 3, 12, tzinfo=UTC)
        rotation.shifts.filter(role=ShiftRole.SECONDARY).delete()
        declare(rotation, at)
        reminders.sweep_unacknowledged_pages(now=at + timedelta(minutes=6))
        assert Page.objects.get(escalation_level=2).engineer.username == "boss"

    def test_nobody_left_is_written_to_the_timeline_once(self, rotation):
        at = datetime(2026, 3, 3, 12, tzinfo=UTC)
        rotation.shifts.filter(role=ShiftRole.SECONDARY).delete()
        rotation.team.engineering_manager = None
        rotation.team.save()
        incident = declare(rotation, at)
        for minutes in (5, 6):
            reminders.sweep_unacknowledged_pages(now=at + timedelta(minutes=minutes))
        events = incident.timeline.filter(kind=TimelineEventKind.ESCALATION)
        assert [e.message for e in events] == [
            "Page to ada not acknowledged and nobody is left to escalate it to"
        ]

    def test_old_and_imported_pages_are_history(self, rotation):
        ada = rotation.members.get(position=0).user
        now = datetime(2026, 3, 3, 12, tzinfo=UTC)
        PageFactory(
            engineer=ada,
            team=rotation.team,
            acknowledged_at=None,
            paged_at=now - timedelta(hours=13),
        )
        PageFactory(
            engineer=ada,
            team=rotation.team,
            acknowledged_at=None,
            source=PageSource.IMPORTED,
            paged_at=now - timedelta(hours=1),
        )
        assert reminders.sweep_unacknowledged_pages(now=now) == 0

    def test_query_count_is_constant(self, rotation):
        ada = rotation.members.get(position=0).user
        now = datetime(2026, 3, 3, 12, tzinfo=UTC)

        def run():
            with CaptureQueriesContext(connection) as ctx:
                reminders.sweep_unacknowledged_pages(now=now)
            return len(ctx.captured_queries)

        def build(count):
            for n in range(count):
                PageFactory(
                    engineer=ada,
                    team=rotation.team,
                    acknowledged_at=None,
                    paged_at=now - timedelta(minutes=10, seconds=n),
                )

        build(2)
        run()  # escalates those two
        build(2)
        small = run()
        build(20)
        # Finding the work and recording the escalation pages and their timeline events are
        # the same queries for two escalations or twenty.
        large = run()
        assert large == small
        assert Page.objects.filter(source=PageSource.ESCALATION).count() == 24


class TestHandoffRequests:
    def test_an_hour_before_the_handoff_the_outgoing_engineer_is_asked(self, rotation):
        handoff_at = datetime(2026, 3, 9, 9, tzinfo=UTC)
        due = handoff_at - timedelta(hours=1)
        assert reminders.sweep_handoff_requests(now=due - SECOND) == 0
        assert reminders.sweep_handoff_requests(now=due) == 1
        assert reminders.sweep_handoff_requests(now=due + timedelta(minutes=5)) == 0
        handoff = Handoff.objects.get()
        assert (handoff.outgoing.username, handoff.incoming.username) == ("ada", "bob")
        request = Notification.objects.get(kind="handoff_request")
        assert request.recipient.username == "ada"

    def test_the_incoming_engineer_is_told_when_it_is_written(self, rotation):
        handoff = services.handoff_for(
            rotation=rotation, handoff_at=datetime(2026, 3, 9, 9, tzinfo=UTC)
        )
        services.handoff_write(handoff=handoff, author=handoff.outgoing, summary="All quiet")
        services.handoff_write(handoff=handoff, author=handoff.outgoing, summary="All quiet!")
        [told] = Notification.objects.filter(kind="handoff_written")
        assert told.recipient.username == "bob"
        assert "All quiet" in told.body

    def test_no_request_once_written(self, rotation):
        handoff = services.handoff_for(
            rotation=rotation, handoff_at=datetime(2026, 3, 9, 9, tzinfo=UTC)
        )
        services.handoff_write(handoff=handoff, author=handoff.outgoing, summary="Done early")
        assert reminders.sweep_handoff_requests(now=datetime(2026, 3, 9, 8, tzinfo=UTC)) == 0


class TestShiftHeadsUp:
    def test_the_evening_before_in_the_engineers_zone_across_dst(self):
        # The shift starts Monday 30 March 09:00 London (BST began on Sunday 29 March); the
        # reminder is due Sunday 18:00 BST = 17:00 UTC.
        ada = engineer("ada", "Europe/London")
        start = datetime(2026, 3, 30, 9, tzinfo=LONDON)
        ShiftFactory(engineer=ada, starts_at=start)
        evening = datetime(2026, 3, 29, 17, tzinfo=UTC)
        assert reminders.sweep_shift_heads_up(now=evening - SECOND) == 0
        assert reminders.sweep_shift_heads_up(now=evening) == 1
        assert reminders.sweep_shift_heads_up(now=evening + timedelta(hours=1)) == 0
        assert Notification.objects.get().kind == "shift_heads_up"

    def test_the_rest_of_a_shift_after_a_cover_gets_none_the_cover_does(self):
        # Ada's week from Monday; Cy covers Thursday night. Ada is on call before and after
        # and was told when the cover ends: no "you are on call from Friday" for her.
        ada, cy = engineer("ada"), engineer("cy")
        shift = ShiftFactory(engineer=ada, starts_at=datetime(2026, 3, 2, 9, tzinfo=UTC))
        services.shift_override(
            shift=shift,
            starts_at=datetime(2026, 3, 5, 22, tzinfo=UTC),
            ends_at=datetime(2026, 3, 6, 7, tzinfo=UTC),
            engineer=cy,
        )
        assert reminders.sweep_shift_heads_up(now=datetime(2026, 3, 5, 18, tzinfo=UTC)) == 1
        [told] = Notification.objects.filter(kind="shift_heads_up")
        assert told.recipient == cy

    def test_shifts_already_started_get_none(self):
        ada = engineer("ada")
        ShiftFactory(engineer=ada, starts_at=datetime(2026, 3, 2, 9, tzinfo=UTC))
        assert reminders.sweep_shift_heads_up(now=datetime(2026, 3, 2, 10, tzinfo=UTC)) == 0


def test_an_override_of_a_future_shift_tells_both_engineers(django_capture_on_commit_callbacks):
    ada, bob = engineer("ada"), engineer("bob")
    from django.utils import timezone

    start = timezone.now() + timedelta(days=3)
    shift = ShiftFactory(engineer=ada, starts_at=start)
    with django_capture_on_commit_callbacks(execute=True):
        services.shift_override(
            shift=shift,
            starts_at=start + timedelta(days=1),
            ends_at=start + timedelta(days=2),
            engineer=bob,
        )
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "bob@example.com"]


def test_reminder_users_without_profiles_still_work():
    user = UserFactory(username="plain")
    ShiftFactory(engineer=user, starts_at=datetime(2026, 3, 3, 9, tzinfo=UTC))
    assert reminders.sweep_shift_heads_up(now=datetime(2026, 3, 2, 18, tzinfo=UTC)) == 1
