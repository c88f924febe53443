"""The one place IncidentDesk sends email and webhooks from.

Recording and sending are two steps:

1. ``notify(messages)`` records each message as a ``Notification`` under its unique key, in the
   caller's transaction, and returns the keys this call recorded. A key that already exists
   (the same reminder decided twice, by a sweep run twice or by two workers at once) is
   skipped, so callers act only on what they recorded. After commit the new rows are queued
   for sending.
2. ``notification_send(id)`` claims a pending row, sends it, and marks it sent, or schedules a
   retry with exponential backoff. ``notifications_dispatch()`` (a periodic task) sends what is
   still pending: rows whose worker died before sending, retries that are due, and claims so
   old their worker must be gone. A crash therefore costs at most one sweep interval and never
   loses a message; a worker killed after the remote end accepted a message but before the row
   was marked sent is the one case that can repeat it (no mail server offers exactly-once).

A reminder can stop applying between its recording and its send (a retry comes up to an hour
later): each app registers, per kind, a check of whether what it reminds of is still so
(``register_still_applies``). A row that no longer applies is marked ``obsolete`` with the
reason instead of being sent.
"""

import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.models import Incident, Notification, NotificationChannel, NotificationStatus

logger = logging.getLogger(__name__)

DISPATCH_BATCH = 500

# kind -> check(notification) returning None while the message still applies, else why not.
_STILL_APPLIES: dict[str, Callable[[Notification], str | None]] = {}


def register_still_applies(kind: str, check: Callable[[Notification], str | None]) -> None:
    """Have ``check`` asked before each send of a ``kind`` notification (apps call this in
    their ``ready()``; ``incidents`` knows nothing of the others' rules)."""
    _STILL_APPLIES[kind] = check


def _no_longer_applies(notification: Notification) -> str | None:
    recipient = notification.recipient
    if recipient is not None and not recipient.is_active:
        # Switched off since it was recorded (or recorded for them by a path that did not
        # check): they left, and mail to them helps nobody.
        return "the recipient's account is switched off"
    check = _STILL_APPLIES.get(notification.kind)
    return check(notification) if check is not None else None


NO_EMAIL_ADDRESS = "{user} has no email address."


@dataclass(frozen=True)
class Message:
    """A message to record: for a person (email) or a team webhook."""

    key: str
    kind: str
    subject: str
    body: str
    recipient: object | None = None
    webhook_url: str = ""
    incident: Incident | None = None
    link: str = ""
    payload: dict = field(default_factory=dict)


class PermanentFailure(Exception):
    """Retrying cannot help (no address): the notification is marked failed at once."""


def absolute(path: str) -> str:
    if not path or path.startswith(("http://", "https://")):
        return path
    return settings.SITE_URL.rstrip("/") + "/" + path.lstrip("/")


def notify(messages: Iterable[Message], *, now: datetime | None = None) -> set[str]:
    """Record the messages whose keys are new and queue them for sending after commit.

    Returns the keys this call recorded. At most three queries whatever the number of
    messages: one to leave out the keys already recorded (a sweep that runs every few minutes
    finds most of its messages sent already), one to insert the rest, skipping any recorded
    meanwhile, one to read back which rows are ours. Safe under concurrency: on PostgreSQL a
    second transaction inserting the same key waits for the first and then skips it.
    """
    now = now or timezone.now()
    unique: dict[str, Message] = {}
    for message in messages:
        unique.setdefault(message.key[:255], message)
    if unique:
        recorded_before = Notification.objects.filter(key__in=list(unique)).values_list(
            "key", flat=True
        )
        for key in recorded_before:
            del unique[key]
    if not unique:
        return set()
    batch = uuid.uuid4()
    rows = [
        Notification(
            key=m.key[:255],
            kind=m.kind,
            channel=NotificationChannel.WEBHOOK if m.webhook_url else NotificationChannel.EMAIL,
            recipient=None if m.webhook_url else m.recipient,
            webhook_url=m.webhook_url,
            incident=m.incident,
            subject=m.subject[:255],
            body=m.body,
            link=absolute(m.link),
            payload=m.payload,
            created_at=now,
            next_attempt_at=now,
            batch=batch,
        )
        for m in unique.values()
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    recorded = list(Notification.objects.filter(batch=batch).values_list("pk", "key"))
    ids = [pk for pk, _ in recorded]
    if ids:
        transaction.on_commit(lambda: _queue(ids), robust=True)
    return {key for _, key in recorded}


def _queue(ids: list[int]) -> None:
    from incidents.tasks import send_notification

    for pk in ids:
        send_notification.delay(pk)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def notification_send(*, notification_id: int, now: datetime | None = None) -> str:
    """Send one notification if it is due; returns what happened.

    Claims the row under a lock (``sending``, with the moment), sends outside the transaction,
    then marks it ``sent``, or ``pending`` with a retry time, or ``failed`` after the last
    attempt. A row someone else is sending (claimed recently) or that is already sent is left
    alone, so running this twice sends once.
    """
    now = now or timezone.now()
    claim_timeout = timedelta(seconds=settings.NOTIFICATION_CLAIM_TIMEOUT)
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("recipient")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None:
            return "missing or locked"
        if notification.status in (
            NotificationStatus.SENT,
            NotificationStatus.FAILED,
            NotificationStatus.OBSOLETE,
        ):
            return notification.status
        if notification.status == NotificationStatus.SENDING and (
            notification.claimed_at and notification.claimed_at > now - claim_timeout
        ):
            return "being sent"
        if notification.status == NotificationStatus.PENDING and notification.next_attempt_at > now:
            return "not due"
        reason = _no_longer_applies(notification)
        if reason is not None:
            notification.status = NotificationStatus.OBSOLETE
            notification.last_error = f"Not sent: {reason}"
            notification.claimed_at = None
            notification.save(update_fields=["status", "last_error", "claimed_at"])
            return NotificationStatus.OBSOLETE
        notification.status = NotificationStatus.SENDING
        notification.claimed_at = now
        notification.attempts += 1
        notification.save(update_fields=["status", "claimed_at", "attempts"])

    try:
        _deliver(notification)
    except Exception as error:
        permanent = isinstance(error, PermanentFailure)
        gave_up = permanent or notification.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS
        Notification.objects.filter(pk=notification.pk).update(
            status=NotificationStatus.FAILED if gave_up else NotificationStatus.PENDING,
            last_error=f"{error.__class__.__name__}: {error}"[:2000],
            next_attempt_at=now + _backoff(notification.attempts),
            claimed_at=None,
        )
        logger.warning("notification %s failed: %s", notification.key, error)
        return "failed" if gave_up else "retry"
    Notification.objects.filter(pk=notification.pk).update(
        status=NotificationStatus.SENT,
        sent_at=timezone.now(),
        last_error="",
        claimed_at=None,
    )
    return "sent"


def _deliver(notification: Notification) -> None:
    if notification.channel == NotificationChannel.WEBHOOK:
        _post_webhook(notification)
    else:
        _send_email(notification)


def _send_email(notification: Notification) -> None:
    user = notification.recipient
    if user is None or not user.email:
        raise PermanentFailure(NO_EMAIL_ADDRESS.format(user=user))
    context = {"notification": notification, "user": user}
    text = render_to_string("incidents/email/notification.txt", context)
    html = render_to_string("incidents/email/notification.html", context)
    email = EmailMultiAlternatives(
        # One line: a title or page message may hold line breaks (a multi-line alert summary),
        # and a header cannot; Django would refuse the mail and the page would never go out.
        subject=f"[IncidentDesk] {' '.join(notification.subject.split())}",
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={"X-IncidentDesk-Key": notification.key},
    )
    email.attach_alternative(html, "text/html")
    email.send(fail_silently=False)


WEBHOOK_TEAM = "webhook_team"  # payload key: the team whose chat webhook a message is for
NO_WEBHOOK_ANY_MORE = "{team} has no chat webhook any more."


def _current_webhook_url(notification: Notification) -> str:
    """The team's chat webhook as it is now: a manager who fixed the address, or removed one
    that pointed at the wrong channel, is heeded by messages already recorded, their retries
    and resends too."""
    team_id = notification.payload.get(WEBHOOK_TEAM)
    if team_id is None:  # recorded before messages named their team
        return notification.webhook_url
    from incidents.models import Team

    team = Team.objects.filter(pk=team_id).only("name", "chat_webhook_url").first()
    if team is None or not team.chat_webhook_url:
        raise PermanentFailure(NO_WEBHOOK_ANY_MORE.format(team=team or "The team"))
    return team.chat_webhook_url


def _post_webhook(notification: Notification) -> None:
    url = _current_webhook_url(notification)
    payload = {k: v for k, v in notification.payload.items() if k != WEBHOOK_TEAM}
    body = {
        "kind": notification.kind,
        "subject": notification.subject,
        "text": notification.body,
        "link": notification.link,
        "key": notification.key,
        **payload,
    }
    request = urllib.request.Request(  # noqa: S310 - the URL is a team's configured webhook
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "IncidentDesk"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=settings.WEBHOOK_TIMEOUT) as response:  # noqa: S310
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(url, response.status, "webhook refused", None, None)


def notifications_due(*, now: datetime | None = None) -> list[int]:
    """Ids of notifications to (re)send now: pending and due, or claimed by a worker so long
    ago it must be gone. One query."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.NOTIFICATION_CLAIM_TIMEOUT)
    return list(
        Notification.objects.filter(
            Q(status=NotificationStatus.PENDING, next_attempt_at__lte=now)
            | Q(status=NotificationStatus.SENDING, claimed_at__lte=stale)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:DISPATCH_BATCH]
    )


@transaction.atomic
def notification_resend(*, notification: Notification, now: datetime | None = None) -> bool:
    """A manager asks for a notification to go out again. A failed one (after fixing an
    address, say) is queued again as it is. A sent one (the recipient lost the mail) is sent
    once more as a new notification under its own key (``<key>:resend:<n>``), so the first
    keeps its record and each resend is recorded and sent once. One being sent or still to be
    sent is left alone: it is on its way, and would reach its recipient twice. Returns
    whether anything was queued."""
    now = now or timezone.now()
    if notification.status == NotificationStatus.SENT:
        return _send_again(notification, now=now)
    queued = Notification.objects.filter(
        pk=notification.pk, status=NotificationStatus.FAILED
    ).update(
        status=NotificationStatus.PENDING,
        next_attempt_at=now,
        claimed_at=None,
        attempts=0,
        last_error="",
    )
    if queued:
        transaction.on_commit(lambda: _queue([notification.pk]), robust=True)
    return bool(queued)


def _send_again(notification: Notification, *, now: datetime) -> bool:
    base = notification.key[:200]
    earlier = Notification.objects.filter(key__startswith=f"{base}:resend:").count()
    message = Message(
        key=f"{base}:resend:{earlier + 1}",
        kind=notification.kind,
        subject=notification.subject,
        body=notification.body,
        recipient=notification.recipient,
        webhook_url=notification.webhook_url,
        incident=notification.incident,
        link=notification.link,
        payload={**notification.payload, "resend_of": notification.pk},
    )
    # Recorded at the first one's moment: the checks that a reminder still applies ask what
    # happened since it was decided (an update posted since makes it obsolete), not since the
    # manager's click. It is due at once all the same.
    recorded = notify([message], now=notification.created_at)
    if recorded:
        Notification.objects.filter(key__in=recorded).update(next_attempt_at=now)
    return bool(recorded)


def team_webhook_message(message: Message, team) -> Message | None:
    """The same message for the team's chat webhook, if the team has one."""
    if team is None or not team.chat_webhook_url:
        return None
    return Message(
        key=f"{message.key}:webhook:{team.pk}",
        kind=message.kind,
        subject=message.subject,
        body=message.body,
        webhook_url=team.chat_webhook_url,
        incident=message.incident,
        link=message.link,
        payload={**message.payload, WEBHOOK_TEAM: team.pk},
    )
