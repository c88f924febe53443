import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from incidents import notifications
from incidents.models import Notification, NotificationStatus
from incidents.notifications import Message, notify
from incidents.tasks import dispatch_notifications
from tests.incidents.factories import BASE_TIME, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = BASE_TIME


def message(key="k1", recipient=None, **extra):
    return Message(
        key=key,
        kind="test",
        subject="Database on fire",
        body="Line one.\nLine <two>.",
        recipient=recipient,
        link="/incidents/1/",
        **extra,
    )


def test_notify_records_each_key_once_and_sends_after_commit(django_capture_on_commit_callbacks):
    ada = UserFactory(username="ada", email="ada@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        assert notify([message(recipient=ada), message(recipient=ada)], now=T0) == {"k1"}
    with django_capture_on_commit_callbacks(execute=True):
        assert notify([message(recipient=ada)], now=T0) == set()
    assert Notification.objects.count() == 1
    [email] = mail.outbox
    assert email.to == ["ada@example.com"]
    assert email.subject == "[IncidentDesk] Database on fire"
    assert "Line <two>." in email.body
    assert f"{settings.SITE_URL}/incidents/1/" in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "Line &lt;two&gt;." in html
    sent = Notification.objects.get()
    assert sent.status == NotificationStatus.SENT
    assert sent.attempts == 1
    assert sent.sent_at is not None


def test_a_repeated_sweep_reads_its_keys_and_writes_nothing(django_assert_num_queries):
    """Keys already recorded are left out before the insert: a sweep that finds everything
    sent already costs one query, and a new message among old ones is still recorded."""
    ada = UserFactory(username="ada", email="ada@example.com")
    old = [message(key=f"k{i}", recipient=ada) for i in range(20)]
    assert len(notify(old, now=T0)) == 20
    with django_assert_num_queries(1):
        assert notify(old, now=T0) == set()
    assert notify([*old, message(key="k-new", recipient=ada)], now=T0) == {"k-new"}
    assert Notification.objects.count() == 21


def test_nothing_is_sent_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    ada = UserFactory(email="ada@example.com")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify([message(recipient=ada)], now=T0)
    assert len(callbacks) == 1  # the send waits for the commit
    assert mail.outbox == []


def test_a_person_without_email_fails_at_once_with_the_reason():
    notify([message(recipient=UserFactory(username="noemail", email=""))], now=T0)
    notification = Notification.objects.get()
    assert notifications.notification_send(notification_id=notification.pk, now=T0) == "failed"
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED
    assert "noemail has no email address" in notification.last_error


def test_smtp_failure_is_retried_with_backoff_then_given_up(settings):
    settings.EMAIL_BACKEND = "tests.email_backends.RefusingBackend"
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    notify([message(recipient=UserFactory(email="a@example.com"))], now=T0)
    pk = Notification.objects.get().pk
    assert notifications.notification_send(notification_id=pk, now=T0) == "retry"
    first = Notification.objects.get()
    assert first.status == NotificationStatus.PENDING
    assert first.next_attempt_at == T0 + timedelta(seconds=30)
    assert "SMTPServerDisconnected" in first.last_error
    assert notifications.notification_send(notification_id=pk, now=T0) == "not due"
    assert notifications.notifications_due(now=T0 + timedelta(seconds=29)) == []
    assert notifications.notifications_due(now=T0 + timedelta(seconds=30)) == [pk]
    later = T0 + timedelta(seconds=30)
    assert notifications.notification_send(notification_id=pk, now=later) == "retry"
    assert Notification.objects.get().next_attempt_at == later + timedelta(seconds=60)
    assert notifications.notification_send(notification_id=pk, now=T0 + timedelta(hours=1)) == (
        "failed"
    )
    assert Notification.objects.get().status == NotificationStatus.FAILED


def test_dispatch_sends_what_a_dead_worker_left_behind(settings):
    settings.NOTIFICATION_CLAIM_TIMEOUT = 300
    ada = UserFactory(email="ada@example.com")
    notify([message("never-sent", recipient=ada)], now=T0)  # recorded; its worker died
    notify([message("half-sent", recipient=ada)], now=T0)
    Notification.objects.filter(key="half-sent").update(
        status=NotificationStatus.SENDING, claimed_at=T0, attempts=1
    )
    assert dispatch_notifications((T0 + timedelta(seconds=299)).isoformat()) == 1
    assert [e.extra_headers["X-IncidentDesk-Key"] for e in mail.outbox] == ["never-sent"]
    assert dispatch_notifications((T0 + timedelta(seconds=300)).isoformat()) == 1
    assert [e.extra_headers["X-IncidentDesk-Key"] for e in mail.outbox] == [
        "never-sent",
        "half-sent",
    ]
    assert dispatch_notifications((T0 + timedelta(hours=1)).isoformat()) == 0
    assert len(mail.outbox) == 2


def test_sending_twice_sends_once():
    notify([message(recipient=UserFactory(email="a@example.com"))], now=T0)
    pk = Notification.objects.get().pk
    assert notifications.notification_send(notification_id=pk, now=T0) == "sent"
    assert notifications.notification_send(notification_id=pk, now=T0) == "sent"
    assert len(mail.outbox) == 1


class _Hook(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        return None


@pytest.fixture
def webhook_server():
    _Hook.received = []
    _Hook.status = 200
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Hook
    server.shutdown()


def test_team_webhook_posts_json(webhook_server):
    url, hook = webhook_server
    team = TeamFactory(chat_webhook_url=url)
    base = message(recipient=UserFactory(email="a@example.com"), payload={"incident": "INC-1"})
    notify([notifications.team_webhook_message(base, team)], now=T0)
    pk = Notification.objects.get(channel="webhook").pk
    assert notifications.notification_send(notification_id=pk, now=T0) == "sent"
    [body] = hook.received
    assert body["subject"] == "Database on fire"
    assert body["incident"] == "INC-1"
    assert body["kind"] == "test"


def test_a_team_webhook_message_goes_to_the_address_the_team_has_when_it_is_sent(
    webhook_server,
):
    url, hook = webhook_server
    team = TeamFactory(chat_webhook_url="http://127.0.0.1:9/old-hook")
    base = message(recipient=UserFactory(email="a@example.com"), payload={"incident": "INC-1"})
    notify([notifications.team_webhook_message(base, team)], now=T0)
    pk = Notification.objects.get(channel="webhook").pk
    assert notifications.notification_send(notification_id=pk, now=T0) == "retry"
    # A manager fixes the address: the retry goes there, and nothing internal is added.
    team.chat_webhook_url = url
    team.save()
    later = T0 + timedelta(hours=1)
    assert notifications.notification_send(notification_id=pk, now=later) == "sent"
    [body] = hook.received
    assert body["incident"] == "INC-1"
    assert "webhook_team" not in body
    # A webhook removed (it pointed at the wrong channel) takes nothing more.
    notify([notifications.team_webhook_message(message(key="second"), team)], now=later)
    second = Notification.objects.get(key__startswith="second", channel="webhook")
    team.chat_webhook_url = ""
    team.save()
    assert notifications.notification_send(notification_id=second.pk, now=later) == "failed"
    second.refresh_from_db()
    assert "has no chat webhook any more" in second.last_error
    assert len(hook.received) == 1


def test_a_refusing_webhook_is_retried(webhook_server):
    url, hook = webhook_server
    hook.status = 500
    notify([Message(key="w", kind="test", subject="s", body="b", webhook_url=url)], now=T0)
    pk = Notification.objects.get().pk
    assert notifications.notification_send(notification_id=pk, now=T0) == "retry"
    assert "500" in Notification.objects.get().last_error


def test_admin_lists_notifications_and_resends(manager_client, django_capture_on_commit_callbacks):
    notify([message(recipient=UserFactory(username="noemail", email=""))], now=T0)
    notification = Notification.objects.get()
    notifications.notification_send(notification_id=notification.pk, now=T0)
    changelist = reverse("admin:incidents_notification_changelist")
    page = manager_client.get(changelist, {"status__exact": "failed"}).content.decode()
    assert "Database on fire" in page
    assert "Failed" in page
    detail = manager_client.get(
        reverse("admin:incidents_notification_change", args=[notification.pk])
    ).content.decode()
    assert "has no email address" in detail
    user = notification.recipient
    user.email = "fixed@example.com"
    user.save()
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(changelist, {"action": "resend", "_selected_action": [notification.pk]})
    assert Notification.objects.get().status == NotificationStatus.SENT
    assert mail.outbox[0].to == ["fixed@example.com"]
