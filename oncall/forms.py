from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone

from incidents.models import Team
from oncall.models import PayPeriod
from oncall.selectors import MAX_REPORT_DAYS, REPORT_TOO_LATE, REPORT_TOO_LONG, project_zone


def previous_month() -> tuple[date, date]:
    """The last whole month in the project's zone, where periods start at 00:00."""
    first_this_month = timezone.localdate(timezone=project_zone()).replace(day=1)
    end = first_this_month - timedelta(days=1)
    return end.replace(day=1), end


class TeamNameField(forms.ModelChoiceField):
    """A team chosen by name, in any letter case (as the command's ``--team``)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if "\x00" in str(value):  # PostgreSQL cannot compare it; no name holds one
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        team = self.queryset.filter(name__iexact=str(value)).first()
        if team is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return team


class ReportPeriodForm(forms.Form):
    """Period and team pickers of the compensation report. A pay period fills the dates."""

    period = forms.ModelChoiceField(
        queryset=PayPeriod.objects.order_by("-start_date"),
        required=False,
        empty_label="Custom dates",
        label="Pay period",
    )
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    team = TeamNameField(
        queryset=Team.objects.order_by("name"),
        required=False,
        empty_label="All teams",
        to_field_name="name",
    )

    def clean(self):
        cleaned = super().clean()
        period = cleaned.get("period")
        if period is not None:
            cleaned["start"], cleaned["end"] = period.start_date, period.end_date
        if not cleaned.get("start") or not cleaned.get("end"):
            default = (
                PayPeriod.objects.filter(status="open").order_by("start_date").first()
                if not self.data.get("start") and not self.data.get("end")
                else None
            )
            if default is not None:
                cleaned["start"], cleaned["end"] = default.start_date, default.end_date
            elif not self.data.get("start") and not self.data.get("end"):
                cleaned["start"], cleaned["end"] = previous_month()
            else:
                raise forms.ValidationError("Give both a start and an end date.")
        if cleaned["end"] < cleaned["start"]:
            self.add_error("end", "The end date is before the start date.")
        elif cleaned["end"] >= date.max:
            self.add_error("end", REPORT_TOO_LATE)
        elif (cleaned["end"] - cleaned["start"]).days >= MAX_REPORT_DAYS:
            self.add_error("end", REPORT_TOO_LONG)
        return cleaned


class HandoffForm(forms.Form):
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Open incidents, flaky alerts, anything the next person should watch.",
    )


class CompTimeForm(forms.Form):
    day = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    hours = forms.DecimalField(min_value=Decimal("0.25"), max_value=24, decimal_places=2)
    note = forms.CharField(required=False, max_length=200)


class DigestForm(forms.Form):
    mute_digest = forms.BooleanField(
        required=False, label="Mute my weekly action-item digest (escalations still reach me)"
    )
