from datetime import timedelta
from string import Formatter

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q


class EscalationLevel(models.Model):
    """Who an escalation goes to: named people and groups, or the incident team's manager."""

    class Kind(models.TextChoices):
        NAMED = "named", "Named people and groups"
        TEAM_MANAGER = "team_manager", "The incident team's engineering manager"

    name = models.CharField(max_length=100, unique=True, help_text="For example VP Engineering.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.NAMED)
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="escalation_levels",
        help_text="People notified at this level (used when the kind is 'named').",
    )
    groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="escalation_levels",
        help_text="Every member of these groups is notified too (kind 'named').",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PostmortemRule(models.TextChoices):
    REQUIRED = "required", "Required"
    OPTIONAL = "optional", "Optional (required only with customer impact)"


class Severity(models.Model):
    """A severity level. Data, not code: managers rename, retime and add levels in the admin."""

    name = models.CharField(max_length=20, unique=True, help_text="Short name, e.g. SEV-1 or P0.")
    label = models.CharField(max_length=50, help_text="E.g. Critical.")
    rank = models.PositiveSmallIntegerField(
        unique=True, help_text="1 is the most severe; lists sort by it."
    )
    description = models.TextField(help_text="What this level means, shown when declaring.")
    examples = models.TextField(blank=True)
    is_most_severe = models.BooleanField(
        default=False,
        help_text="The level whose incidents earn the on-call SEV-1 bonus. Exactly one level.",
    )
    acknowledge_within = models.DurationField(help_text="Response target, e.g. 0:05:00.")
    update_every = models.DurationField(help_text="Status update cadence while it is open.")
    escalate_after = models.DurationField(
        null=True, blank=True, help_text="Escalate if unresolved after this long; empty: never."
    )
    escalation_level = models.ForeignKey(
        EscalationLevel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="severities",
        help_text="Who the escalation goes to.",
    )
    postmortem_rule = models.CharField(
        max_length=20, choices=PostmortemRule.choices, default=PostmortemRule.OPTIONAL
    )
    color = models.CharField(max_length=7, default="#6b7280", help_text="Hex colour for pages.")
    is_active = models.BooleanField(default=True, help_text="Inactive levels cannot be declared.")

    class Meta:
        ordering = ["rank"]
        verbose_name_plural = "severities"
        constraints = [
            models.UniqueConstraint(
                fields=["is_most_severe"],
                condition=Q(is_most_severe=True),
                name="severity_one_most_severe",
            ),
            models.CheckConstraint(
                condition=Q(escalate_after__isnull=True) | Q(escalation_level__isnull=False),
                name="severity_escalation_has_level",
                violation_error_message="An escalation threshold needs a level to escalate to.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.label}"

    def save(self, *args, **kwargs):
        # Ticking the flag on a level moves it there: exactly one level carries it.
        if self.is_most_severe:
            with transaction.atomic():
                Severity.objects.filter(is_most_severe=True).exclude(pk=self.pk).update(
                    is_most_severe=False
                )
                return super().save(*args, **kwargs)
        return super().save(*args, **kwargs)

    def clean(self) -> None:
        """Targets and cadences are lengths of time: zero or less would switch reminders off
        (a SEV-1 left without updates) or make every incident miss or escalate at once."""
        errors = {}
        for name in ("acknowledge_within", "update_every", "escalate_after"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                errors[name] = "Enter a length of time greater than zero, e.g. 0:15:00."
            elif value is not None and value > LONGEST:
                # A manager's "never" (3,000,000 days) would overflow every sweep's date sums
                # and stop escalations for all levels: leave the field empty instead.
                errors[name] = (
                    f"Enter at most {LONGEST.days} days (leave it empty for no escalation)."
                )
        if not self.is_most_severe and self.pk is not None:
            others = Severity.objects.filter(is_most_severe=True).exclude(pk=self.pk)
            if not others.exists():
                # The on-call SEV-1 bonus and the metrics' goals hang on it: without one,
                # closing a pay period would take back the bonuses already paid.
                errors["is_most_severe"] = (
                    "One level must be the most severe: tick it on the level that takes it over "
                    "(it moves from this one)."
                )
        if errors:
            raise ValidationError(errors)

    def validate_constraints(self, exclude=None):
        # Ticking the flag on a level moves it there (``save``): the one-flag constraint holds
        # after the save, so it is not a reason to refuse the form.
        exclude = set(exclude or ())
        if self.is_most_severe:
            exclude.add("is_most_severe")
        super().validate_constraints(exclude=exclude)

    @property
    def requires_postmortem(self) -> bool:
        return self.postmortem_rule == PostmortemRule.REQUIRED


LONGEST = timedelta(days=365)


class TemplateKind(models.TextChoices):
    INITIAL = "initial", "Initial status page update"
    UPDATE = "update", "Status update"
    RESOLUTION = "resolution", "Resolution update"
    ANNOUNCEMENT = "announcement", "Initial internal announcement"


class CommunicationTemplate(models.Model):
    """Runbook wording for updates. Placeholders such as {title} are filled in when used."""

    kind = models.CharField(max_length=20, choices=TemplateKind.choices, unique=True)
    status = models.CharField(max_length=200, blank=True, help_text="Prefill for 'Status'.")
    impact = models.TextField(blank=True, help_text="Prefill for 'Impact'.")
    action = models.TextField(blank=True, help_text="Prefill for 'Action'.")
    eta = models.CharField(max_length=200, blank=True, help_text="Prefill for 'ETA'.")
    body = models.TextField(
        help_text="Full wording. Placeholders: {title} {reference} {severity} {services} "
        "{channel} {impact} {resolved_at}; the internal announcement also {commander}."
    )

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.get_kind_display()

    PLACEHOLDERS = (
        "title",
        "reference",
        "severity",
        "services",
        "channel",
        "impact",
        "status",
        "resolved_at",
    )

    def clean(self) -> None:
        """Each text may use only the placeholders filled in, as ``{name}``; a brace meant as
        text is written twice (``{{``)."""
        placeholders = self.PLACEHOLDERS
        if self.kind == TemplateKind.ANNOUNCEMENT:
            # Internal only: a name must never reach the public status page's wording.
            placeholders += ("commander",)
        known = " ".join(f"{{{name}}}" for name in placeholders)
        errors = {}
        for name in ("status", "impact", "action", "eta", "body"):
            try:
                used = [field for _, field, _, _ in Formatter().parse(getattr(self, name) or "")]
            except ValueError:
                errors[name] = "A lone { or }: write {{ or }} for a brace."
                continue
            unknown = [f for f in used if f is not None and f not in placeholders]
            if unknown:
                errors[name] = f"Unknown placeholder {{{unknown[0]}}}: use {known}."
        if errors:
            raise ValidationError(errors)
