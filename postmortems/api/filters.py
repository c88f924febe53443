from django.utils import timezone
from django_filters import rest_framework as filters

from incidents.api.filters import StrictBooleanFilter, UTCDateTimeFilter
from postmortems.models import (
    ActionItem,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    Postmortem,
    PostmortemStatus,
)
from postmortems.selectors import any_stage_overdue_q, item_overdue_q


class PostmortemFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=PostmortemStatus.choices)
    team = filters.CharFilter(field_name="incident__team__name", lookup_expr="iexact")
    severity = filters.CharFilter(field_name="incident__severity__name", lookup_expr="iexact")
    owner = filters.CharFilter(field_name="owner__username", lookup_expr="iexact")
    overdue = StrictBooleanFilter(method="filter_overdue", help_text="Any deadline missed.")
    scheduled_after = UTCDateTimeFilter(field_name="scheduled_at", lookup_expr="gte")
    scheduled_before = UTCDateTimeFilter(field_name="scheduled_at", lookup_expr="lt")

    class Meta:
        model = Postmortem
        fields = []

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        query = any_stage_overdue_q(timezone.now())
        return queryset.filter(query) if value else queryset.exclude(query)


class ActionItemFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=ActionItemStatus.choices)
    kind = filters.ChoiceFilter(choices=ActionItemKind.choices)
    priority = filters.ChoiceFilter(choices=ActionItemPriority.choices)
    owner = filters.CharFilter(field_name="owner__username", lookup_expr="iexact")
    team = filters.CharFilter(field_name="owner__profile__team__name", lookup_expr="iexact")
    postmortem = filters.CharFilter(
        field_name="postmortem__incident__reference", help_text="Incident reference."
    )
    overdue = StrictBooleanFilter(method="filter_overdue")
    due_after = filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_before = filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = ActionItem
        fields = []

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        query = item_overdue_q(timezone.now())
        return queryset.filter(query) if value else queryset.exclude(query)
