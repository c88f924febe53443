"""Reminder sweeps racing each other on PostgreSQL: each notification is recorded and sent once."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, connections

from incidents import reminders, services
from incidents.models import IncidentRole, Notification, TimelineEvent, TimelineEventKind
from tests.incidents.factories import BASE_TIME, UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrent transactions"),
]


def race(target, *, threads: int = 2) -> list[BaseException]:
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            target()
        except BaseException as error:  # reported by the test
            errors.append(error)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


def test_two_concurrent_sweeps_record_and_send_each_reminder_once(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    comms = UserFactory(username="comms", email="comms@example.com")
    vp = UserFactory(username="vp", email="vp@example.com")
    from incidents.models import EscalationLevel

    EscalationLevel.objects.get(name="VP Engineering").users.add(vp)
    for n in range(5):
        incident = services.incident_declare(
            title=f"Outage {n}", severity="SEV-1", declared_by=None, at=BASE_TIME
        )
        services.role_assign(
            incident=incident,
            role=IncidentRole.COMMUNICATIONS_LEAD,
            user=comms,
            by=None,
            at=BASE_TIME,
        )
    now = BASE_TIME + timedelta(minutes=40)

    def both():
        reminders.sweep_status_updates(now=now)
        reminders.sweep_escalations(now=now)

    assert race(both, threads=4) == []
    both()  # and once more, after the race: still nothing new
    assert Notification.objects.filter(kind="status_update_overdue").count() == 5
    assert Notification.objects.filter(kind="escalation").count() == 5
    assert TimelineEvent.objects.filter(kind=TimelineEventKind.ESCALATION).count() == 5
    assert TimelineEvent.objects.filter(kind=TimelineEventKind.REMINDER).count() == 5
    assert (
        sorted(m.to[0] for m in mail.outbox) == ["comms@example.com"] * 5 + ["vp@example.com"] * 5
    )
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_concurrent_page_escalation_sweeps_page_the_secondary_once():
    from datetime import UTC, date, datetime

    from oncall import reminders as oncall_reminders
    from oncall import services as oncall_services
    from oncall.models import Page
    from tests.incidents.factories import ServiceFactory, TeamFactory
    from tests.oncall.factories import RotationFactory, RotationMemberFactory, engineer

    rotation = RotationFactory(team=TeamFactory(name="Platform"), starts_on=date(2026, 3, 2))
    for position, name in enumerate(["ada", "bob"]):
        RotationMemberFactory(rotation=rotation, user=engineer(name), position=position)
    oncall_services.rotation_generate_shifts(
        rotation=rotation, weeks=1, now=datetime(2026, 3, 2, 10, tzinfo=UTC)
    )
    at = datetime(2026, 3, 3, 12, tzinfo=UTC)
    services.incident_declare(
        title="DB down",
        severity="SEV-1",
        declared_by=None,
        services=[ServiceFactory(team=rotation.team)],
        at=at,
    )
    errors = race(
        lambda: oncall_reminders.sweep_unacknowledged_pages(now=at + timedelta(minutes=6)),
        threads=4,
    )
    assert errors == []
    assert list(Page.objects.order_by("paged_at").values_list("engineer__username", flat=True)) == [
        "ada",
        "bob",
    ]
    assert Notification.objects.filter(kind="page_escalation").count() == 1
