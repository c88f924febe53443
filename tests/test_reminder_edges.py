"""Reminder edges: a cadence that changes, a call for help answered, a new owner, a retired
rotation, a level set after it was reached, and the digest's week in zones west of UTC."""

from datetime import UTC, date, datetime, timedelta

import pytest

from incidents import reminders as incident_reminders
from incidents import services as incident_services
from incidents.models import EscalationLevel, Notification, Severity, TimelineEventKind
from oncall import reminders as oncall_reminders
from oncall import services as oncall_services
from oncall.models import Page
from postmortems import reminders as postmortem_reminders
from postmortems import services as postmortem_services
from tests.incidents.factories import (
    BASE_TIME,
    EngineerFactory,
    ProfileFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)
from tests.oncall.factories import RotationFactory, RotationMemberFactory, engineer
from tests.postmortems.factories import ActionItemFactory

pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)


def _sent(kind: str) -> list:
    return list(
        Notification.objects.filter(kind=kind)
        .order_by("created_at", "pk")
        .values_list("created_at", "recipient__username")
    )


class TestStatusUpdateCadenceChanges:
    def _declare(self, manager, severity: str):
        return incident_services.incident_declare(
            title="Checkout slow", severity=severity, declared_by=manager, at=BASE_TIME
        )

    def _change(self, incident, manager, severity: str, minute: int) -> None:
        incident_services.incident_change_severity(
            incident=incident, severity=severity, by=manager, at=BASE_TIME + minute * MINUTE
        )

    def _sweep(self, start, end):
        moment = start
        while moment <= end:
            incident_reminders.sweep_status_updates(now=moment)
            moment += timedelta(seconds=30)

    def test_lowered_to_sev2_it_reminds_every_30_minutes_from_the_last_update(self, sev1, manager):
        self._sweep(BASE_TIME, BASE_TIME + 34 * MINUTE)
        incident_services.incident_change_severity(
            incident=sev1, severity="SEV-2", by=manager, at=BASE_TIME + 35 * MINUTE
        )
        self._sweep(BASE_TIME + 35 * MINUTE, BASE_TIME + 95 * MINUTE)
        assert [at - BASE_TIME for at, _ in _sent("status_update_overdue")] == [
            15 * MINUTE,
            30 * MINUTE,
            60 * MINUTE,
            90 * MINUTE,
        ]

    def test_lowered_to_sev3_the_next_reminder_is_four_hours_after_the_last_update(
        self, sev1, manager
    ):
        for minutes in (15, 30):
            incident_reminders.sweep_status_updates(now=BASE_TIME + minutes * MINUTE)
        incident_services.incident_change_severity(
            incident=sev1, severity="SEV-3", by=manager, at=BASE_TIME + 40 * MINUTE
        )
        for hours in (4, 8):
            moment = BASE_TIME + timedelta(hours=hours)
            assert incident_reminders.sweep_status_updates(now=moment - MINUTE) == 0
            assert incident_reminders.sweep_status_updates(now=moment) == 1

    def test_raised_past_its_new_cadence_it_is_reminded_at_once_then_every_cadence(self, manager):
        # A SEV-3 (every 4 h) raised to SEV-1 (every 15 min) 20 minutes after it was declared
        # without an update: overdue under SEV-1 already, so reminded at the change.
        incident = self._declare(manager, "SEV-3")
        self._change(incident, manager, "SEV-1", 20)
        self._sweep(BASE_TIME + 20 * MINUTE, BASE_TIME + 50 * MINUTE)
        assert [at - BASE_TIME for at, _ in _sent("status_update_overdue")] == [
            20 * MINUTE,
            35 * MINUTE,
            50 * MINUTE,
        ]

    def test_raised_long_after_the_last_update_it_is_reminded_at_once(self, manager):
        incident = self._declare(manager, "SEV-3")
        incident_services.status_update_post(
            incident=incident,
            author=manager,
            status="Investigating",
            impact="Slow checkout",
            action="Looking",
            eta="1 h",
            at=BASE_TIME + 5 * MINUTE,
        )
        self._change(incident, manager, "SEV-1", 55)
        # 50 minutes without an update under a 15-minute cadence: reminded at the first sweep,
        # then 15 minutes after the change.
        assert incident_reminders.sweep_status_updates(now=BASE_TIME + 56 * MINUTE) == 1
        assert incident_reminders.sweep_status_updates(now=BASE_TIME + 69 * MINUTE) == 0
        assert incident_reminders.sweep_status_updates(now=BASE_TIME + 70 * MINUTE) == 1

    def test_raised_just_after_a_reminder_the_next_keeps_the_cadence(self, manager):
        # SEV-2 (every 30 min) reminded at 30, raised to SEV-1 at 40: the reminder at 30 was
        # within the new cadence, so the next is at 45, not a second one at 40.
        incident = self._declare(manager, "SEV-2")
        self._sweep(BASE_TIME + 30 * MINUTE, BASE_TIME + 39 * MINUTE)
        self._change(incident, manager, "SEV-1", 40)
        self._sweep(BASE_TIME + 40 * MINUTE, BASE_TIME + 60 * MINUTE)
        assert [at - BASE_TIME for at, _ in _sent("status_update_overdue")] == [
            30 * MINUTE,
            45 * MINUTE,
            60 * MINUTE,
        ]

    def _minutes_sent(self) -> list[int]:
        return [int((at - BASE_TIME) / MINUTE) for at, _ in _sent("status_update_overdue")]

    def test_raised_twice_the_second_counts_from_the_last_reminder(self, manager):
        # SEV-3 raised to SEV-2 at 50 (overdue: reminded then, and at 80), raised to SEV-1 at
        # 85: the reminder at 80 is within 15 minutes, so the next is at 95, none for 75.
        incident = self._declare(manager, "SEV-3")
        self._change(incident, manager, "SEV-2", 50)
        self._sweep(BASE_TIME + 50 * MINUTE, BASE_TIME + 84 * MINUTE)
        self._change(incident, manager, "SEV-1", 85)
        self._sweep(BASE_TIME + 85 * MINUTE, BASE_TIME + 110 * MINUTE)
        assert self._minutes_sent() == [50, 80, 95, 110]

    def test_lowered_after_a_raise_no_reminder_comes_sooner_than_the_new_cadence(self, manager):
        incident = self._declare(manager, "SEV-3")
        self._change(incident, manager, "SEV-1", 20)
        self._sweep(BASE_TIME + 20 * MINUTE, BASE_TIME + 51 * MINUTE)
        self._change(incident, manager, "SEV-2", 52)
        self._sweep(BASE_TIME + 52 * MINUTE, BASE_TIME + 81 * MINUTE)
        assert self._minutes_sent() == [20, 35, 50, 80]

    def test_a_managers_cadences_the_same_way(self, manager):
        Severity.objects.filter(name="SEV-3").update(update_every=45 * MINUTE)
        Severity.objects.filter(name="SEV-2").update(update_every=20 * MINUTE)
        incident = self._declare(manager, "SEV-3")
        self._sweep(BASE_TIME + 44 * MINUTE, BASE_TIME + 49 * MINUTE)
        self._change(incident, manager, "SEV-2", 50)
        self._sweep(BASE_TIME + 50 * MINUTE, BASE_TIME + 66 * MINUTE)
        assert self._minutes_sent() == [45, 65]


def test_the_timeline_names_whom_an_escalation_reached_once_someone_is_set(manager):
    team = TeamFactory(name="Payments", engineering_manager=UserFactory(username="em"))
    incident = incident_services.incident_declare(
        title="Checkout down",
        severity="SEV-1",
        declared_by=manager,
        services=[ServiceFactory(team=team)],
        at=BASE_TIME,
    )
    assert incident_reminders.sweep_escalations(now=BASE_TIME + 30 * MINUTE) == 0
    vp = UserFactory(username="vp", first_name="Vera", last_name="Page")
    EscalationLevel.objects.get(name="VP Engineering").users.add(vp)
    assert incident_reminders.sweep_escalations(now=BASE_TIME + 31 * MINUTE) == 1
    assert incident_reminders.sweep_escalations(now=BASE_TIME + 32 * MINUTE) == 0
    assert list(
        incident.timeline.filter(kind=TimelineEventKind.ESCALATION)
        .order_by("occurred_at")
        .values_list("message", flat=True)
    ) == [
        "Escalated to VP Engineering: nobody is set for this level",
        "Escalated to VP Engineering: Vera Page",
    ]


class TestDeclaredWithoutServices:
    def test_the_declarers_team_owns_it_and_its_manager_is_escalated_to(self, client):
        boss = UserFactory(username="boss")
        team = TeamFactory(name="Payments", engineering_manager=boss)
        declarer = EngineerFactory(username="dana")
        ProfileFactory(user=declarer, team=team)
        client.force_login(declarer)
        response = client.post(
            "/incidents/declare/",
            {
                "title": "Login slow for some",
                "severity": Severity.objects.get(name="SEV-2").pk,
                "detection_method": "alert",
            },
        )
        assert response.status_code == 302
        incident = declarer.declared_incidents.get()
        assert incident.team == team
        detected = incident.detected_at
        assert incident_reminders.sweep_escalations(now=detected + 2 * 60 * MINUTE) == 1
        assert _sent("escalation") == [(detected + 2 * 60 * MINUTE, "boss")]

    def test_the_declarers_team_is_not_paged_for_it(self, client):
        # Ada is on call for Payments and declares with no service: she is not paged by her
        # own declaration, on the page or through an alert.
        team = TeamFactory(name="Payments", engineering_manager=UserFactory(username="boss"))
        ada = engineer("ada", team=team)
        rotation = RotationFactory(team=team, starts_on=BASE_TIME.date())
        RotationMemberFactory(rotation=rotation, user=ada, position=0)
        oncall_services.rotation_generate_shifts(rotation=rotation, weeks=2, now=BASE_TIME)
        incident = incident_services.incident_declare(
            title="Login slow", severity="SEV-2", declared_by=ada, at=BASE_TIME + MINUTE
        )
        assert incident.team == team
        assert not Page.objects.exists()
        # A team the declarer names is paged, as before.
        named = incident_services.incident_declare(
            title="Search slow",
            severity="SEV-2",
            declared_by=ada,
            team=team,
            at=BASE_TIME + 2 * MINUTE,
        )
        assert list(Page.objects.values_list("incident", "engineer__username")) == [
            (named.pk, "ada")
        ]

    def test_a_service_names_the_owner_before_the_declarer_does(self, manager):
        own, services_team = TeamFactory(name="Payments"), TeamFactory(name="Search")
        ProfileFactory(user=manager, team=own)
        incident = incident_services.incident_declare(
            title="Search down",
            severity="SEV-2",
            declared_by=manager,
            services=[ServiceFactory(name="search", team=services_team)],
        )
        assert incident.team == services_team

    def test_with_no_team_at_all_the_timeline_says_so(self, manager):
        incident = incident_services.incident_declare(
            title="Odd", severity="SEV-2", declared_by=manager, at=BASE_TIME
        )
        assert incident.team is None
        assert incident_reminders.sweep_escalations(now=BASE_TIME + 121 * MINUTE) == 0
        assert incident.timeline.get(kind=TimelineEventKind.ESCALATION).message == (
            "Escalated to Engineering Manager: nobody, the incident has no team"
        )


class TestPageEscalation:
    AT = datetime(2026, 3, 3, 12, tzinfo=UTC)

    @pytest.fixture
    def rotation(self):
        team = TeamFactory(name="Platform", engineering_manager=engineer("boss"))
        rotation = RotationFactory(team=team, starts_on=date(2026, 3, 2))
        for position, name in enumerate(["ada", "bob", "cy"]):
            RotationMemberFactory(rotation=rotation, user=engineer(name), position=position)
        oncall_services.rotation_generate_shifts(
            rotation=rotation, weeks=3, now=datetime(2026, 3, 2, 10, tzinfo=UTC)
        )
        return rotation

    def test_an_answered_call_for_help_does_not_reach_the_manager(self, rotation):
        incident = incident_services.incident_declare(
            title="Database down",
            severity="SEV-1",
            declared_by=None,
            services=[ServiceFactory(team=rotation.team)],
            at=self.AT,
        )
        first = Page.objects.get()
        oncall_services.page_acknowledge(page=first, by=first.engineer, at=self.AT + MINUTE)
        cy = engineer("cy")
        for_help = oncall_services.page_record(
            engineer=cy,
            incident=incident,
            team=rotation.team,
            paged_at=self.AT + 20 * MINUTE,
            source="manual",
            message="Help with the database",
        )
        # Nobody answers the call for help in time: it goes to the secondary ...
        assert oncall_reminders.sweep_unacknowledged_pages(now=self.AT + 25.5 * MINUTE) == 1
        # ... then cy answers after all: the secondary's page does not go to the manager.
        oncall_services.page_acknowledge(page=for_help, by=cy, at=self.AT + 26 * MINUTE)
        assert oncall_reminders.sweep_unacknowledged_pages(now=self.AT + 31 * MINUTE) == 0
        assert not Page.objects.filter(engineer__username="boss").exists()

    def test_a_page_without_an_incident_stops_when_the_first_one_is_answered(self, rotation):
        ada = engineer("ada")
        page = oncall_services.page_record(
            engineer=ada, team=rotation.team, paged_at=self.AT, message="Disk full"
        )
        assert oncall_reminders.sweep_unacknowledged_pages(now=self.AT + 6 * MINUTE) == 1
        oncall_services.page_acknowledge(page=page, by=ada, at=self.AT + 7 * MINUTE)
        assert oncall_reminders.sweep_unacknowledged_pages(now=self.AT + 12 * MINUTE) == 0

    def test_unanswered_it_still_goes_to_the_manager(self, rotation):
        oncall_services.page_record(
            engineer=engineer("ada"), team=rotation.team, paged_at=self.AT, message="Disk full"
        )
        assert oncall_reminders.sweep_unacknowledged_pages(now=self.AT + 6 * MINUTE) == 1
        assert oncall_reminders.sweep_unacknowledged_pages(now=self.AT + 12 * MINUTE) == 1
        assert Page.objects.filter(engineer__username="boss", escalation_level=2).exists()

    def test_an_escalation_retried_after_the_incident_was_answered_is_not_sent(
        self, rotation, manager, settings, django_capture_on_commit_callbacks
    ):
        from incidents import notifications

        incident = incident_services.incident_declare(
            title="Database down",
            severity="SEV-1",
            declared_by=None,
            services=[ServiceFactory(team=rotation.team)],
            at=self.AT,
        )
        settings.EMAIL_BACKEND = "tests.email_backends.RefusingBackend"
        with django_capture_on_commit_callbacks(execute=True):
            oncall_reminders.sweep_unacknowledged_pages(now=self.AT + 6 * MINUTE)
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        escalation = Notification.objects.get(kind="page_escalation")
        incident_services.incident_acknowledge(
            incident=incident, by=manager, at=self.AT + 7 * MINUTE
        )
        escalation.refresh_from_db()
        result = notifications.notification_send(
            notification_id=escalation.pk, now=escalation.next_attempt_at
        )
        assert result == "obsolete"

    def test_a_retired_rotation_gets_no_heads_up(self, rotation):
        evening = datetime(2026, 3, 8, 18, tzinfo=UTC)
        assert oncall_reminders.sweep_shift_heads_up(now=evening) == 2
        Notification.objects.all().delete()
        rotation.is_active = False
        rotation.save()
        assert oncall_reminders.sweep_shift_heads_up(now=evening + timedelta(days=7)) == 0


def test_an_action_items_new_owner_is_reminded(manager):
    team = TeamFactory(name="Payments", engineering_manager=UserFactory(username="em"))
    alice = UserFactory(username="alice")
    ProfileFactory(user=alice, team=team)
    item = ActionItemFactory(owner=alice, due_date=date(2026, 3, 20))
    postmortem_reminders.sweep_action_items(now=datetime(2026, 3, 18, 1, tzinfo=UTC))
    postmortem_reminders.sweep_action_items(now=datetime(2026, 3, 21, 1, tzinfo=UTC))
    bob = EngineerFactory(username="bob")
    postmortem_services.action_items_reassign(
        items=[item], owner=bob, by=manager, at=datetime(2026, 3, 22, tzinfo=UTC)
    )
    postmortem_reminders.sweep_action_items(now=datetime(2026, 3, 22, 1, tzinfo=UTC))
    postmortem_reminders.sweep_action_items(now=datetime(2026, 3, 22, 2, tzinfo=UTC))
    assert [who for _, who in _sent("action_item_due_soon")] == ["alice"]
    assert [who for _, who in _sent("action_item_overdue")] == ["alice", "bob"]


def test_the_weekly_digest_comes_every_monday_west_of_utc(settings):
    settings.TIME_ZONE = "America/Los_Angeles"
    owner = UserFactory(username="owner")
    ActionItemFactory(owner=owner, due_date=date(2026, 12, 1))
    # Beat's schedule: Mondays 07:00 UTC. The clocks go back on 1 November in Los Angeles.
    mondays = [datetime(2026, 10, 26, 7, tzinfo=UTC) + timedelta(weeks=n) for n in range(3)]
    sent = [postmortem_reminders.send_action_item_digests(now=monday) for monday in mondays]
    assert sent == [1, 1, 1]


def test_reminders_recorded_under_the_old_keys_are_not_sent_again_after_the_upgrade(manager):
    import importlib

    from django.apps import apps

    upgrade = importlib.import_module(
        "incidents.migrations.0016_reminder_keys_with_due_moment_and_owner"
    )
    team = TeamFactory(name="Payments", engineering_manager=UserFactory(username="em"))
    incident = incident_services.incident_declare(
        title="Checkout down",
        severity="SEV-1",
        declared_by=manager,
        services=[ServiceFactory(team=team)],
        at=BASE_TIME,
    )
    owner = EngineerFactory(username="alice")
    item = ActionItemFactory(owner=owner, due_date=date(2026, 3, 20))
    assert incident_reminders.sweep_status_updates(now=BASE_TIME + 16 * MINUTE) == 1
    assert postmortem_reminders.sweep_action_items(now=datetime(2026, 3, 18, 1, tzinfo=UTC)) == 1
    # As the version before recorded them: the interval's number, no owner.
    status_row = Notification.objects.get(kind="status_update_overdue")
    since = status_row.key.split(":")[2]
    status_row.key = f"status-update-overdue:{incident.pk}:{since}:1"
    status_row.save()
    item_row = Notification.objects.get(kind="action_item_due_soon")
    item_row.key = f"ai-due-soon:{item.pk}:2026-03-20"
    item_row.save()

    upgrade.rewrite(apps, None)

    assert incident_reminders.sweep_status_updates(now=BASE_TIME + 17 * MINUTE) == 0
    assert postmortem_reminders.sweep_action_items(now=datetime(2026, 3, 18, 2, tzinfo=UTC)) == 0
    reminders_on_the_timeline = incident.timeline.filter(kind=TimelineEventKind.REMINDER)
    assert reminders_on_the_timeline.count() == 1
