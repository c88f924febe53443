from django import forms
from django.contrib.auth import get_user_model
from django_filters import rest_framework as filters

from incidents.api.filters import (
    NameField,
    NameFilter,
    StrictBooleanFilter,
    UTCDateTimeFilter,
)
from incidents.models import Team
from oncall.models import Page, PageSource, Rotation, Shift, ShiftRole, ShiftSource

User = get_user_model()


class IdFilter(filters.Filter):
    """A row id: a whole number (``1.5`` is a 400, not rotation 1)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class RotationFilter(filters.FilterSet):
    team = NameFilter(field_name="team", model=Team, help_text="The team's name.")

    class Meta:
        model = Rotation
        fields = []


class OnCallNowQuery(forms.Form):
    """``oncall/now/``'s query string. Not a list of rows, so not a filterset; the team is
    still found as every list filter finds a name (a name nothing has is a 400)."""

    team = NameField(model=Team, required=False)


class ShiftFilter(filters.FilterSet):
    rotation = IdFilter(field_name="rotation_id", help_text="The rotation's id.")
    team = NameFilter(field_name="rotation__team", model=Team)
    engineer = NameFilter(field_name="engineer", model=User, attribute="username", what="user")
    role = filters.ChoiceFilter(choices=ShiftRole.choices)
    source = filters.ChoiceFilter(choices=ShiftSource.choices)
    ends_after = UTCDateTimeFilter(
        field_name="ends_at", lookup_expr="gt", help_text="With starts_before: shifts overlapping."
    )
    starts_before = UTCDateTimeFilter(field_name="starts_at", lookup_expr="lt")

    class Meta:
        model = Shift
        fields = []


class PageFilter(filters.FilterSet):
    engineer = NameFilter(field_name="engineer", model=User, attribute="username", what="user")
    incident = filters.CharFilter(field_name="incident__reference")
    team = NameFilter(field_name="team", model=Team)
    source = filters.ChoiceFilter(choices=PageSource.choices)
    acknowledged = StrictBooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True
    )
    paged_after = UTCDateTimeFilter(field_name="paged_at", lookup_expr="gte")
    paged_before = UTCDateTimeFilter(field_name="paged_at", lookup_expr="lt")

    class Meta:
        model = Page
        fields = []
