from datetime import UTC

from django import forms
from django.core.exceptions import ValidationError
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.drainage import set_override
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.filters import OrderingFilter

from incidents.models import (
    DetectionMethod,
    Incident,
    IncidentStatus,
    Service,
    Severity,
    Team,
    TimelineEvent,
    TimelineEventKind,
)
from incidents.models.incident import OPEN_STATUSES
from incidents.selectors import affects_service_q, by_name

UNKNOWN_NAME = "No %(what)s is named “%(value)s”."


class NameField(forms.CharField):
    """A row named in the query string (a team, a service, a severity, a username), found as
    the rest of the API finds names: the exact name, else the only one equal in any letter
    case. Several differing only in case, or none, is a 400 naming the parameter."""

    def __init__(self, *, model, attribute: str = "name", what: str = "", **kwargs):
        self.model, self.attribute = model, attribute
        self.what = what or model._meta.verbose_name
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        try:
            found = by_name(self.model._default_manager.all(), self.attribute, value)
        except ValidationError as error:
            raise ValidationError(
                "%(reason)s", code="ambiguous", params={"reason": error.messages[0]}
            ) from None
        if found is None:
            # The name as a parameter, never inside the message: django-filter formats the
            # message with its params, and a "%" in what was sent would break that (a 500).
            raise ValidationError(
                UNKNOWN_NAME, code="unknown", params={"what": self.what, "value": value}
            )
        return found


class NameFilter(filters.Filter):
    """Rows whose ``field_name`` is the row named (``NameField``)."""

    field_class = NameField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # In the schema: a string with its help text (the path is to a row, not a name).
        schema = {"type": "string"}
        if self.extra.get("help_text"):
            schema["description"] = self.extra["help_text"]
        set_override(self, "field", schema)

    def filter(self, qs, value):
        if value is None:
            return qs
        if self.method is not None:
            return super().filter(qs, value)
        return qs.filter(**{self.field_name: value})


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, which leaves a list as it is when the request names none of
    its filterset's filters: the same rows, without building a form and a copy of every
    filter on each request."""

    def filter_queryset(self, request, queryset, view):
        # A list's filters filter lists: DRF's get_object() passes through here too, and a
        # detail read or an action must find its row whatever the query string says.
        if getattr(view, "action", "list") != "list":
            return queryset
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and request.query_params.keys().isdisjoint(
            filterset_class.base_filters
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)


class StrictOrderingFilter(OrderingFilter):
    """DRF's ordering, but a value that is not one of the list's fields is a 400 naming them,
    not the default order answered as if it had been asked for."""

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", "list") != "list":
            return queryset  # one row has no order (see FilterBackend)
        return super().filter_queryset(request, queryset, view)

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            fields = [param.strip() for param in params.split(",")]
            valid = self.remove_invalid_fields(queryset, fields, view, request)
            if len(valid) != len([f for f in fields if f]):
                allowed = [
                    name for name, _ in self.get_valid_fields(queryset, view, {"request": request})
                ]
                raise DRFValidationError(
                    {
                        self.ordering_param: [
                            f"Use one of: {', '.join(sorted(allowed))} (- for descending)."
                        ]
                    }
                )
        return super().get_ordering(request, queryset, view)


class UTCIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 moment turned into UTC before it reaches the database (PostgreSQL refuses
    offsets beyond ±15:59 that Python accepts); a moment without an offset is UTC."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return value
        try:
            return value.astimezone(UTC)
        except OverflowError as error:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from error


class UTCDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


NOT_A_BOOLEAN = "Use true or false."


class StrictBooleanField(forms.NullBooleanField):
    """``true``/``false`` (or ``1``/``0``, any letter case); anything else is an error rather
    than django-filter's "no filter", which would answer ``?open=yes`` with closed ones too."""

    def to_python(self, value):
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return value
        chosen = {"true": True, "1": True, "false": False, "0": False}.get(str(value).lower())
        if chosen is None:
            raise ValidationError(NOT_A_BOOLEAN, code="invalid")
        return chosen

    def validate(self, value):
        pass


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        # The value as given: django-filter's boolean widget turns what it does not know into
        # None before the field sees it.
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


class IncidentFilter(filters.FilterSet):
    severity = NameFilter(
        field_name="severity",
        model=Severity,
        what="severity",
        help_text="Severity name, e.g. SEV-1.",
    )
    status = filters.MultipleChoiceFilter(
        choices=IncidentStatus.choices, help_text="Repeat for several: ?status=a&status=b."
    )
    open = StrictBooleanFilter(method="filter_open", help_text="Only open (or closed) ones.")
    team = NameFilter(field_name="team", model=Team, help_text="Responsible team's name.")
    service = NameFilter(
        method="filter_service", model=Service, help_text="An affected service's name."
    )
    detection_method = filters.ChoiceFilter(choices=DetectionMethod.choices)
    dedup_key = filters.CharFilter(help_text="Incidents opened by alerts with this key.")
    started_after = UTCDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = UTCDateTimeFilter(field_name="started_at", lookup_expr="lt")
    resolved_after = UTCDateTimeFilter(field_name="resolved_at", lookup_expr="gte")
    resolved_before = UTCDateTimeFilter(field_name="resolved_at", lookup_expr="lt")

    class Meta:
        model = Incident
        fields = []

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        if value:
            return queryset.filter(status__in=OPEN_STATUSES)
        return queryset.exclude(status__in=OPEN_STATUSES)

    def filter_service(self, queryset, name, value):
        return queryset.filter(affects_service_q(value))


class ServiceFilter(filters.FilterSet):
    team = NameFilter(field_name="team", model=Team, help_text="Owning team's name.")

    class Meta:
        model = Service
        fields = []


class TimelineFilter(filters.FilterSet):
    kind = filters.MultipleChoiceFilter(choices=TimelineEventKind.choices)
    after = UTCDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    before = UTCDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = TimelineEvent
        fields = []
