from datetime import date

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.api.serializers import NameRelatedField, ReferenceField
from incidents.models import Incident, Team
from oncall.models import Page, Rotation, RotationMember, Shift
from oncall.selectors import MAX_REPORT_DAYS, REPORT_TOO_LATE, REPORT_TOO_LONG

User = get_user_model()


def username_field(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


class PersonSerializer(serializers.Serializer):
    username = serializers.CharField(source="get_username")
    name = serializers.SerializerMethodField()

    def get_name(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


class RotationMemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    name = serializers.SerializerMethodField()

    class Meta:
        model = RotationMember
        fields = ["position", "username", "name"]

    def get_name(self, obj) -> str:
        return obj.user.get_full_name() or obj.user.get_username()


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^\d{2}:\d{2}:\d{2}$",
        "example": "09:00:00",
        "description": "Wall-clock time in the rotation's time zone (no offset).",
    }
)
class WallClockTimeField(serializers.TimeField):
    pass


class RotationSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="name", read_only=True)
    handoff_time = WallClockTimeField(read_only=True, format="%H:%M:%S")
    members = RotationMemberSerializer(many=True, read_only=True)

    class Meta:
        model = Rotation
        fields = [
            "id",
            "name",
            "team",
            "time_zone",
            "handoff_weekday",
            "handoff_time",
            "starts_on",
            "has_secondary",
            "page_ack_within",
            "is_active",
            "members",
        ]


class ShiftSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="rotation.team.name", read_only=True)
    engineer = username_field()
    covered_engineer = username_field(allow_null=True)

    class Meta:
        model = Shift
        fields = [
            "id",
            "rotation",
            "team",
            "engineer",
            "role",
            "starts_at",
            "ends_at",
            "source",
            "covered_engineer",
            "reason",
        ]


class OnCallSerializer(serializers.Serializer):
    team = serializers.CharField(source="team.name")
    primary = PersonSerializer(allow_null=True)
    secondary = PersonSerializer(allow_null=True)


class PageSerializer(serializers.ModelSerializer):
    engineer = username_field()
    incident = serializers.SlugRelatedField(slug_field="reference", read_only=True, allow_null=True)
    team = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)

    class Meta:
        model = Page
        fields = [
            "id",
            "engineer",
            "incident",
            "team",
            "paged_at",
            "ack_due_at",
            "acknowledged_at",
            "source",
            "message",
            "escalation_level",
            "escalated_from",
        ]


class PageCreateSerializer(serializers.Serializer):
    """A page the paging tool sent."""

    engineer = NameRelatedField(
        slug_field="username", queryset=User.objects.all(), help_text="Who was paged."
    )
    incident = ReferenceField(
        slug_field="reference",
        queryset=Incident.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="The incident's reference, if the page is about one.",
    )
    team = NameRelatedField(
        slug_field="name",
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="Whose on-call was paged; default: the incident's team.",
    )
    message = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    paged_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Default: now."
    )
    notify_engineer = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also email the engineer from IncidentDesk (off: the paging tool did).",
    )


class CompensationQuerySerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First day (in the project's time zone).")
    end = serializers.DateField(help_text="Last day, inclusive; at most 366 days after start.")
    team = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=100, help_text="Team name."
    )

    def validate(self, attrs):
        # Limits of the request, not rules of the report (those are the selector's): a
        # bounded amount of work per request, and a day after the end that exists.
        if attrs["end"] >= date.max:
            raise serializers.ValidationError({"end": REPORT_TOO_LATE})
        if (attrs["end"] - attrs["start"]).days >= MAX_REPORT_DAYS:
            raise serializers.ValidationError({"end": REPORT_TOO_LONG})
        return attrs


class CompensationRowSerializer(serializers.Serializer):
    """One engineer's line: exactly the CSV's columns. Money and hours are strings with two
    decimals; counts are integers."""

    username = serializers.CharField()
    full_name = serializers.CharField(allow_blank=True)
    team = serializers.CharField(allow_blank=True)
    on_call_hours = serializers.DecimalField(max_digits=12, decimal_places=2)
    stipend = serializers.DecimalField(max_digits=12, decimal_places=2)
    sev1_incidents = serializers.IntegerField()
    sev1_bonus = serializers.DecimalField(max_digits=12, decimal_places=2)
    overnight_pages = serializers.IntegerField()
    comp_time_hours = serializers.DecimalField(max_digits=12, decimal_places=2)
    total_pay = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()


class CompensationTotalsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    on_call_hours = serializers.DecimalField(max_digits=12, decimal_places=2)
    stipend = serializers.DecimalField(max_digits=12, decimal_places=2)
    sev1_incidents = serializers.IntegerField()
    sev1_bonus = serializers.DecimalField(max_digits=12, decimal_places=2)
    overnight_pages = serializers.IntegerField()
    comp_time_hours = serializers.DecimalField(max_digits=12, decimal_places=2)
    total_pay = serializers.DecimalField(max_digits=12, decimal_places=2)


class PayPeriodRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    status = serializers.CharField()


class CompensationReportSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    team = serializers.CharField(allow_null=True)
    pay_period = PayPeriodRefSerializer(
        allow_null=True, help_text="The pay period with exactly these dates, if any."
    )
    frozen = serializers.BooleanField(help_text="True: a closed period's stored figures.")
    columns = serializers.ListField(child=serializers.CharField(), help_text="CSV columns.")
    rows = CompensationRowSerializer(many=True)
    totals = CompensationTotalsSerializer(many=True, help_text="One line per currency.")
