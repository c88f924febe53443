"""Forms that parse input for the post-mortem services (the admin now, engineers' pages later).
They check shape only; the rules live in ``postmortems.services``."""

from django import forms
from django.contrib.auth import get_user_model

from incidents.models import Incident
from postmortems.models import FiveWhy

User = get_user_model()

BLAMELESS_REMINDER = (
    "Blameless: write about systems and processes, not people. “The deployment process lacked "
    "adequate testing”, not “Engineer X didn't test properly”."
)


class FiveWhyInlineForm(forms.ModelForm):
    """A why with an ``order`` box instead of the stored position: the positions are renumbered
    by ``five_whys_reorder`` (which keeps them unique at every step), so the form never writes
    one itself. Empty order: after the others."""

    order = forms.IntegerField(
        required=False, min_value=1, widget=forms.NumberInput(attrs={"style": "width: 4em"})
    )

    class Meta:
        model = FiveWhy
        fields = ["question", "answer"]
        widgets = {
            "question": forms.Textarea(attrs={"rows": 2, "cols": 50}),
            "answer": forms.Textarea(attrs={"rows": 2, "cols": 50}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["order"].initial = self.instance.position


class ReviewMeetingForm(forms.Form):
    held_at = forms.SplitDateTimeField(
        label="Held at", widget=forms.SplitDateTimeWidget(date_format="%Y-%m-%d")
    )


class RequirePostmortemForm(forms.Form):
    incident = forms.ModelChoiceField(queryset=Incident.objects.order_by("-started_at"))


class ReassignForm(forms.Form):
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"), label="New owner"
    )
