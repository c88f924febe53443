from django_filters import rest_framework as filters

from incidents.api.filters import UTCDateTimeFilter
from oncall.models import Page, PageSource, Shift, ShiftRole, ShiftSource


class ShiftFilter(filters.FilterSet):
    rotation = filters.NumberFilter(field_name="rotation_id")
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
    acknowledged = filters.BooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True
    )
    paged_after = UTCDateTimeFilter(field_name="paged_at", lookup_expr="gte")
    paged_before = UTCDateTimeFilter(field_name="paged_at", lookup_expr="lt")

    class Meta:
        model = Page
        fields = []
