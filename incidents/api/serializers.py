"""Incidents API representations. Read serializers render what the selectors loaded; input
serializers only check shape and types: every rule is the service's (its ValidationErrors
become 400s with the same messages the admin shows)."""

from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.access import responders
from incidents.models import (
    DetectionMethod,
    Incident,
    IncidentRole,
    IncidentStatus,
    RoleAssignment,
    Service,
    Severity,
    StatusUpdate,
    Team,
    TimelineEvent,
    UpdateAudience,
)
from incidents.selectors import INCIDENT_ROW_MOMENTS, by_name, moment_from

User = get_user_model()


NULL_CHARACTERS = "Null characters are not allowed."


class ReferenceField(serializers.SlugRelatedField):
    """A related object by its exact slug (an incident's reference). A NUL character, which no
    slug holds and PostgreSQL refuses in a query, is a 400 like any other bad value."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            raise serializers.ValidationError(NULL_CHARACTERS, code="null_characters")
        return super().to_internal_value(data)


class NameRelatedField(ReferenceField):
    """A related object named in any letter case (team and service names, usernames)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if "\x00" in data:
            raise serializers.ValidationError(NULL_CHARACTERS, code="null_characters")
        try:
            found = by_name(self.get_queryset(), self.slug_field, data.strip())
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages, code="ambiguous") from None
        if found is None:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return found


def username_field(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


# --- Reference data ---------------------------------------------------------------------------


class SeveritySerializer(serializers.ModelSerializer):
    escalation_level = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )

    class Meta:
        model = Severity
        fields = [
            "name",
            "label",
            "rank",
            "description",
            "examples",
            "is_most_severe",
            "acknowledge_within",
            "update_every",
            "escalate_after",
            "escalation_level",
            "postmortem_rule",
            "color",
            "is_active",
        ]


class TeamSerializer(serializers.ModelSerializer):
    # The chat webhook URL is a credential of sorts: it is never shown.
    engineering_manager = username_field(allow_null=True)

    class Meta:
        model = Team
        fields = ["id", "name", "engineering_manager"]


class ServiceSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Service
        fields = ["id", "name", "team", "description", "is_public"]


# --- Incidents -------------------------------------------------------------------------------


class RoleHolderSerializer(serializers.ModelSerializer):
    user = username_field()
    name = serializers.SerializerMethodField()

    class Meta:
        model = RoleAssignment
        fields = ["role", "user", "name", "assigned_at"]

    def get_name(self, obj) -> str:
        return obj.user.get_full_name() or obj.user.get_username()


class RoleAssignmentSerializer(serializers.ModelSerializer):
    user = username_field()
    assigned_by = username_field(allow_null=True)

    class Meta:
        model = RoleAssignment
        fields = ["role", "user", "assigned_at", "assigned_by"]


class IncidentListSerializer(serializers.ModelSerializer):
    severity = serializers.SlugRelatedField(slug_field="name", read_only=True)
    team = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    services = serializers.SlugRelatedField(slug_field="name", read_only=True, many=True)
    commander = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "reference",
            "title",
            "severity",
            "status",
            "team",
            "services",
            "commander",
            "detection_method",
            "customer_impact",
            *INCIDENT_ROW_MOMENTS,  # started_at ... declared_at, as the plain rows carry them
        ]

    def get_commander(self, obj) -> str | None:
        """The current incident commander's name (``commander_name`` from the selector)."""
        return getattr(obj, "commander_name", None)


def utc_moment(value: datetime | None) -> str | None:
    """A moment as the API writes it (``DateTimeField`` with the API's UTC): ISO 8601 in UTC
    with a ``Z``."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def incident_list_rows(rows: list[dict], services: dict[int, list[str]]) -> list[dict]:
    """The list representation (``IncidentListSerializer``'s fields, same keys in the same
    order, same formats) built from ``selectors.incident_rows`` values: a page of 100
    incidents is rendered without building a model instance or a field per value."""
    return [
        {
            "reference": row["reference"],
            "title": row["title"],
            "severity": row["severity_name"],
            "status": row["status"],
            "team": row["team_name"],
            "services": services.get(row["id"], []),
            "commander": row["commander_name"],
            "detection_method": row["detection_method"],
            "customer_impact": row["customer_impact"],
            **{name: utc_moment(moment_from(row[f"{name}_us"])) for name in INCIDENT_ROW_MOMENTS},
        }
        for row in rows
    ]


class DurationsSerializer(serializers.Serializer):
    time_to_detect = serializers.DurationField(allow_null=True)
    time_to_acknowledge = serializers.DurationField(allow_null=True)
    time_to_mitigate = serializers.DurationField(allow_null=True)
    time_to_resolve = serializers.DurationField(allow_null=True)


class IncidentDetailSerializer(IncidentListSerializer):
    acknowledged_by = username_field(allow_null=True)
    declared_by = username_field(allow_null=True)
    roles = serializers.SerializerMethodField()
    durations = serializers.SerializerMethodField()

    class Meta(IncidentListSerializer.Meta):
        fields = [
            *IncidentListSerializer.Meta.fields,
            "summary",
            "impact_description",
            "users_affected",
            "revenue_impact",
            "revenue_currency",
            "data_loss",
            "data_loss_details",
            "security_related",
            "root_cause",
            "root_cause_category",
            "channel_name",
            "postmortem_required",
            "mitigation_action",
            "acknowledged_by",
            "declared_by",
            "dedup_key",
            "roles",
            "durations",
        ]

    @extend_schema_field(RoleHolderSerializer(many=True))
    def get_roles(self, obj):
        """Who holds each role now (history is on the timeline)."""
        return RoleHolderSerializer(obj.active_role_assignments, many=True).data

    @extend_schema_field(DurationsSerializer)
    def get_durations(self, obj):
        """Derived from the stamped moments; null until both moments exist."""
        return DurationsSerializer(
            {
                "time_to_detect": obj.time_to_detect,
                "time_to_acknowledge": obj.time_to_acknowledge,
                "time_to_mitigate": obj.time_to_mitigate,
                "time_to_resolve": obj.time_to_resolve,
            }
        ).data


class TimelineEventSerializer(serializers.ModelSerializer):
    author = username_field(allow_null=True)
    corrects = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    payload = serializers.DictField(
        read_only=True, help_text="Structured details; the keys depend on the kind."
    )

    class Meta:
        model = TimelineEvent
        fields = [
            "id",
            "kind",
            "occurred_at",
            "recorded_at",
            "author",
            "message",
            "payload",
            "corrects",
        ]


class StatusUpdateSerializer(serializers.ModelSerializer):
    author = username_field(allow_null=True)

    class Meta:
        model = StatusUpdate
        fields = ["id", "audience", "status", "impact", "action", "eta", "author", "posted_at"]


# --- Input -----------------------------------------------------------------------------------


class IncidentDeclareSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    severity = serializers.CharField(
        max_length=20, help_text="An active severity's name, e.g. SEV-2 (any letter case)."
    )
    services = serializers.ListField(
        child=NameRelatedField(slug_field="name", queryset=Service.objects.all()),
        required=False,
        default=list,
        max_length=50,
        help_text="Affected services by name; their owners' on-call engineers are paged.",
    )
    team = NameRelatedField(
        slug_field="name",
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="Responsible team; by default the owner of the first service.",
    )
    detection_method = serializers.ChoiceField(
        choices=DetectionMethod.choices, default=DetectionMethod.ALERT
    )
    summary = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)
    customer_impact = serializers.BooleanField(required=False, default=False)
    impact_description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=10000
    )
    security_related = serializers.BooleanField(required=False, default=False)
    started_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Default: detected_at."
    )
    detected_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Default: now."
    )


class ChecklistSerializer(serializers.Serializer):
    issue_fixed = serializers.BooleanField(default=False)
    metrics_normal = serializers.BooleanField(default=False)
    no_alerts_firing = serializers.BooleanField(default=False)
    stable_for_30_minutes = serializers.BooleanField(default=False)
    customer_impact_verified = serializers.BooleanField(default=False)


class StatusChangeSerializer(serializers.Serializer):
    to_status = serializers.ChoiceField(choices=IncidentStatus.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=400)
    mitigation_action = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=10000
    )
    checklist = ChecklistSerializer(
        required=False,
        allow_null=True,
        default=None,
        help_text="Resolving needs every item true (the runbook's resolution checklist).",
    )


class SeverityChangeSerializer(serializers.Serializer):
    severity = serializers.CharField(max_length=20, help_text="An active severity's name.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=400)


class RoleAssignInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=IncidentRole.choices)
    user = NameRelatedField(
        slug_field="username",
        queryset=responders(),
        help_text="Username of an engineer or manager (finance cannot open incidents).",
    )


class StatusUpdateInputSerializer(serializers.Serializer):
    audience = serializers.ChoiceField(
        choices=UpdateAudience.choices, default=UpdateAudience.INTERNAL
    )
    status = serializers.CharField(max_length=200)
    impact = serializers.CharField(max_length=10000)
    action = serializers.CharField(max_length=10000)
    eta = serializers.CharField(max_length=200)


RESOLVED_WORDS = {"resolved", "resolve", "ok", "recovered"}


class AlertSerializer(serializers.Serializer):
    """A monitoring alert (see docs/api.md)."""

    def validate_status(self, value) -> bool:
        """True for a resolved alert. Any other word is firing: an alert is never lost for
        a status this API does not know."""
        return (value or "").strip().casefold() in RESOLVED_WORDS

    # Generous limits on what only goes into notes: an alert refused for a long line from a
    # template pages nobody. The title keeps the summary's first 200 characters.
    source = serializers.CharField(
        max_length=1000, help_text="What sent it, e.g. alertmanager or grafana."
    )
    dedup_key = serializers.CharField(
        max_length=255,
        help_text="Alerts with the same key add to the open incident opened by the first.",
    )
    summary = serializers.CharField(
        max_length=10000,
        help_text="The new incident's title (its first 200 characters); kept whole in the "
        "timeline note.",
    )
    status = serializers.CharField(
        max_length=50,
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        help_text="`resolved` (also `resolve`, `ok` or `recovered`, any letter case): the "
        "condition cleared. It never opens an incident nor pages anyone; it adds a note to the "
        "open incident with the key, if there is one. Anything else, or nothing: firing.",
    )
    severity = serializers.CharField(
        max_length=50,
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        help_text="A hint: a severity's name or label in any letter case (SEV-1, critical). "
        "Anything else, or nothing (absent, empty or null): the least severe active level.",
    )
    severity_hint = serializers.CharField(
        max_length=50,
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        help_text="Another name for `severity`, for senders that call it the severity hint; "
        "`severity` wins when both are given.",
    )
    service = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        help_text="The affected service's name (any letter case); its on-call is paged.",
    )
    details = serializers.CharField(
        max_length=10000,
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        help_text="Free text; becomes the incident's summary.",
    )


class AlertResultSerializer(serializers.Serializer):
    created = serializers.BooleanField(
        help_text="True: a new incident was opened; false: added to the open one."
    )
    incident = IncidentDetailSerializer(
        allow_null=True,
        help_text="Null only for a resolved alert with no open incident: nothing changed.",
    )
    event = TimelineEventSerializer(
        allow_null=True,
        help_text="The note the alert wrote on the timeline (null when nothing changed).",
    )
