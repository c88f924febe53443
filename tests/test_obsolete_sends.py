"""A send that comes round after what it reminds of has changed (a retry, up to an hour later)
is not sent: the row is marked obsolete with the reason."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail

from incidents import notifications
from incidents import reminders as incident_reminders
from incidents import services as incident_services
from incidents.models import Notification, NotificationStatus
from postmortems import reminders as postmortem_reminders
from postmortems import services as postmortem_services
from tests.incidents.factories import BASE_TIME, UserFactory
from tests.postmortems.factories import ActionItemFactory

pytestmark = pytest.mark.django_db
CHECK = incident_services.ResolutionChecklist.all_confirmed()
REFUSING = "tests.email_backends.RefusingBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


def _record_refused(settings, capture, sweep):
    """Run ``sweep`` while the mail server refuses everything: its rows wait for a retry."""
    settings.EMAIL_BACKEND = REFUSING
    with capture(execute=True):
        sweep()
    settings.EMAIL_BACKEND = LOCMEM
    return list(Notification.objects.order_by("pk"))


def _retry(rows):
    results = []
    for row in rows:
        row.refresh_from_db()
        results.append(
            notifications.notification_send(notification_id=row.pk, now=row.next_attempt_at)
        )
    return results


class TestStatusUpdateReminder:
    def _refused(self, settings, django_capture_on_commit_callbacks):
        return _record_refused(
            settings,
            django_capture_on_commit_callbacks,
            lambda: incident_reminders.sweep_status_updates(now=BASE_TIME + timedelta(minutes=15)),
        )

    def test_not_sent_once_the_incident_is_resolved(
        self, sev1, settings, django_capture_on_commit_callbacks
    ):
        rows = self._refused(settings, django_capture_on_commit_callbacks)
        incident_services.incident_resolve(
            incident=sev1, by=None, checklist=CHECK, at=BASE_TIME + timedelta(minutes=20)
        )
        assert _retry(rows) == [NotificationStatus.OBSOLETE]
        assert mail.outbox == []
        rows[0].refresh_from_db()
        assert rows[0].last_error == f"Not sent: {sev1.reference} is resolved"

    def test_not_sent_once_an_update_was_posted(
        self, sev1, manager, settings, django_capture_on_commit_callbacks
    ):
        rows = self._refused(settings, django_capture_on_commit_callbacks)
        incident_services.status_update_post(
            incident=sev1,
            author=manager,
            status="Investigating",
            impact="Checkout fails",
            action="Rolling back",
            eta="20 min",
            at=BASE_TIME + timedelta(minutes=16),
        )
        assert _retry(rows) == [NotificationStatus.OBSOLETE]
        assert mail.outbox == []

    def test_still_sent_while_it_applies(self, sev1, settings, django_capture_on_commit_callbacks):
        rows = self._refused(settings, django_capture_on_commit_callbacks)
        assert _retry(rows) == ["sent"]
        assert [m.to for m in mail.outbox] == [["comms@example.com"]]


def test_an_escalation_is_not_sent_once_the_incident_is_resolved(
    sev1, settings, django_capture_on_commit_callbacks
):
    from incidents.models import EscalationLevel

    EscalationLevel.objects.get(name="VP Engineering").users.add(UserFactory(username="vp"))
    rows = _record_refused(
        settings,
        django_capture_on_commit_callbacks,
        lambda: incident_reminders.sweep_escalations(now=BASE_TIME + timedelta(minutes=31)),
    )
    escalations = [row for row in rows if row.kind == "escalation"]
    assert escalations
    incident_services.incident_resolve(
        incident=sev1, by=None, checklist=CHECK, at=BASE_TIME + timedelta(minutes=32)
    )
    assert set(_retry(escalations)) == {NotificationStatus.OBSOLETE}


def test_an_action_item_reminder_is_not_sent_once_it_is_done(
    manager, settings, django_capture_on_commit_callbacks
):
    item = ActionItemFactory(due_date=date(2026, 3, 20))
    rows = _record_refused(
        settings,
        django_capture_on_commit_callbacks,
        lambda: postmortem_reminders.sweep_action_items(now=datetime(2026, 3, 18, tzinfo=UTC)),
    )
    assert [row.kind for row in rows] == ["action_item_due_soon"]
    postmortem_services.action_item_complete(item=item, by=manager)
    assert _retry(rows) == [NotificationStatus.OBSOLETE]
    rows[0].refresh_from_db()
    assert rows[0].last_error == "Not sent: the action item is done"


def test_a_subject_with_line_breaks_is_still_sent(django_capture_on_commit_callbacks):
    """A page's subject carries the incident's title or the paging tool's message, which may
    be a multi-line alert summary; a mail header cannot hold a line break."""
    person = UserFactory(username="bob")
    message = notifications.Message(
        key="notice:1",
        kind="notice",
        subject="PAGE: INC-2026-0001 SEV-1: Checkout 5xx above 5%\r\nsince 09:00",
        body="Acknowledge it now.",
        recipient=person,
    )
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify([message], now=BASE_TIME)
    [sent] = mail.outbox
    assert (
        sent.subject
        == "[IncidentDesk] PAGE: INC-2026-0001 SEV-1: Checkout 5xx above 5% since 09:00"
    )
    assert Notification.objects.get().status == NotificationStatus.SENT
