"""A real Celery worker with embedded beat, on the Redis and PostgreSQL that `make test` starts.

Email goes to an SMTP server running inside this test process (aiosmtpd on a loopback port):
mail sent by another process never reaches Django's locmem outbox.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from incidents import services
from incidents.models import IncidentRole, Notification, NotificationStatus
from tests.incidents.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
BROKER = os.environ.get("CELERY_BROKER_URL", "")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not BROKER.startswith("redis"),
        reason="needs the PostgreSQL and Redis that `make test` starts",
    ),
]


class Sink:
    """An SMTP server that keeps what it accepts; it can hold the next message hostage."""

    def __init__(self):
        self.messages: list[str] = []
        self.connections = 0
        self.hold = False
        self.held = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        if self.hold:
            self.held += 1
            while self.hold:
                await asyncio.sleep(0.05)
            return "451 dropped: the sender went away while we held the message"
        self.messages.append(envelope.content.decode("utf8", errors="replace"))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, controller.port
    controller.stop()


def _database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class Worker:
    def __init__(self, smtp_port: int, queue: str, tmp_path: Path, name: str, **env):
        self.log = tmp_path / f"{name}.log"
        environment = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "EMAIL_TIMEOUT": "60",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "CONN_MAX_AGE": "0",
            **env,
        }
        command = [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "config",
            "worker",
            "-B",
            "-Q",
            queue,
            "--concurrency=1",
            "--loglevel=INFO",
            "-n",
            f"{name}-{queue}@%h",
            "--schedule",
            str(tmp_path / f"{name}-beat"),
        ]
        self.process = subprocess.Popen(  # noqa: S603
            command,
            cwd=ROOT,
            env=environment,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the worker, its pool and its beat, as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_for(condition, *, timeout: float, what: str, worker: Worker | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    log = worker.output()[-4000:] if worker else ""
    pytest.fail(f"timed out waiting for {what}\n{log}")


def every(seconds: int, *tasks: str) -> None:
    """Run only these periodic tasks, every ``seconds``."""
    interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
    PeriodicTask.objects.exclude(task__in=tasks).update(enabled=False)
    PeriodicTask.objects.filter(task__in=tasks).update(interval=interval, enabled=True)


@pytest.fixture
def queue():
    return f"test-{uuid.uuid4().hex[:8]}"


def test_beat_fires_the_status_update_reminder_and_the_worker_emails_it(smtp, queue, tmp_path):
    sink, port = smtp
    comms = UserFactory(username="comms", email="comms@example.com")
    declared = timezone.now() - timedelta(minutes=20)
    incident = services.incident_declare(
        title="Checkout down", severity="SEV-1", declared_by=None, at=declared
    )
    services.role_assign(
        incident=incident, role=IncidentRole.COMMUNICATIONS_LEAD, user=comms, by=None, at=declared
    )
    every(2, "incidents.sweep_status_updates", "incidents.dispatch_notifications")
    worker = Worker(port, queue, tmp_path, "reminders")
    try:
        wait_for(
            lambda: Notification.objects.filter(
                kind="status_update_overdue", status=NotificationStatus.SENT
            ).exists(),
            timeout=60,
            what="the reminder to be sent",
            worker=worker,
        )
        wait_for(lambda: sink.messages, timeout=10, what="the email", worker=worker)
    finally:
        worker.stop()
    [message] = sink.messages
    assert "To: comms@example.com" in message
    assert "status update overdue" in message
    assert incident.reference in message
    assert Notification.objects.filter(kind="status_update_overdue").count() == 1
    assert incident.timeline.filter(kind="reminder").count() == 1


def test_a_send_lost_with_its_worker_is_completed_by_the_next_worker_once(smtp, queue, tmp_path):
    sink, port = smtp
    user = UserFactory(username="ada", email="ada@example.com")
    now = timezone.now()
    # What a sweep records; the worker that recorded it is gone before it could queue the send.
    notification = Notification.objects.create(
        key="integration:lost-send",
        kind="test",
        recipient=user,
        subject="Lost and found",
        body="This message must arrive exactly once.",
        created_at=now,
        next_attempt_at=now,
    )
    every(1, "incidents.dispatch_notifications")
    sink.hold = True
    first = Worker(port, queue, tmp_path, "first", NOTIFICATION_CLAIM_TIMEOUT="4")
    try:
        wait_for(
            lambda: sink.held, timeout=60, what="the first worker to start sending", worker=first
        )
        notification.refresh_from_db()
        assert notification.status == NotificationStatus.SENDING
    finally:
        first.kill()  # dies mid-send: the row stays claimed, nothing was delivered
    sink.hold = False
    assert sink.messages == []

    second = Worker(port, queue, tmp_path, "second", NOTIFICATION_CLAIM_TIMEOUT="4")
    try:
        wait_for(
            lambda: Notification.objects.filter(
                pk=notification.pk, status=NotificationStatus.SENT
            ).exists(),
            timeout=60,
            what="the second worker to complete the send",
            worker=second,
        )
        time.sleep(3)  # a few more dispatch rounds: nothing may go out again
    finally:
        second.stop()
    assert len(sink.messages) == 1
    assert "Lost and found" in sink.messages[0]
    notification.refresh_from_db()
    assert notification.attempts == 2
    assert settings.CELERY_BROKER_URL.startswith("redis")
