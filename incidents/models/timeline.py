from django.conf import settings
from django.db import models

from incidents.models.incident import Incident

TIMELINE_IS_APPEND_ONLY = (
    "The timeline is append-only: correct a mistake with a new event instead of editing history."
)


class TimelineEventKind(models.TextChoices):
    DECLARED = "declared", "Declared"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    STATUS_CHANGED = "status_changed", "Status changed"
    SEVERITY_CHANGED = "severity_changed", "Severity changed"
    ROLE_ASSIGNED = "role_assigned", "Role assigned"
    ROLE_HANDED_OVER = "role_handed_over", "Role handed over"
    ROLE_RELIEVED = "role_relieved", "Role relieved"
    STATUS_UPDATE = "status_update", "Status update"
    NOTE = "note", "Note"
    DETAILS_CHANGED = "details_changed", "Details changed"
    ESCALATION = "escalation", "Escalation"
    PAGE = "page", "Page"
    REMINDER = "reminder", "Reminder"
    POSTMORTEM = "postmortem", "Post-mortem"
    RUNBOOK = "runbook", "Runbook"
    IMPORTED = "imported", "Imported"


class TimelineEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError(TIMELINE_IS_APPEND_ONLY)

    def delete(self):
        raise TypeError(TIMELINE_IS_APPEND_ONLY)

    # bulk_update goes through update() internally, so it is refused too.


class TimelineEvent(models.Model):
    """One thing that happened to an incident. Insert-only: there is no update or delete path."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="timeline")
    kind = models.CharField(max_length=30, choices=TimelineEventKind.choices)
    occurred_at = models.DateTimeField(help_text="When it happened.")
    recorded_at = models.DateTimeField(auto_now_add=True, help_text="When it was written down.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for events written by the system (reminders, escalations, imports).",
    )
    message = models.TextField()  # notes and updates are kept whole, however long
    payload = models.JSONField(default=dict, blank=True)
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
        help_text="The earlier event this one corrects.",
    )

    dedup_key = models.CharField(
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="Set on events that must be written once (reminders, escalations).",
    )

    objects = TimelineEventQuerySet.as_manager()

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["incident", "occurred_at", "id"], name="timeline_incident_time"),
            models.Index(fields=["kind", "occurred_at"], name="timeline_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.get_kind_display()}: {self.message}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError(TIMELINE_IS_APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(TIMELINE_IS_APPEND_ONLY)
