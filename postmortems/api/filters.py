from django.contrib.auth import get_user_model
from django.utils import timezone
from django_filters import rest_framework as filters

from incidents.api.filters import NameFilter, StrictBooleanFilter, UTCDateTimeFilter
from incidents.models import Service, Severity, Team
from incidents.selectors import affects_service_q
from postmortems.models import (
    ActionItem,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    Postmortem,
    PostmortemStatus,
)
from postmortems.selectors import any_stage_overdue_q, item_overdue_q

User = get_user_model()


class PostmortemFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=PostmortemStatus.choices)
    team = NameFilter(field_name="incident__team", model=Team)
    severity = NameFilter(field_name="incident__severity", model=Severity, what="severity")
    service = NameFilter(
        method="filter_service", model=Service, help_text="A service its incident affected."
    )
    owner = NameFilter(field_name="owner", model=User, attribute="username", what="user")
    overdue = StrictBooleanFilter(method="filter_overdue", help_text="Any deadline missed.")
    scheduled_after = UTCDateTimeFilter(field_name="scheduled_at", lookup_expr="gte")
    scheduled_before = UTCDateTimeFilter(field_name="scheduled_at", lookup_expr="lt")

    class Meta:
        model = Postmortem
        fields = []

    def filter_service(self, queryset, name, value):
        return queryset.filter(affects_service_q(value, incident="incident_id"))

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        query = any_stage_overdue_q(timezone.now())
        return queryset.filter(query) if value else queryset.exclude(query)


class ActionItemFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=ActionItemStatus.choices)
    kind = filters.ChoiceFilter(choices=ActionItemKind.choices)
    priority = filters.ChoiceFilter(choices=ActionItemPriority.choices)
    owner = NameFilter(field_name="owner", model=User, attribute="username", what="user")
    team = NameFilter(field_name="owner__profile__team", model=Team)
    severity = NameFilter(
        field_name="postmortem__incident__severity",
        model=Severity,
        what="severity",
        help_text="Its incident's severity name, e.g. SEV-1.",
    )
    service = NameFilter(
        method="filter_service", model=Service, help_text="A service its incident affected."
    )
    postmortem = filters.CharFilter(
        field_name="postmortem__incident__reference", help_text="Incident reference."
    )
    overdue = StrictBooleanFilter(method="filter_overdue")
    due_after = filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_before = filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = ActionItem
        fields = []

    def filter_service(self, queryset, name, value):
        return queryset.filter(affects_service_q(value, incident="postmortem__incident_id"))

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        query = item_overdue_q(timezone.now())
        return queryset.filter(query) if value else queryset.exclude(query)
