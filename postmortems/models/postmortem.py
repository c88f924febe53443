from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from incidents.models import Incident, TimelineEvent


class PostmortemStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"


class Stage(models.TextChoices):
    """The three deadlines of the runbook and what meets each (see ``STAGE_MET_FIELD``)."""

    DRAFT = "draft", "Draft"
    REVIEW = "review", "Review meeting"
    PUBLISH = "publish", "Publish"


# The moment that meets each stage's deadline. A stage is reached once that moment is stamped
# and not later than "now"; it is overdue when its due moment has passed and it is not reached.
STAGE_DUE_FIELD = {
    Stage.DRAFT: "draft_due_at",
    Stage.REVIEW: "review_due_at",
    Stage.PUBLISH: "publish_due_at",
}
STAGE_MET_FIELD = {
    Stage.DRAFT: "submitted_at",
    Stage.REVIEW: "review_meeting_at",
    Stage.PUBLISH: "published_at",
}

# The written sections, in the order of the runbook's template. The timeline and the 5 Whys
# are rows of their own (PostmortemTimelineEntry, FiveWhy).
SECTION_FIELDS = (
    "summary",
    "impact",
    "root_cause",
    "what_went_well",
    "what_could_be_improved",
    "lessons_learned",
)


class Postmortem(models.Model):
    """The blameless post-mortem of one incident, from scheduling to publication."""

    incident = models.OneToOneField(Incident, on_delete=models.PROTECT, related_name="postmortem")
    status = models.CharField(
        max_length=20, choices=PostmortemStatus.choices, default=PostmortemStatus.SCHEDULED
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_postmortems",
        verbose_name="owner (author)",
        help_text="Who writes it. Empty until assigned; starting the draft assigns whoever "
        "starts it when nobody was assigned.",
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="postmortems_to_review"
    )

    scheduled_at = models.DateTimeField(help_text="When the post-mortem was scheduled.")
    deadlines_from = models.DateTimeField(
        help_text="The moment the deadlines count from: the incident's resolution (the latest "
        "one while still scheduled), or when a manager required it if that came later."
    )
    draft_due_at = models.DateTimeField()
    review_due_at = models.DateTimeField()
    publish_due_at = models.DateTimeField()

    draft_started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the draft was submitted for review; this meets the draft deadline.",
    )
    review_meeting_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the review meeting was held; this meets the review deadline.",
    )
    published_at = models.DateTimeField(null=True, blank=True)
    resolved_at_publishing = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="The incident's resolution when this was published: the published text keeps "
        "it, whatever happens to the incident later.",
    )

    summary = models.TextField(blank=True, help_text="What happened, in a few sentences.")
    impact = models.TextField(blank=True, help_text="Who was affected, how, and for how long.")
    root_cause = models.TextField(
        blank=True, help_text="The cause in the system or process; the 5 Whys below dig to it."
    )
    what_went_well = models.TextField(blank=True)
    what_could_be_improved = models.TextField(blank=True)
    lessons_learned = models.TextField(blank=True, help_text="Optional.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        indexes = [
            models.Index(fields=["-scheduled_at", "-id"], name="pm_scheduled_id"),
            models.Index(fields=["status", "-scheduled_at"], name="pm_status_scheduled"),
            # The overdue filters and sweeps look only at stages not reached yet.
            models.Index(
                fields=["draft_due_at"],
                condition=Q(submitted_at__isnull=True),
                name="pm_draft_pending_due",
            ),
            models.Index(
                fields=["review_due_at"],
                condition=Q(review_meeting_at__isnull=True),
                name="pm_review_pending_due",
            ),
            models.Index(
                fields=["publish_due_at"],
                condition=Q(published_at__isnull=True),
                name="pm_publish_pending_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PostmortemStatus.values), name="pm_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(draft_due_at__gte=F("deadlines_from"))
                & Q(review_due_at__gte=F("draft_due_at"))
                & Q(publish_due_at__gte=F("review_due_at")),
                name="pm_deadlines_in_order",
            ),
            models.CheckConstraint(
                condition=Q(status=PostmortemStatus.SCHEDULED) | Q(draft_started_at__isnull=False),
                name="pm_drafting_has_start",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[PostmortemStatus.IN_REVIEW, PostmortemStatus.PUBLISHED])
                | Q(submitted_at__isnull=False),
                name="pm_review_has_submission",
            ),
            models.CheckConstraint(
                condition=(Q(status=PostmortemStatus.PUBLISHED) & Q(published_at__isnull=False))
                | (~Q(status=PostmortemStatus.PUBLISHED) & Q(published_at__isnull=True)),
                name="pm_published_has_moment",
            ),
        ]

    def __str__(self) -> str:
        return f"Post-mortem {self.incident.reference}"

    @property
    def is_published(self) -> bool:
        return self.status == PostmortemStatus.PUBLISHED


class TimelinePhase(models.TextChoices):
    """Phases of an incident, from its stamped moments (see ``services.phase_for``)."""

    DETECTED = "detected", "Detected"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    MITIGATED = "mitigated", "Mitigated"
    RESOLVED = "resolved", "Resolved"


class PostmortemTimelineEntry(models.Model):
    """One line of the post-mortem's own timeline: a copy of an incident timeline event taken
    when the post-mortem was scheduled, or a line the author added. Editing it never touches
    the incident's (append-only) timeline."""

    postmortem = models.ForeignKey(
        Postmortem, on_delete=models.CASCADE, related_name="timeline_entries"
    )
    occurred_at = models.DateTimeField(help_text="Stored in UTC; shown in the reader's zone.")
    phase = models.CharField(max_length=20, choices=TimelinePhase.choices)
    text = models.TextField()
    source_event = models.ForeignKey(
        TimelineEvent,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The incident timeline event this line was copied from, if any.",
    )

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = "timeline entry"
        verbose_name_plural = "timeline entries"
        indexes = [
            models.Index(fields=["postmortem", "occurred_at", "id"], name="pm_entry_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(phase__in=TimelinePhase.values), name="pm_entry_phase_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} UTC {self.text[:60]}"


class FiveWhy(models.Model):
    """One question and answer of the 5 Whys, in order (1, 2, 3 ...)."""

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="five_whys")
    position = models.PositiveSmallIntegerField(help_text="1 is the first why.")
    question = models.TextField()
    answer = models.TextField(blank=True)

    class Meta:
        ordering = ["postmortem", "position"]
        verbose_name = "5 Whys entry"
        verbose_name_plural = "5 Whys"
        constraints = [
            models.UniqueConstraint(
                fields=["postmortem", "position"], name="pm_five_why_unique_position"
            ),
            models.CheckConstraint(condition=Q(position__gte=1), name="pm_five_why_position_1"),
        ]

    def __str__(self) -> str:
        return f"Why #{self.position}: {self.question[:60]}"
