from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from postmortems.models import (
    ActionItem,
    ActionItemStatus,
    FiveWhy,
    Postmortem,
    PostmortemTimelineEntry,
)


def username_field(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


class ActionItemSerializer(serializers.ModelSerializer):
    postmortem = serializers.CharField(
        source="postmortem.incident.reference", read_only=True, help_text="Incident reference."
    )
    owner = username_field(allow_null=True)
    team = serializers.SerializerMethodField()
    completed_by = username_field(allow_null=True)
    is_overdue = serializers.BooleanField(
        read_only=True, help_text="Open past the end of its due day (project time zone)."
    )

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "postmortem",
            "title",
            "description",
            "owner",
            "team",
            "due_date",
            "kind",
            "priority",
            "status",
            "tracker_url",
            "created_at",
            "completed_at",
            "completed_by",
            "is_overdue",
        ]

    def get_team(self, obj) -> str | None:
        """The owner's team (the team doing the work)."""
        profile = getattr(obj.owner, "profile", None) if obj.owner_id else None
        return profile.team.name if profile and profile.team else None


class ActionItemUpdateSerializer(serializers.Serializer):
    """What an item's owner changes from another tool: its status and tracker link."""

    status = serializers.ChoiceField(choices=ActionItemStatus.choices, required=False)
    tracker_url = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="The ticket's full http(s) address; empty to remove the link.",
    )

    def validate(self, attrs):
        # A client sending other fields must not be told they changed.
        if hasattr(self.initial_data, "keys"):
            other = sorted(set(self.initial_data.keys()) - set(self.fields))
            if other:
                raise serializers.ValidationError(
                    {name: ["Only status and tracker_url can be changed here."] for name in other}
                )
        return attrs


class TimelineEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = PostmortemTimelineEntry
        fields = ["occurred_at", "phase", "text"]


class FiveWhySerializer(serializers.ModelSerializer):
    class Meta:
        model = FiveWhy
        fields = ["position", "question", "answer"]


class PostmortemListSerializer(serializers.ModelSerializer):
    incident = serializers.CharField(source="incident.reference", read_only=True)
    title = serializers.CharField(source="incident.title", read_only=True)
    severity = serializers.CharField(source="incident.severity.name", read_only=True)
    team = serializers.SerializerMethodField()
    owner = username_field(allow_null=True)
    draft_overdue = serializers.BooleanField(read_only=True)
    review_overdue = serializers.BooleanField(read_only=True)
    publish_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Postmortem
        fields = [
            "incident",
            "title",
            "severity",
            "team",
            "status",
            "owner",
            "scheduled_at",
            "deadlines_from",
            "draft_due_at",
            "review_due_at",
            "publish_due_at",
            "draft_started_at",
            "submitted_at",
            "review_meeting_at",
            "published_at",
            "draft_overdue",
            "review_overdue",
            "publish_overdue",
        ]

    def get_team(self, obj) -> str | None:
        return obj.incident.team.name if obj.incident.team_id else None


class PostmortemDetailSerializer(PostmortemListSerializer):
    reviewers = username_field(many=True)
    timeline = TimelineEntrySerializer(source="timeline_entries", many=True, read_only=True)
    five_whys = FiveWhySerializer(many=True, read_only=True)
    action_items = serializers.SerializerMethodField()

    class Meta(PostmortemListSerializer.Meta):
        fields = [
            *PostmortemListSerializer.Meta.fields,
            "reviewers",
            "summary",
            "impact",
            "root_cause",
            "what_went_well",
            "what_could_be_improved",
            "lessons_learned",
            "timeline",
            "five_whys",
            "action_items",
        ]

    @extend_schema_field(ActionItemSerializer(many=True))
    def get_action_items(self, obj):
        return ActionItemSerializer(obj.action_items.all(), many=True).data
