from datetime import timedelta

from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

DEFAULT_DRAFT_WITHIN = timedelta(hours=24)
DEFAULT_REVIEW_WITHIN = timedelta(hours=48)
DEFAULT_PUBLISH_WITHIN = timedelta(hours=72)

POLICY_PK = 1


class PostmortemPolicy(models.Model):
    """The post-mortem deadlines, counted from the incident's resolution. One row (pk 1).

    The deadlines are copied onto each post-mortem when it is scheduled, so a change here applies
    to post-mortems scheduled from then on and never moves a deadline already set. That is why
    one row is enough (no effective dates); who changed it and when is kept by its history.
    """

    draft_within = models.DurationField(
        default=DEFAULT_DRAFT_WITHIN,
        help_text="Draft written (submitted for review) within this long after resolution.",
    )
    review_within = models.DurationField(
        default=DEFAULT_REVIEW_WITHIN,
        help_text="Review meeting held within this long after resolution.",
    )
    publish_within = models.DurationField(
        default=DEFAULT_PUBLISH_WITHIN,
        help_text="Published within this long after resolution.",
    )

    remind_before = models.DurationField(
        default=timedelta(hours=4),
        help_text="The owner is reminded this long before each post-mortem deadline.",
    )
    item_due_soon_days = models.PositiveSmallIntegerField(
        default=2, help_text="Action item owners are reminded this many days before the due date."
    )
    item_grace_days = models.PositiveSmallIntegerField(
        default=7,
        help_text="An action item overdue for longer than this is escalated to the owner's "
        "manager.",
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = "post-mortem policy"
        verbose_name_plural = "post-mortem policy"
        constraints = [
            models.CheckConstraint(condition=Q(pk=POLICY_PK), name="pm_policy_single_row"),
            models.CheckConstraint(
                condition=Q(draft_within__gt=timedelta(0)),
                name="pm_policy_draft_positive",
                violation_error_message="The draft deadline must be after the resolution.",
            ),
            models.CheckConstraint(
                condition=Q(review_within__gte=F("draft_within")),
                name="pm_policy_review_after_draft",
                violation_error_message="The review deadline cannot come before the draft's.",
            ),
            models.CheckConstraint(
                condition=Q(publish_within__gte=F("review_within")),
                name="pm_policy_publish_after_review",
                violation_error_message="The publish deadline cannot come before the review's.",
            ),
        ]

    def __str__(self) -> str:
        return "Post-mortem deadlines"
