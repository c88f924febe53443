from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from incidents.models.incident import Incident
from incidents.models.people import Service, Team


class Runbook(models.Model):
    """Step-by-step instructions for a kind of incident. Its steps are edited in place; every
    change is frozen as a new ``RunbookVersion``, and an incident keeps the version it
    followed."""

    title = models.CharField(max_length=200, unique=True)
    summary = models.TextField(blank=True)
    when_to_use = models.TextField(
        blank=True, help_text="The symptoms or alerts that call for this runbook."
    )
    tags = models.CharField(
        max_length=300, blank=True, help_text="Comma-separated, e.g. database, postgres, pool."
    )
    owner_team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="runbooks",
        help_text="Keeps it accurate; reminded monthly when it has not been reviewed in 90 days.",
    )
    services = models.ManyToManyField(
        Service, blank=True, related_name="runbooks", help_text="Suggested on their incidents."
    )
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    last_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["last_reviewed_at"], name="runbook_reviewed")]

    def __str__(self) -> str:
        return self.title

    @property
    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()]


class RunbookStep(models.Model):
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(
        help_text="Steps run in this order.", validators=[MaxValueValidator(9999)]
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text="Markdown (no HTML; links must be http/https).")
    command = models.TextField(blank=True, help_text="A command to copy, shown as is.")

    class Meta:
        ordering = ["runbook", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["runbook", "position"], name="runbook_step_position"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.title}"


class RunbookVersion(models.Model):
    """A frozen copy of a runbook's text and steps, as incidents followed it."""

    runbook = models.ForeignKey(Runbook, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    when_to_use = models.TextField(blank=True)
    steps = models.JSONField(default=list, help_text="[{position, title, body, command}]")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["runbook", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["runbook", "number"], name="runbook_version_number"),
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.number}"


class IncidentRunbook(models.Model):
    """A runbook an incident's responders started, in the version they followed."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="runbooks")
    runbook = models.ForeignKey(Runbook, on_delete=models.PROTECT, related_name="runs")
    version = models.ForeignKey(RunbookVersion, on_delete=models.PROTECT, related_name="runs")
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "runbook"], name="runbook_once_per_incident"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident.reference}: {self.version}"


class StepOutcome(models.TextChoices):
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"


class RunbookStepRecord(models.Model):
    """A step ticked done or skipped (with a note) during an incident. Once per step."""

    run = models.ForeignKey(IncidentRunbook, on_delete=models.CASCADE, related_name="records")
    position = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=10, choices=StepOutcome.choices)
    note = models.TextField(blank=True)
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="runbook_step_once"),
            models.CheckConstraint(
                condition=Q(outcome="done") | ~Q(note=""), name="runbook_skip_has_note"
            ),
        ]

    def __str__(self) -> str:
        return f"Step {self.position} {self.outcome}"
