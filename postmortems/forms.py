"""Forms that parse input for the post-mortem services (the admin now, engineers' pages later).
They check shape only; the rules live in ``postmortems.services``."""

from django import forms
from django.contrib.admin.widgets import AdminSplitDateTime
from django.contrib.auth import get_user_model
from django.utils import timezone

from incidents.access import responders
from incidents.forms import WallClockDateTimeField, WallClockSplitDateTimeField
from incidents.models import Incident
from postmortems.models import (
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    FiveWhy,
    PostmortemTimelineEntry,
)

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
    held_at = WallClockSplitDateTimeField(
        label="Held at", widget=forms.SplitDateTimeWidget(date_format="%Y-%m-%d")
    )


class RequirePostmortemForm(forms.Form):
    incident = forms.ModelChoiceField(queryset=Incident.objects.order_by("-started_at"))


class ReassignForm(forms.Form):
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"), label="New owner"
    )


class SectionsForm(forms.Form):
    """The post-mortem's written sections; saved as a whole or field by field (autosave)."""

    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    impact = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    root_cause = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    what_went_well = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    what_could_be_improved = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    lessons_learned = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class EditsWhatChanged:
    """A form that edits a row already there: each field also carries, hidden, the value the
    page was loaded with, so ``changed`` gives only what the writer changed. Saving one field
    from a tab left open then never puts back what a co-author changed in another."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.show_hidden_initial = True

    def changed(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k in self.changed_data}


class WhyForm(forms.Form):
    # No length limit: the model has none, and a long question written in the admin must
    # still be answerable here.
    question = forms.CharField(widget=forms.TextInput(attrs={"size": 60}))
    answer = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Because…"
    )


class WhyEditForm(EditsWhatChanged, WhyForm):
    pass


class TimelineEntryForm(forms.Form):
    occurred_at = WallClockDateTimeField(
        label="When",
        # The browser's date-time picker reads only this form (a saved moment shown again).
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In your time zone.",
    )
    # As long as the incident's notes it is copied from, lines and all.
    text = forms.CharField(
        label="What happened", widget=forms.Textarea(attrs={"rows": 2}), strip=True
    )


class TimelineEntryEditForm(EditsWhatChanged, TimelineEntryForm):
    pass


class OwnerField(forms.CharField):
    """A username typed with the browser's autocomplete (a datalist of active people)."""

    default_error_messages = {
        "unknown": "No active person has the username “%(value)s”.",
        "not_responder": "%(value)s cannot own an action item: only engineers and managers can "
        "see and complete them.",
    }

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        user = User.objects.filter(username=value.strip(), is_active=True).first()
        if user is None:
            raise forms.ValidationError(
                self.error_messages["unknown"], code="unknown", params={"value": value}
            )
        if not responders().filter(pk=user.pk).exists():
            raise forms.ValidationError(
                self.error_messages["not_responder"],
                code="not_responder",
                params={"value": user.get_full_name() or user.get_username()},
            )
        return user


class ActionItemForm(forms.Form):
    """One row of the action items formset. Existing rows carry their id, and each field the
    value the page showed (``show_hidden_initial``): only what the author changed on the page
    is saved, so an owner's tracker link or a manager's new due date made meanwhile stands."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "id":
                field.show_hidden_initial = True

    def clean(self):
        cleaned = super().clean()
        if "owner" in self._errors and cleaned.get("id") and "owner" not in self.changed_data:
            # The stored owner left or changed groups since: a row nobody changed here is
            # not checked again (it is not saved either), or one departed owner would block
            # every other item and every follow-up.
            del self._errors["owner"]
        return cleaned

    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    title = forms.CharField(max_length=200)
    owner = OwnerField(
        required=False,
        widget=forms.TextInput(attrs={"list": "people", "autocomplete": "off"}),
        help_text="Username; suggestions as you type.",
    )
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(choices=ActionItemKind.choices, initial=ActionItemKind.PREVENT)
    priority = forms.ChoiceField(choices=ActionItemPriority.choices, initial=ActionItemPriority.P3)
    tracker_url = forms.URLField(
        required=False, label="Tracker link", assume_scheme="https", max_length=500
    )


class BaseActionItemFormSet(forms.BaseFormSet):
    def clean(self):
        super().clean()
        ids = [f.cleaned_data.get("id") for f in self.forms if f.cleaned_data.get("id")]
        if len(ids) != len(set(ids)):
            raise forms.ValidationError("An action item appears twice.")


ActionItemFormSet = forms.formset_factory(ActionItemForm, formset=BaseActionItemFormSet, extra=2)


class MyActionItemForm(forms.Form):
    """What an owner changes from "my action items": the status and the tracker link."""

    status = forms.ChoiceField(choices=ActionItemStatus.choices)
    tracker_url = forms.URLField(
        required=False, label="Tracker link", assume_scheme="https", max_length=500
    )

    def changed_from_page(self, name: str, stored: str) -> bool:
        """Whether the person changed ``name`` on the page: against what the page showed
        (``loaded_<name>``), so a tab left open does not undo what was changed elsewhere
        since; against ``stored`` when the page sent nothing to compare with."""
        loaded = self.data.get(f"loaded_{name}")
        shown = stored if loaded is None else loaded
        return (self.cleaned_data.get(name) or "") != (shown or "")


class ReviewMeetingTimeForm(forms.Form):
    held_at = WallClockDateTimeField(
        label="Review meeting held at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


class TimelineEntryInlineForm(forms.ModelForm):
    """A line of the post-mortem's timeline in the admin. A moment shown and sent back
    unchanged is the stored one (the second of two 01:30s when the clocks went back), so a
    manager saving the summary never meets an error on a line they did not touch."""

    occurred_at = WallClockSplitDateTimeField(label="Occurred at", widget=AdminSplitDateTime())

    class Meta:
        model = PostmortemTimelineEntry
        fields = ["occurred_at", "phase", "text"]

    def clean_occurred_at(self):
        value = self.cleaned_data["occurred_at"]
        stored = self.instance.occurred_at if self.instance.pk else None
        if value is not None and stored is not None:
            shown = timezone.localtime(stored).replace(tzinfo=None, microsecond=0)
            if value.replace(tzinfo=None, microsecond=0) == shown:
                return stored
        return value
