import zoneinfo

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from incidents.validators import validate_time_zone


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    engineering_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_teams",
        help_text="The manager of everyone on this team; escalations and overdue items go here.",
    )
    chat_webhook_url = models.URLField(
        blank=True,
        help_text="Optional outgoing webhook (e.g. a chat channel) for team notifications.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="team_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    name = models.CharField(max_length=100, unique=True)
    team = models.ForeignKey(
        Team,
        on_delete=models.PROTECT,
        related_name="services",
        help_text="The team that owns the service and is paged when it breaks.",
    )
    description = models.TextField(blank=True)
    is_public = models.BooleanField(
        default=True, help_text="Shown on the public status page when it is affected."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Profile(models.Model):
    """What IncidentDesk needs to know about a person beyond the auth user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="IANA name such as Europe/London; overnight pages and shifts use it.",
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        help_text="The person's own team; its engineering manager is the person's manager.",
    )
    mute_digest = models.BooleanField(
        default=False,
        help_text="No weekly digest of open action items. Escalations are never muted.",
    )

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"Profile of {self.user}"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)
