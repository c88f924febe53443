from django import forms
from django_filters import rest_framework as filters

from incidents.api.filters import StrictBooleanFilter, UTCDateTimeFilter
from oncall.models import Page, PageSource, Shift, ShiftRole, ShiftSource


class IdFilter(filters.Filter):
    """A row id: a whole number (``1.5`` is a 400, not rotation 1)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class ShiftFilter(filters.FilterSet):
    rotation = IdFilter(field_name="rotation_id", help_text="The rotation's id.")
    team = filters.CharFilter(field_name="rotation__team__name", lookup_expr="iexact")
    engineer = filters.CharFilter(field_name="engineer__username", lookup_expr="iexact")
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
    engineer = filters.CharFilter(field_name="engineer__username", lookup_expr="iexact")
    incident = filters.CharFilter(field_name="incident__reference")
    team = filters.CharFilter(field_name="team__name", lookup_expr="iexact")
    source = filters.ChoiceFilter(choices=PageSource.choices)
    acknowledged = StrictBooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True
    )
    paged_after = UTCDateTimeFilter(field_name="paged_at", lookup_expr="gte")
    paged_before = UTCDateTimeFilter(field_name="paged_at", lookup_expr="lt")

    class Meta:
        model = Page
        fields = []
