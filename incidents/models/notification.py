from django.conf import settings
from django.db import models
from django.db.models import Q

from incidents.models.incident import Incident


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Team webhook"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"
    OBSOLETE = "obsolete", "Not sent: no longer applies"


class Notification(models.Model):
    """One message to one person or one team webhook.

    It is recorded under a unique ``key`` (what, for whom, which interval or deadline) in the
    same transaction as the decision to send it, then sent after commit. The key makes a second
    decision (a sweep run twice, two workers at once) a no-op; the row being pending until sent
    means a worker that dies never loses it: the dispatch sweep sends what is still pending.
    """

    key = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=40)
    channel = models.CharField(
        max_length=10, choices=NotificationChannel.choices, default=NotificationChannel.EMAIL
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    webhook_url = models.URLField(blank=True, max_length=500)
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    subject = models.CharField(max_length=255)
    body = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField(help_text="When a pending send is (re)tried.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    batch = models.UUIDField(
        null=True, blank=True, editable=False, help_text="Which recording call wrote the row."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="notification_due",
            ),
            models.Index(fields=["kind", "-created_at"], name="notification_kind_created"),
            models.Index(fields=["recipient", "-created_at"], name="notification_recipient"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel="email", recipient__isnull=False)
                | Q(channel="webhook") & ~Q(webhook_url=""),
                name="notification_has_destination",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display_text()} → {self.destination}"

    def get_kind_display_text(self) -> str:
        return self.kind.replace("_", " ")

    @property
    def destination(self) -> str:
        if self.channel == NotificationChannel.WEBHOOK:
            return self.webhook_url
        return str(self.recipient) if self.recipient_id else "—"
