from datetime import time
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from incidents.validators import validate_day_not_too_early


class CompensationPolicy(models.Model):
    """On-call pay rules in force from ``effective_from`` (00:00 in the project's TIME_ZONE)
    until ``effective_to`` (exclusive; empty means open-ended). Policies are superseded by a
    new effective-dated row, never edited once they have taken effect, so every past report
    can be recomputed with the rules of its time."""

    effective_from = models.DateField()
    effective_to = models.DateField(
        null=True, blank=True, help_text="Exclusive. Empty: in force until superseded."
    )
    currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[
            RegexValidator(
                r"\A[A-Z]{3}\Z", "Use a three-letter ISO 4217 currency code, such as USD or EUR."
            )
        ],
        help_text="ISO 4217 code, such as USD or EUR.",
    )
    weekly_stipend = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("500.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Paid per full week (168 wall-clock hours) on call, prorated by the hour.",
    )
    sev1_bonus = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("200.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Per distinct most-severe incident whose page the engineer acknowledged.",
    )
    comp_hours_per_overnight_page = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("4.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    overnight_start = models.TimeField(
        default=time(22, 0), help_text="Overnight window start, in the engineer's own time zone."
    )
    overnight_end = models.TimeField(
        default=time(7, 0), help_text="Overnight window end (exclusive)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-effective_from"]
        verbose_name_plural = "compensation policies"
        constraints = [
            models.UniqueConstraint(fields=["effective_from"], name="policy_one_per_start"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=F("effective_from")),
                name="policy_ends_after_start",
                violation_error_message="A policy must end after it starts.",
            ),
        ]

    def __str__(self) -> str:
        until = self.effective_to.isoformat() if self.effective_to else "open-ended"
        return f"{self.currency} {self.weekly_stipend}/week from {self.effective_from} ({until})"

    def clean(self) -> None:
        if self.overnight_start is not None and self.overnight_start == self.overnight_end:
            # An empty window: no page would ever be overnight (00:00 to 00:00 is not "all
            # night").
            raise ValidationError({"overnight_end": OVERNIGHT_EMPTY})


OVERNIGHT_EMPTY = (
    "The overnight window must end at another time than it starts: an empty window makes no "
    "page overnight."
)
PERIOD_OVERLAPS = "Pay periods cannot overlap: {other} already covers some of these days."


class PayPeriodStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed (paid; figures frozen)"


class PayPeriod(models.Model):
    """A span of days finance pays for, [start_date, end_date] inclusive, in the project's
    TIME_ZONE. Closing it freezes its report as stored lines."""

    start_date = models.DateField()
    end_date = models.DateField(help_text="Inclusive.")
    status = models.CharField(
        max_length=10, choices=PayPeriodStatus.choices, default=PayPeriodStatus.OPEN
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-start_date"]
        permissions = [
            ("view_compensation_report", "Can view the on-call compensation report"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["start_date"], name="pay_period_start_unique"),
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")),
                name="pay_period_end_after_start",
                violation_error_message="A pay period must end on or after its start.",
            ),
            models.CheckConstraint(
                condition=Q(status=PayPeriodStatus.OPEN) | Q(closed_at__isnull=False),
                name="pay_period_closed_has_moment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start_date} - {self.end_date} ({self.get_status_display()})"

    def clean(self) -> None:
        if self.start_date and self.end_date:
            other = (
                PayPeriod.objects.filter(
                    start_date__lte=self.end_date, end_date__gte=self.start_date
                )
                .exclude(pk=self.pk)
                .first()
            )
            if other is not None:
                raise ValidationError(PERIOD_OVERLAPS.format(other=other))

    @property
    def is_closed(self) -> bool:
        return self.status == PayPeriodStatus.CLOSED


class CompensationLine(models.Model):
    """A frozen line of a closed pay period's report.

    ``adjusts`` empty: the engineer's own figures for the period at closing time.
    ``adjusts`` set: a correction to that earlier closed period, discovered after it was closed
    and paid in this one. The report of a closed period is the sum of its lines per engineer,
    so it reproduces exactly whatever happens to the data later.
    """

    pay_period = models.ForeignKey(PayPeriod, on_delete=models.PROTECT, related_name="lines")
    adjusts = models.ForeignKey(
        PayPeriod,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adjustment_lines",
    )
    engineer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="compensation_lines"
    )
    username = models.CharField(max_length=150)
    # Wide enough for whatever the report can show, so closing a period never fails on a
    # figure it computed: a first and a last name of 150 characters each with a space
    # between, a period of weeks and bonuses at the largest amounts a policy takes.
    full_name = models.CharField(max_length=301)
    team = models.CharField(max_length=100, blank=True)
    on_call_hours = models.DecimalField(max_digits=10, decimal_places=2)
    stipend = models.DecimalField(max_digits=18, decimal_places=2)
    sev1_incidents = models.IntegerField()
    sev1_bonus = models.DecimalField(max_digits=18, decimal_places=2)
    overnight_pages = models.IntegerField()
    comp_time_hours = models.DecimalField(max_digits=12, decimal_places=2)
    total_pay = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["pay_period", "username", "adjusts"]
        constraints = [
            models.UniqueConstraint(
                fields=["pay_period", "engineer", "currency"],
                condition=Q(adjusts__isnull=True),
                name="line_own_once_per_engineer",
            ),
            models.UniqueConstraint(
                fields=["pay_period", "engineer", "currency", "adjusts"],
                condition=Q(adjusts__isnull=False),
                name="line_adjustment_once_per_engineer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pay_period}: {self.username} {self.total_pay} {self.currency}"


class CompTimeTaken(models.Model):
    """Hours of comp time an engineer took off; counted against what overnight pages earned."""

    engineer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="comp_time_taken"
    )
    date = models.DateField(validators=[validate_day_not_too_early])
    hours = models.DecimalField(
        max_digits=5, decimal_places=2, validators=[MinValueValidator(Decimal("0.25"))]
    )
    note = models.CharField(max_length=200, blank=True)
    logged_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = "comp time taken"
        verbose_name_plural = "comp time taken"
        constraints = [
            models.CheckConstraint(condition=Q(hours__gt=0), name="comp_time_positive"),
        ]
        indexes = [models.Index(fields=["engineer", "date"], name="comp_time_engineer_date")]

    def __str__(self) -> str:
        return f"{self.engineer} {self.hours} h on {self.date}"
