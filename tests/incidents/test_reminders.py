"""Status-update reminders and escalations at their boundaries, with explicit moments."""

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Group

from incidents import reminders, services
from incidents.models import (
    EscalationLevel,
    IncidentRole,
    Notification,
    TimelineEvent,
    TimelineEventKind,
)
from incidents.services import ResolutionChecklist
from incidents.tasks import sweep_escalations, sweep_status_updates
from tests.conftest import reads_and_writes
from tests.incidents.factories import BASE_TIME, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = BASE_TIME
SECOND = timedelta(seconds=1)


def reminders_for(incident):
    return list(
        Notification.objects.filter(incident=incident, kind="status_update_overdue")
        .order_by("created_at")
        .values_list("recipient__username", flat=True)
    )


class TestStatusUpdateReminders:
    def test_boundary_and_repetition_per_interval(self, sev1):
        assert reminders.sweep_status_updates(now=T0 + timedelta(minutes=15) - SECOND) == 0
        assert reminders.sweep_status_updates(now=T0 + timedelta(minutes=15)) == 1
        assert reminders_for(sev1) == ["comms"]
        # Running again in the same interval (beat fired twice, a retry) records nothing.
        assert reminders.sweep_status_updates(now=T0 + timedelta(minutes=20)) == 0
        assert reminders.sweep_status_updates(now=T0 + timedelta(minutes=30) - SECOND) == 0
        assert reminders.sweep_status_updates(now=T0 + timedelta(minutes=30)) == 1
        assert reminders_for(sev1) == ["comms", "comms"]
        events = sev1.timeline.filter(kind=TimelineEventKind.REMINDER)
        assert events.count() == 2
        assert "status update overdue" in events.first().message

    def test_posting_an_update_resets_the_clock(self, sev1):
        reminders.sweep_status_updates(now=T0 + timedelta(minutes=15))
        services.status_update_post(
            incident=sev1,
            author=None,
            status="Investigating",
            impact="Checkout fails",
            action="Rolling back",
            eta="unknown",
            at=T0 + timedelta(minutes=17),
        )
        assert reminders.sweep_status_updates(now=T0 + timedelta(minutes=31)) == 0
        assert reminders.sweep_status_updates(now=T0 + timedelta(minutes=32) - SECOND) == 0
        assert reminders.sweep_status_updates(now=T0 + timedelta(minutes=32)) == 1

    def test_commander_when_there_is_no_communications_lead(self, sev1, manager):
        services.role_relieve(incident=sev1, role=IncidentRole.COMMUNICATIONS_LEAD, by=manager)
        services.role_assign(
            incident=sev1,
            role=IncidentRole.COMMANDER,
            user=UserFactory(username="ic"),
            by=manager,
        )
        reminders.sweep_status_updates(now=T0 + timedelta(minutes=15))
        assert reminders_for(sev1) == ["ic"]

    def test_an_address_nobody_reads_passes_it_down_the_chain(self, manager):
        # An alert opened it (a monitoring account with no address); ada, on call,
        # acknowledged it. She is reminded, not the bot and not the manager yet.
        bot = UserFactory(username="alertmanager", email="")
        incident = services.incident_declare(
            title="Checkout down", severity="SEV-1", declared_by=bot, at=T0
        )
        ada = UserFactory(username="ada")
        services.incident_acknowledge(incident=incident, by=ada, at=T0 + timedelta(minutes=2))
        reminders.sweep_status_updates(now=T0 + timedelta(minutes=15))
        assert reminders_for(incident) == ["ada"]
        # A communications lead whose account was switched off passes it on too.
        comms = UserFactory(username="comms")
        services.role_assign(
            incident=incident, role=IncidentRole.COMMUNICATIONS_LEAD, user=comms, by=manager
        )
        comms.is_active = False
        comms.save()
        reminders.sweep_status_updates(now=T0 + timedelta(minutes=30))
        assert reminders_for(incident) == ["ada", "ada"]

    def test_no_reminder_once_resolved(self, sev1):
        services.incident_resolve(
            incident=sev1,
            by=None,
            checklist=ResolutionChecklist.all_confirmed(),
            at=T0 + timedelta(minutes=10),
        )
        assert reminders.sweep_status_updates(now=T0 + timedelta(hours=5)) == 0

    def test_team_webhook_gets_it_too(self, sev1):
        sev1.team.chat_webhook_url = "https://chat.example.com/hooks/payments"
        sev1.team.save()
        reminders.sweep_status_updates(now=T0 + timedelta(minutes=15))
        hook = Notification.objects.get(channel="webhook")
        assert hook.webhook_url == "https://chat.example.com/hooks/payments"

    def test_task_takes_an_iso_moment(self, sev1):
        assert sweep_status_updates((T0 + timedelta(minutes=15)).isoformat()) == 1
        with pytest.raises(ValueError, match="offset"):
            sweep_status_updates("2026-03-02T10:00:00")

    def test_task_takes_an_aware_datetime_too(self, sev1):
        assert sweep_status_updates(T0 + timedelta(minutes=15)) == 1
        with pytest.raises(ValueError, match="offset"):
            sweep_status_updates(datetime(2026, 3, 2, 10))  # noqa: DTZ001 (naive on purpose)


class TestEscalations:
    def test_sev1_goes_to_vp_engineering_once(self, sev1):
        vp = UserFactory(username="vp")
        cto_group = Group.objects.create(name="Execs")
        UserFactory(username="exec").groups.add(cto_group)
        level = EscalationLevel.objects.get(name="VP Engineering")
        level.users.add(vp)
        level.groups.add(cto_group)
        assert reminders.sweep_escalations(now=T0 + timedelta(minutes=30) - SECOND) == 0
        assert reminders.sweep_escalations(now=T0 + timedelta(minutes=30)) == 2
        assert reminders.sweep_escalations(now=T0 + timedelta(minutes=45)) == 0
        to = set(
            Notification.objects.filter(kind="escalation").values_list(
                "recipient__username", flat=True
            )
        )
        assert to == {"vp", "exec"}
        [event] = sev1.timeline.filter(kind=TimelineEventKind.ESCALATION)
        assert event.message.startswith("Escalated to VP Engineering: ")
        assert event.payload["to"] == ["exec", "vp"]
        assert event.payload["level"] == "VP Engineering"

    def test_the_team_channel_is_told_who_it_went_to_or_why_nobody(self, sev1):
        sev1.team.chat_webhook_url = "https://chat.example.com/hooks/payments"
        sev1.team.save()
        reminders.sweep_escalations(now=T0 + timedelta(minutes=30))
        [hook] = Notification.objects.filter(kind="escalation", channel="webhook")
        assert "Escalated to VP Engineering: nobody is set for this level." in hook.body
        assert "to you" not in hook.body
        assert not Notification.objects.filter(kind="escalation", channel="email").exists()

    def test_sev2_goes_to_the_team_manager_after_two_hours(self, sev1, manager):
        services.incident_change_severity(incident=sev1, severity="SEV-2", by=manager, at=T0)
        assert reminders.sweep_escalations(now=T0 + timedelta(hours=2) - SECOND) == 0
        assert reminders.sweep_escalations(now=T0 + timedelta(hours=2)) == 1
        assert Notification.objects.get(kind="escalation").recipient.username == "em"

    def test_raising_the_severity_escalates_to_the_new_level(self, sev1, manager):
        EscalationLevel.objects.get(name="VP Engineering").users.add(UserFactory(username="vp"))
        services.incident_change_severity(incident=sev1, severity="SEV-2", by=manager, at=T0)
        reminders.sweep_escalations(now=T0 + timedelta(hours=2))
        services.incident_change_severity(incident=sev1, severity="SEV-1", by=manager)
        reminders.sweep_escalations(now=T0 + timedelta(hours=2, minutes=1))
        levels = list(
            sev1.timeline.filter(kind=TimelineEventKind.ESCALATION).values_list(
                "payload__level", flat=True
            )
        )
        assert levels == ["Engineering Manager", "VP Engineering"]

    def test_no_escalation_once_resolved_or_for_sev3(self, sev1, manager):
        services.incident_change_severity(incident=sev1, severity="SEV-3", by=manager)
        assert reminders.sweep_escalations(now=T0 + timedelta(days=2)) == 0
        services.incident_change_severity(incident=sev1, severity="SEV-1", by=manager)
        services.incident_resolve(
            incident=sev1, by=None, checklist=ResolutionChecklist.all_confirmed()
        )
        assert sweep_escalations((T0 + timedelta(days=2)).isoformat()) == 0
        assert not TimelineEvent.objects.filter(kind=TimelineEventKind.ESCALATION).exists()

    def test_a_reopened_incident_escalates_when_it_has_been_open_the_threshold_anew(
        self, sev1, manager
    ):
        EscalationLevel.objects.get(name="VP Engineering").users.add(UserFactory(username="vp"))
        resolve = {"by": None, "checklist": ResolutionChecklist.all_confirmed()}
        services.incident_resolve(incident=sev1, at=T0 + timedelta(minutes=20), **resolve)
        reopened = T0 + timedelta(days=2)
        services.incident_change_status(
            incident=sev1, to_status="investigating", by=manager, at=reopened
        )
        # Twenty minutes open before, one second now: not 30 minutes unresolved.
        assert reminders.sweep_escalations(now=reopened + SECOND) == 0
        assert reminders.sweep_escalations(now=reopened + timedelta(minutes=30) - SECOND) == 0
        assert reminders.sweep_escalations(now=reopened + timedelta(minutes=30)) == 1
        assert reminders.sweep_escalations(now=reopened + timedelta(hours=5)) == 0
        # Escalated in this episode; reopened once more, it escalates again.
        services.incident_resolve(incident=sev1, at=reopened + timedelta(hours=6), **resolve)
        again = reopened + timedelta(days=1)
        services.incident_change_status(
            incident=sev1, to_status="investigating", by=manager, at=again
        )
        assert reminders.sweep_escalations(now=again + timedelta(minutes=30)) == 1
        escalations = sev1.timeline.filter(kind=TimelineEventKind.ESCALATION)
        assert escalations.count() == 2
        mail = Notification.objects.filter(kind="escalation").order_by("created_at").last()
        assert "more than 30 min after it was reopened" in mail.body


@pytest.mark.parametrize("sweep", [reminders.sweep_status_updates, reminders.sweep_escalations])
def test_sweeps_take_a_constant_number_of_queries(sweep, manager):
    EscalationLevel.objects.get(name="VP Engineering").users.add(UserFactory(username="vp"))

    def build(count: int, offset: int):
        for n in range(count):
            team = TeamFactory(name=f"T{offset + n}", engineering_manager=UserFactory())
            incident = services.incident_declare(
                title=f"i{n}",
                severity="SEV-1" if n % 2 else "SEV-2",
                declared_by=manager,
                services=[ServiceFactory(team=team)],
                at=T0,
            )
            services.role_assign(
                incident=incident, role=IncidentRole.COMMANDER, user=UserFactory(), by=manager
            )

    build(3, 0)
    small, _ = reads_and_writes(lambda: sweep(now=T0 + timedelta(hours=3)))
    build(30, 100)
    large, inserts = reads_and_writes(lambda: sweep(now=T0 + timedelta(hours=6)))
    assert large == small
    assert inserts < 10
