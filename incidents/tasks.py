"""Celery tasks for incidents: thin wrappers that take ids and moments and call services.

Every periodic task accepts ``now`` (an ISO 8601 string) so tests and replays can run it at a
chosen moment; each is idempotent, so beat firing twice or two workers running it at once
records and sends each reminder once.
"""

from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from incidents import notifications, reminders, runbooks, services


def moment(now: str | datetime | None) -> datetime:
    """The moment a task runs at: now, or ``now`` given as an aware datetime or as ISO 8601
    (what a task's arguments carry through the broker)."""
    if not now:
        return timezone.now()
    value = now if isinstance(now, datetime) else datetime.fromisoformat(now)
    if timezone.is_naive(value):
        raise ValueError(f"'now' needs a UTC offset: {now!r}")
    return value


@shared_task(name="incidents.send_notification", acks_late=True, ignore_result=True)
def send_notification(notification_id: int, now: str | None = None) -> str:
    """Send one recorded notification if it is still due (see ``notification_send``)."""
    return notifications.notification_send(notification_id=notification_id, now=moment(now))


@shared_task(name="incidents.dispatch_notifications", acks_late=True, ignore_result=True)
def dispatch_notifications(now: str | None = None) -> int:
    """Queue every notification still pending (worker died, retry due, stale claim)."""
    ids = notifications.notifications_due(now=moment(now))
    for pk in ids:
        send_notification.delay(pk)
    return len(ids)


@shared_task(name="incidents.sweep_status_updates", acks_late=True, ignore_result=True)
def sweep_status_updates(now: str | None = None) -> int:
    return reminders.sweep_status_updates(now=moment(now))


@shared_task(name="incidents.sweep_escalations", acks_late=True, ignore_result=True)
def sweep_escalations(now: str | None = None) -> int:
    return reminders.sweep_escalations(now=moment(now))


@shared_task(name="incidents.remind_stale_runbooks", acks_late=True, ignore_result=True)
def remind_stale_runbooks(now: str | None = None) -> int:
    return runbooks.remind_stale_runbooks(now=moment(now))


@shared_task(name="incidents.purge_idempotency_keys", acks_late=True, ignore_result=True)
def purge_idempotency_keys(now: str | None = None) -> int:
    """Forget API idempotency keys older than ``API_IDEMPOTENCY_KEY_TTL`` seconds."""
    return services.idempotency_keys_purge(
        older_than=timedelta(seconds=settings.API_IDEMPOTENCY_KEY_TTL), now=moment(now)
    )


@shared_task(name="incidents.send_password_reset", ignore_result=True)
def send_password_reset(
    subject: str, body: str, from_email: str | None, to: str, html: str | None = None
) -> None:
    """Send a password-reset e-mail rendered by the sign-in page. Out of the request, so the
    page answers as fast for an address with an account as for one without."""
    message = EmailMultiAlternatives(subject, body, from_email, [to])
    if html:
        message.attach_alternative(html, "text/html")
    message.send()
