from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from incidents.models.people import Service, Team
from incidents.models.severity import Severity


def shown_moment(moment) -> str:
    """A moment named in text (admin headings, messages): the active zone (the reader's),
    to the minute, the zone named, so an hour that repeats at a DST change reads apart."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


class IncidentStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MITIGATED = "mitigated", "Mitigated"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MITIGATED,
    IncidentStatus.MONITORING,
)


class DetectionMethod(models.TextChoices):
    ALERT = "alert", "Alert"
    CUSTOMER_REPORT = "customer_report", "Customer report"
    MONITORING = "monitoring", "Monitoring"
    INTERNAL = "internal", "Internal discovery"


class RootCauseCategory(models.TextChoices):
    DEPLOYMENT = "deployment", "Bad deployment"
    CONFIGURATION = "configuration", "Configuration change"
    CAPACITY = "capacity", "Capacity / resource exhaustion"
    DEPENDENCY = "dependency", "Dependency failure"
    CODE_DEFECT = "code_defect", "Code defect"
    INFRASTRUCTURE = "infrastructure", "Infrastructure / hardware"
    DATA = "data", "Data issue"
    SECURITY = "security", "Security"
    HUMAN_PROCESS = "process", "Process gap"
    UNKNOWN = "unknown", "Unknown"


class IncidentRole(models.TextChoices):
    COMMANDER = "commander", "Incident commander"
    TECHNICAL_LEAD = "technical_lead", "Technical lead"
    COMMUNICATIONS_LEAD = "communications_lead", "Communications lead"
    SCRIBE = "scribe", "Scribe"
    ENGINEERING_MANAGER = "engineering_manager", "Engineering manager"
    SECURITY = "security", "Security"


class UpdateAudience(models.TextChoices):
    INTERNAL = "internal", "Internal"
    STATUS_PAGE = "status_page", "Status page (public)"


class IncidentSequence(models.Model):
    """The last reference number handed out in a year; locked row by row when declaring."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class Incident(models.Model):
    reference = models.CharField(max_length=32, unique=True, editable=False)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="incidents")
    status = models.CharField(
        max_length=20, choices=IncidentStatus.choices, default=IncidentStatus.INVESTIGATING
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents",
        help_text="The team responsible; by default the owner of the first affected service.",
    )
    services = models.ManyToManyField(Service, blank=True, related_name="incidents")
    detection_method = models.CharField(
        max_length=20, choices=DetectionMethod.choices, default=DetectionMethod.ALERT
    )
    customer_impact = models.BooleanField(
        default=False, help_text="Customers noticed. Makes a post-mortem required."
    )
    impact_description = models.TextField(blank=True)
    users_affected = models.PositiveIntegerField(null=True, blank=True)
    revenue_impact = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="Estimate."
    )
    revenue_currency = models.CharField(max_length=3, default="USD")
    data_loss = models.BooleanField(default=False)
    data_loss_details = models.TextField(blank=True)
    security_related = models.BooleanField(default=False)
    root_cause = models.TextField(blank=True)
    root_cause_category = models.CharField(
        max_length=20,
        choices=RootCauseCategory.choices,
        blank=True,
        help_text="Used to spot repeat incidents with the same cause.",
    )
    channel_name = models.CharField(max_length=80, blank=True)
    postmortem_required = models.BooleanField(
        default=False,
        help_text="A manager asked for a post-mortem even if the severity does not require one.",
    )

    started_at = models.DateTimeField(help_text="When the problem began (may precede detection).")
    detected_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    mitigated_at = models.DateTimeField(null=True, blank=True)
    mitigation_action = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # When it was last reopened after a resolution: escalation counts from here (the time it
    # spent resolved is not time left unresolved).
    reopened_at = models.DateTimeField(null=True, blank=True, editable=False)

    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="declared_incidents",
    )
    declared_at = models.DateTimeField(default=timezone.now)
    dedup_key = models.CharField(
        max_length=255,
        blank=True,
        help_text="Set by alert intake: alerts with this key add to the open incident instead "
        "of opening another. At most one open incident per key.",
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-started_at"], name="incident_status_started"),
            models.Index(fields=["severity", "-started_at"], name="incident_sev_started"),
            models.Index(fields=["team", "-started_at"], name="incident_team_started"),
            # The incident list's default: open, or resolved lately.
            models.Index(fields=["resolved_at"], name="incident_resolved"),
            models.Index(fields=["-started_at", "-id"], name="incident_started_id"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=IncidentStatus.values), name="incident_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(detected_at__gte=F("started_at")),
                name="incident_detected_after_start",
                violation_error_message="Detection cannot be before the start.",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("started_at")),
                name="incident_resolved_after_start",
                violation_error_message="Resolution cannot be before the start.",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["resolved", "closed"]) | Q(resolved_at__isnull=False),
                name="incident_resolved_has_moment",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(closed_at__isnull=False),
                name="incident_closed_has_moment",
            ),
            models.CheckConstraint(
                condition=Q(revenue_impact__isnull=True) | Q(revenue_impact__gte=0),
                name="incident_revenue_impact_not_negative",
            ),
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=Q(status__in=OPEN_STATUSES) & ~Q(dedup_key=""),
                name="incident_one_open_per_dedup_key",
                violation_error_message="Another open incident has the same dedup key.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    # Durations are derived from the stamped moments, never stored twice.
    @staticmethod
    def _between(start, end) -> timedelta | None:
        if start is None or end is None:
            return None
        return end - start

    @property
    def time_to_detect(self) -> timedelta | None:
        return self._between(self.started_at, self.detected_at)

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self._between(self.detected_at, self.acknowledged_at)

    @property
    def time_to_mitigate(self) -> timedelta | None:
        return self._between(self.started_at, self.mitigated_at)

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self._between(self.started_at, self.resolved_at)

    def duration(self, now=None) -> timedelta:
        """Started until resolved, or until now while it is still open."""
        end = self.resolved_at or now or timezone.now()
        return end - self.started_at


class RoleAssignment(models.Model):
    """Who held a role and when. Handing over relieves the holder; history is kept."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=30, choices=IncidentRole.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incident_roles"
    )
    assigned_at = models.DateTimeField()
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    relieved_at = models.DateTimeField(null=True, blank=True)
    relieved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["incident", "assigned_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "role"],
                condition=Q(relieved_at__isnull=True),
                name="role_one_active_holder",
            ),
            models.CheckConstraint(
                condition=Q(relieved_at__isnull=True) | Q(relieved_at__gte=F("assigned_at")),
                name="role_relieved_after_assigned",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "relieved_at"], name="role_user_active"),
            # On-call burden: the roles taken in a period, read from the index alone.
            models.Index(
                fields=["assigned_at"], include=["user", "incident"], name="role_assigned_covering"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.user}"

    @property
    def is_active(self) -> bool:
        return self.relieved_at is None


class StatusUpdate(models.Model):
    """A status update in the runbook's Status / Impact / Action / ETA form."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    audience = models.CharField(
        max_length=20, choices=UpdateAudience.choices, default=UpdateAudience.INTERNAL
    )
    status = models.CharField(max_length=200, help_text="E.g. Investigating / Mitigating.")
    impact = models.TextField(help_text="What is broken, for whom.")
    action = models.TextField(help_text="What we are doing.")
    eta = models.CharField(max_length=200, help_text="Expected resolution, or 'unknown'.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    posted_at = models.DateTimeField()

    class Meta:
        ordering = ["-posted_at", "-id"]
        indexes = [
            models.Index(fields=["incident", "-posted_at"], name="update_incident_posted"),
            models.Index(fields=["audience", "-posted_at"], name="update_audience_posted"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(audience__in=UpdateAudience.values), name="update_audience_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident.reference} update at {shown_moment(self.posted_at)}"

    def as_text(self) -> str:
        return (
            f"Status: {self.status}\nImpact: {self.impact}\nAction: {self.action}\nETA: {self.eta}"
        )
