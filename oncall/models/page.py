from django.conf import settings
from django.db import models
from django.db.models import F, Q

from incidents.models import Incident, Team
from incidents.models.incident import shown_moment


class PageSource(models.TextChoices):
    INCIDENT = "incident", "Incident declared"
    ALERT = "alert", "Alert"
    API = "api", "Paging tool (API)"
    ESCALATION = "escalation", "Escalation of an unacknowledged page"
    MANUAL = "manual", "Manual"
    IMPORTED = "imported", "Imported history"


class Page(models.Model):
    """One page to one engineer: when it was sent, when (if ever) it was acknowledged."""

    engineer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="pages"
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, null=True, blank=True, related_name="pages"
    )
    paged_at = models.DateTimeField()
    ack_due_at = models.DateTimeField(
        help_text="Paged moment plus the acknowledgement target (runbook: 5 minutes)."
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=12, choices=PageSource.choices, default=PageSource.MANUAL)
    message = models.CharField(max_length=300, blank=True)
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="pages",
        help_text="Whose on-call was paged; escalations go to its secondary, then its manager.",
    )
    escalation_level = models.PositiveSmallIntegerField(
        default=0, help_text="0: first page; 1: the secondary; 2: the team's manager."
    )
    escalated_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="escalations",
        help_text="The unacknowledged page this one escalates.",
    )

    class Meta:
        ordering = ["-paged_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | Q(acknowledged_at__gte=F("paged_at")),
                name="page_ack_after_paged",
                violation_error_message="A page cannot be acknowledged before it was sent.",
            ),
            models.CheckConstraint(
                condition=Q(ack_due_at__gte=F("paged_at")), name="page_due_after_paged"
            ),
        ]
        indexes = [
            models.Index(fields=["engineer", "paged_at"], name="page_engineer_paged"),
            models.Index(fields=["paged_at"], name="page_paged"),
            models.Index(
                fields=["ack_due_at"],
                condition=Q(acknowledged_at__isnull=True),
                name="page_unacknowledged_due",
            ),
            models.Index(fields=["incident", "engineer"], name="page_incident_engineer"),
            # Each engineer's first acknowledged page per most-severe incident (the SEV-1
            # bonus), read from the index alone, incident by incident.
            models.Index(
                fields=["incident", "engineer", "paged_at"],
                condition=Q(acknowledged_at__isnull=False),
                name="page_acknowledged_incident",
            ),
        ]

    def __str__(self) -> str:
        return f"Page to {self.engineer} at {shown_moment(self.paged_at)}"

    @property
    def time_to_acknowledge(self):
        if self.acknowledged_at is None:
            return None
        return self.acknowledged_at - self.paged_at

    @property
    def acknowledged_in_time(self) -> bool | None:
        if self.acknowledged_at is None:
            return None
        return self.acknowledged_at <= self.ack_due_at
