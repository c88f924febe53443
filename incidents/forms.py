"""Forms that parse input for the incident services (used by the admin and the engineers' pages).

They check shape only; the rules live in ``incidents.services``, whose ValidationErrors are put
back on the form by ``add_service_errors`` so the user sees them beside their input.
"""

from datetime import datetime

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from incidents.access import responders
from incidents.models import (
    CommunicationTemplate,
    DetectionMethod,
    Incident,
    IncidentRole,
    IncidentStatus,
    Service,
    Severity,
    TemplateKind,
    TimelineEvent,
    UpdateAudience,
)
from incidents.services import ResolutionChecklist, allowed_moves

User = get_user_model()


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Attach a service's ValidationError to the form: keyed errors go to the field of the same
    name when the form has one, everything else to the form's non-field errors."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = field if field in form.fields else None
            for item in errors:
                form.add_error(target, item)
    else:
        form.add_error(None, error)


class StatusUpdateForm(forms.Form):
    audience = forms.ChoiceField(choices=UpdateAudience.choices, initial=UpdateAudience.INTERNAL)
    status = forms.CharField(max_length=200, help_text="Investigating / Mitigating / Resolved")
    impact = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="What's broken")
    action = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="What we're doing")
    eta = forms.CharField(
        label="ETA", max_length=200, help_text="When we expect resolution, or 'unknown'"
    )

    @classmethod
    def initial_for(
        cls, incident, kind: str = TemplateKind.UPDATE, *, public: bool = False
    ) -> dict[str, str]:
        """Prefill from the communication template of ``kind``, with the incident filled in;
        with only its public facts when the text is meant for the status page."""
        template = CommunicationTemplate.objects.filter(kind=kind).first()
        initial = {"status": incident.get_status_display(), "eta": "unknown"}
        if template is None:
            return initial
        if public:
            from incidents.selectors import public_template_context

            context = public_template_context(incident)
        else:
            context = template_context(incident)
        for name in ("status", "impact", "action", "eta"):
            value = getattr(template, name)
            if value:
                initial[name] = safe_format(value, context)
        return initial


def template_context(incident) -> dict[str, str]:
    return {
        "title": incident.title,
        "reference": incident.reference,
        "severity": incident.severity.name,
        "services": ", ".join(s.name for s in incident.services.all()) or "our services",
        "channel": incident.channel_name,
        "impact": incident.impact_description or "degraded service",
        "status": incident.get_status_display(),
        "resolved_at": (
            incident.resolved_at.strftime("%Y-%m-%d %H:%M UTC") if incident.resolved_at else ""
        ),
    }


class _SafeDict(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def safe_format(text: str, context: dict[str, str]) -> str:
    """Fill ``{placeholders}``; unknown ones stay as typed instead of failing."""
    try:
        return text.format_map(_SafeDict(context))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        # A stray brace, or {severity.name} typed by a manager: the text as written rather
        # than an incident page that fails for everyone (the admin refuses these now).
        return text


class CorrectedEventField(forms.ModelChoiceField):
    def label_from_instance(self, event):
        when = timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M:%S %Z")
        text = " ".join(event.message.split())
        return f"{when} {event.get_kind_display()}: {text[:80]}"


class NoteForm(forms.Form):
    """A note; on an incident's page it may say which earlier event it corrects (the timeline
    is never edited: a mistake is corrected by a new event pointing at it)."""

    CHOICES_SHOWN = 100  # the latest events: corrections are of what just happened

    text = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 3}))
    corrects = CorrectedEventField(
        queryset=TimelineEvent.objects.none(),
        required=False,
        label="Corrects (optional)",
        empty_label="Nothing: a new note",
        help_text="An earlier event this note corrects; the event itself stays as it was.",
    )

    def __init__(self, *args, incident=None, **kwargs):
        super().__init__(*args, **kwargs)
        if incident is None:
            del self.fields["corrects"]
            return
        latest = (
            TimelineEvent.objects.filter(incident=incident)
            .order_by("-occurred_at", "-id")
            .values("pk")[: self.CHOICES_SHOWN]
        )
        self.fields["corrects"].queryset = TimelineEvent.objects.filter(pk__in=latest).order_by(
            "-occurred_at", "-id"
        )


class ResolveForm(forms.Form):
    """The runbook's resolution checklist and a closing note."""

    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    issue_fixed = forms.BooleanField(
        required=False, label=ResolutionChecklist.LABELS["issue_fixed"]
    )
    metrics_normal = forms.BooleanField(
        required=False, label=ResolutionChecklist.LABELS["metrics_normal"]
    )
    no_alerts_firing = forms.BooleanField(
        required=False, label=ResolutionChecklist.LABELS["no_alerts_firing"]
    )
    stable_for_30_minutes = forms.BooleanField(
        required=False, label=ResolutionChecklist.LABELS["stable_for_30_minutes"]
    )
    customer_impact_verified = forms.BooleanField(
        required=False, label=ResolutionChecklist.LABELS["customer_impact_verified"]
    )

    def checklist(self) -> ResolutionChecklist:
        return ResolutionChecklist(
            **{name: self.cleaned_data.get(name, False) for name in ResolutionChecklist.LABELS}
        )


class StatusChangeForm(ResolveForm):
    """A move to any allowed status; the checklist counts only when the move resolves."""

    to_status = forms.ChoiceField(label="New status", choices=())
    mitigation_action = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What was done to mitigate (rollback, scale up, failover...).",
    )
    field_order = ["to_status", "note", "mitigation_action"]

    def __init__(self, *args, incident=None, **kwargs):
        super().__init__(*args, **kwargs)
        moves = allowed_moves(incident.status) if incident is not None else IncidentStatus.values
        self.fields["to_status"].choices = [(value, IncidentStatus(value).label) for value in moves]


class SeverityChangeForm(forms.Form):
    severity = forms.ModelChoiceField(queryset=Severity.objects.filter(is_active=True))
    reason = forms.CharField(required=False, max_length=300)


IMPACT_FIELDS = (
    "customer_impact",
    "impact_description",
    "users_affected",
    "revenue_impact",
    "revenue_currency",
    "data_loss",
    "data_loss_details",
    "security_related",
    "root_cause",
    "root_cause_category",
)
CURRENCY_CODE = "Use a three-letter ISO 4217 currency code, such as USD or EUR."
NOT_NEGATIVE = "Give an estimate of zero or more."


class ImpactForm(forms.ModelForm):
    """What the responders learn of an incident's impact and cause, while they work it and
    after (the runbook's timeline template asks for both). Also on a closed incident: the
    figures often arrive after the post-mortem."""

    class Meta:
        model = Incident
        fields = IMPACT_FIELDS
        labels = {
            "revenue_impact": "Revenue impact (estimate)",
            "revenue_currency": "Currency",
            "data_loss_details": "What data was lost",
            "security_related": "Security-related",
        }
        widgets = {
            "impact_description": forms.Textarea(attrs={"rows": 2}),
            "data_loss_details": forms.Textarea(attrs={"rows": 2}),
            "root_cause": forms.Textarea(attrs={"rows": 3}),
        }

    def clean_revenue_currency(self):
        value = (self.cleaned_data.get("revenue_currency") or "").strip().upper()
        if len(value) != 3 or not value.isascii() or not value.isalpha():
            raise ValidationError(CURRENCY_CODE)
        return value

    def clean_revenue_impact(self):
        value = self.cleaned_data.get("revenue_impact")
        if value is not None and value < 0:
            raise ValidationError(NOT_NEGATIVE)
        return value


class RoleAssignForm(forms.Form):
    role = forms.ChoiceField(choices=IncidentRole.choices)
    user = forms.ModelChoiceField(queryset=responders().order_by("username"), label="Person")


class HiddenMinuteInput(forms.DateTimeInput):
    """The moment a page was loaded with, hidden, to the minute as the picker shows it."""

    input_type = "hidden"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class WallClockDateTimeField(forms.DateTimeField):
    """A date and time read in the reader's zone, as Django's field, but never refused for a
    wall-clock time that happens twice or not at all at a DST change: in the hour the clocks
    go back it is the first of the two; a time skipped when they go forward is read with the
    offset before the change, as RFC 5545 reads it."""

    hidden_widget = HiddenMinuteInput

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as error:
            if error.code != "ambiguous_timezone":
                raise
        naive = parse_datetime(value.strip()) or forms.BaseTemporalField.to_python(self, value)
        return naive.replace(tzinfo=timezone.get_current_timezone())


class WallClockSplitDateTimeField(forms.SplitDateTimeField):
    """The admin's date and time boxes, read as ``WallClockDateTimeField`` reads one: a time
    the clocks go over twice, or skip, is read, not refused."""

    def compress(self, data_list):
        try:
            return super().compress(data_list)
        except ValidationError as error:
            if error.code != "ambiguous_timezone":
                raise
        naive = datetime.combine(*data_list)
        return naive.replace(tzinfo=timezone.get_current_timezone())


class DeclareIncidentForm(forms.Form):
    """The engineers' "declare an incident" form."""

    title = forms.CharField(max_length=200)
    severity = forms.ModelChoiceField(
        queryset=Severity.objects.filter(is_active=True).order_by("rank"),
        widget=forms.RadioSelect,
        empty_label=None,
    )
    services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.select_related("team").order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=(
            "The on-call of every team owning an affected service is paged; the first "
            "service's team is responsible."
        ),
    )
    detection_method = forms.ChoiceField(
        choices=DetectionMethod.choices, label="How was it detected?"
    )
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    customer_impact = forms.BooleanField(
        required=False, label="Customers are affected", help_text="Makes a post-mortem required."
    )
    impact_description = forms.CharField(
        required=False, max_length=500, label="Impact", help_text="What's broken, for whom."
    )
    started_at = WallClockDateTimeField(
        required=False,
        label="Started at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=(
            "When it began, if before it was noticed (in your time zone): time to detect "
            "counts from it. Empty: now."
        ),
    )

    def clean_started_at(self):
        started_at = self.cleaned_data.get("started_at")
        if started_at is not None and started_at > timezone.now():
            raise ValidationError("The start cannot be in the future.")
        return started_at


class TakeRoleForm(forms.Form):
    # No role chosen until someone picks one: a default would be the commander's.
    role = forms.ChoiceField(choices=[("", "Choose a role…"), *IncidentRole.choices])


class AckForm(forms.Form):
    """Nothing to fill in: the button is the form."""
