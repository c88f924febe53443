from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from incidents.validators import validate_day_not_too_early
from postmortems.models.postmortem import Postmortem


class ActionItemKind(models.TextChoices):
    PREVENT = "prevent", "Prevent"
    DETECT = "detect", "Detect"
    MITIGATE = "mitigate", "Mitigate"
    PROCESS = "process", "Process"


class ActionItemPriority(models.TextChoices):
    """P1 is the most urgent. The stored values sort in order of urgency."""

    P1 = "p1", "P1 (urgent)"
    P2 = "p2", "P2 (high)"
    P3 = "p3", "P3 (medium)"
    P4 = "p4", "P4 (low)"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"


OPEN_ITEM_STATUSES = (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)


class ActionItem(models.Model):
    """Something to change so the incident does not happen again, tracked to completion.

    Owner and due date may be empty while the post-mortem is being written; publishing needs
    both on every item, and an item of a published post-mortem cannot lose them.
    """

    postmortem = models.ForeignKey(
        Postmortem, on_delete=models.CASCADE, related_name="action_items"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="postmortem_action_items",
        help_text="Required to publish the post-mortem.",
    )
    due_date = models.DateField(
        null=True,
        blank=True,
        validators=[validate_day_not_too_early],
        help_text="Required to publish. Overdue from the end of this day in the project's "
        "time zone.",
    )
    kind = models.CharField(
        max_length=20, choices=ActionItemKind.choices, default=ActionItemKind.PREVENT
    )
    priority = models.CharField(
        max_length=2, choices=ActionItemPriority.choices, default=ActionItemPriority.P3
    )
    status = models.CharField(
        max_length=20, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN
    )
    tracker_url = models.URLField(
        blank=True, max_length=500, help_text="The ticket in the external tracker."
    )
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    # When it last became someone's to chase anew (another owner or due date, or reopened):
    # the reminder sweep looks at items due long ago too when this is recent.
    chase_from = models.DateTimeField(null=True, blank=True, editable=False)
    # When the owner was last changed: their manager hears of an overdue item only once the
    # grace period has passed for them too, not an hour after it was given to them.
    owner_since = models.DateTimeField(null=True, blank=True, editable=False)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["due_date", "priority", "id"]
        indexes = [
            models.Index(fields=["due_date", "priority", "id"], name="action_due_order"),
            models.Index(fields=["status", "due_date"], name="action_status_due"),
            models.Index(fields=["owner", "status"], name="action_owner_status"),
            models.Index(
                fields=["due_date"],
                condition=Q(status__in=["open", "in_progress"]),
                name="action_open_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ActionItemStatus.values), name="action_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ActionItemKind.values), name="action_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority__in=ActionItemPriority.values),
                name="action_priority_valid",
            ),
            models.CheckConstraint(
                condition=(Q(status=ActionItemStatus.DONE) & Q(completed_at__isnull=False))
                | (
                    ~Q(status=ActionItemStatus.DONE)
                    & Q(completed_at__isnull=True)
                    & Q(completed_by__isnull=True)
                ),
                name="action_done_has_completion",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ITEM_STATUSES
