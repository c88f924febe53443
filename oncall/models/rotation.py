import secrets
import zoneinfo
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from incidents.models import Team
from incidents.models.incident import shown_moment
from incidents.validators import validate_time_zone


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class Rotation(models.Model):
    """A team's weekly rotation: members take one-week shifts in order, handing off at the
    same wall-clock weekday and time in the rotation's time zone every week."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="rotations")
    name = models.CharField(max_length=100)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Handoffs happen at this zone's wall-clock time, whatever DST does.",
    )
    handoff_weekday = models.PositiveSmallIntegerField(
        choices=Weekday.choices, default=Weekday.MONDAY
    )
    handoff_time = models.TimeField(default=time(9, 0))
    starts_on = models.DateField(
        help_text="Date of the first handoff; week numbers (and so who is next) count from it."
    )
    has_secondary = models.BooleanField(
        default=True,
        help_text="Generate a secondary (backup) shift for the next member in line each week.",
    )
    page_ack_within = models.DurationField(
        default=timedelta(minutes=5),
        help_text="Pages must be acknowledged within this (runbook: 5 min).",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="rotation_team_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.team.name} / {self.name}"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def handoff_moment(self, week: int) -> datetime:
        """The wall-clock handoff of week ``week`` (0 = ``starts_on``) in the rotation's zone."""
        day = self.starts_on + timedelta(days=7 * week)
        return datetime.combine(day, self.handoff_time, tzinfo=self.zone)

    def week_index_at(self, moment: datetime) -> int:
        """The rotation week running at ``moment`` (0 before the first handoff)."""
        local_day = moment.astimezone(self.zone).date()
        week = max(0, (local_day - self.starts_on).days // 7)
        if week > 0 and self.handoff_moment(week) > moment:
            week -= 1
        return week

    def clean(self) -> None:
        if self.page_ack_within is not None and not (
            timedelta(0) < self.page_ack_within <= timedelta(days=1)
        ):
            # Zero makes every page late; less than zero cannot be stored on a page at all.
            raise ValidationError(
                {"page_ack_within": "Enter a length of time from 0:00:01 to 1 day, e.g. 0:05:00."}
            )
        if self.starts_on is not None and not 1970 <= self.starts_on.year <= 2999:
            # Weeks are counted from it, years ahead: keep clear of the calendar's end.
            raise ValidationError({"starts_on": "Enter a date from 1970 to 2999."})
        if self.starts_on is not None and self.starts_on.weekday() != self.handoff_weekday:
            raise ValidationError(
                {"starts_on": "The first handoff must fall on the handoff weekday."}
            )


class RotationMember(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rotation_memberships"
    )
    position = models.PositiveSmallIntegerField(help_text="Order in the rotation, from 0.")

    class Meta:
        ordering = ["rotation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["rotation", "user"], name="member_once_per_rotation"),
            models.UniqueConstraint(fields=["rotation", "position"], name="member_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.position}: {self.user}"


class ShiftRole(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"


class ShiftSource(models.TextChoices):
    GENERATED = "generated", "Generated from the rotation"
    OVERRIDE = "override", "Override (covering someone)"
    IMPORTED = "imported", "Imported history"
    MANUAL = "manual", "Added by hand"


class Shift(models.Model):
    """A stretch of time an engineer is on call, [starts_at, ends_at)."""

    rotation = models.ForeignKey(Rotation, on_delete=models.PROTECT, related_name="shifts")
    engineer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shifts"
    )
    role = models.CharField(max_length=10, choices=ShiftRole.choices, default=ShiftRole.PRIMARY)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    source = models.CharField(
        max_length=10, choices=ShiftSource.choices, default=ShiftSource.MANUAL
    )
    overrides = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="overridden_by",
        help_text="The shift this one covers part of.",
    )
    covered_engineer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who this override covers for.",
    )
    reason = models.CharField(max_length=200, blank=True)
    import_key = models.CharField(
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        editable=False,
        help_text="Natural key of an imported shift, so importing again never adds it twice.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "role", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="shift_ends_after_start",
                violation_error_message="A shift must end after it starts.",
            ),
            models.CheckConstraint(condition=Q(role__in=ShiftRole.values), name="shift_role_valid"),
        ]
        indexes = [
            models.Index(fields=["engineer", "starts_at"], name="shift_engineer_start"),
            models.Index(fields=["rotation", "role", "starts_at"], name="shift_rotation_start"),
            models.Index(fields=["starts_at", "ends_at"], name="shift_span"),
        ]

    def __str__(self) -> str:
        return f"{self.engineer} {self.get_role_display()} {shown_moment(self.starts_at)}"

    @property
    def is_override(self) -> bool:
        return self.source == ShiftSource.OVERRIDE


class Handoff(models.Model):
    """The outgoing engineer's written summary at a handoff, and the incoming one's reading."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="handoffs")
    handoff_at = models.DateTimeField()
    outgoing = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="handoffs_given"
    )
    incoming = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="handoffs_received"
    )
    summary = models.TextField(blank=True)
    written_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-handoff_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rotation", "handoff_at"], name="handoff_once_per_boundary"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rotation} handoff {shown_moment(self.handoff_at)}"


def _new_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """The private token behind an engineer's iCalendar feed of their shifts."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=_new_token)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"
