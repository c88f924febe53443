"""Post-mortems (read) and action items (read; owners update status and tracker link)."""

from datetime import date

from django.db import transaction
from django.db.models import DateField, Value
from django.db.models.functions import Coalesce
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from incidents.access import is_manager
from incidents.api.base import ApiViewSet
from incidents.api.conditional import (
    ETagRetrieveMixin,
    check_if_match,
    checks_if_match,
    etag_for,
)
from incidents.api.permissions import ActionPermissions
from postmortems import selectors, services
from postmortems.api import serializers as s
from postmortems.api.filters import ActionItemFilter, PostmortemFilter

# Items without a due date sort after every dated one (cursor pagination needs a value).
NO_DUE_DATE = date(9999, 12, 31)


@extend_schema_view(
    retrieve=extend_schema(
        parameters=[
            OpenApiParameter(
                "reference", str, OpenApiParameter.PATH, description="The incident's reference."
            )
        ]
    )
)
class PostmortemViewSet(ETagRetrieveMixin, mixins.ListModelMixin, ApiViewSet):
    """Post-mortems, looked up by their incident's reference."""

    lookup_field = "incident__reference"
    lookup_url_kwarg = "reference"
    filterset_class = PostmortemFilter
    ordering = ("-scheduled_at", "-id")
    ordering_fields = ("scheduled_at", "draft_due_at", "publish_due_at", "id")
    required_permissions = {
        "list": ["postmortems.view_postmortem"],
        "retrieve": ["postmortems.view_postmortem"],
    }

    def get_queryset(self):
        if self.action == "list":
            return selectors.postmortem_list()
        return selectors.postmortem_list_with_details()

    def get_serializer_class(self):
        if self.action == "list":
            return s.PostmortemListSerializer
        return s.PostmortemDetailSerializer


class IsOwnerOrManager(BasePermission):
    """Engineers change their own action items; managers anyone's (as on the pages)."""

    message = "Only the item's owner or a manager can change it."

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return is_manager(request.user) or obj.owner_id == request.user.pk


@extend_schema_view(
    partial_update=extend_schema(
        summary="Update an action item's status and tracker link (its owner, or a manager)",
        request=s.ActionItemUpdateSerializer,
        description=(
            "With `If-Match` (the `ETag` of a read), the change applies only if the item is "
            "still that version; otherwise `412` and nothing changes. The answer carries the "
            "new `ETag`."
        ),
        responses={200: s.ActionItemSerializer},
    )
)
class ActionItemViewSet(
    ETagRetrieveMixin, mixins.ListModelMixin, mixins.UpdateModelMixin, ApiViewSet
):
    """Action items from post-mortems, with their owner, due date and status."""

    serializer_class = s.ActionItemSerializer
    permission_classes = [ActionPermissions, IsOwnerOrManager]
    http_method_names = ["get", "patch", "head", "options"]
    filterset_class = ActionItemFilter
    ordering = ("due_sort", "id")
    ordering_fields = ("due_sort", "created_at", "id")
    required_permissions = {
        "list": ["postmortems.view_actionitem"],
        "retrieve": ["postmortems.view_actionitem"],
        "partial_update": ["postmortems.view_actionitem", "postmortems.change_actionitem"],
    }

    def get_queryset(self):
        return selectors.action_item_list().annotate(
            due_sort=Coalesce("due_date", Value(NO_DUE_DATE), output_field=DateField())
        )

    @checks_if_match
    def partial_update(self, request, *args, **kwargs):
        item = self.get_object()
        serializer = s.ActionItemUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():
            # The row locked while the version is compared and the change made.
            current = self.get_queryset().select_for_update(of=("self",)).get(pk=item.pk)
            check_if_match(request, s.ActionItemSerializer(current).data)
            item = current
            if "tracker_url" in data:
                services.action_item_update(
                    item=item, by=request.user, tracker_url=data["tracker_url"]
                )
            # PATCH sets a value: asking for the status the item has already changes nothing.
            if "status" in data and data["status"] != item.status:
                services.action_item_set_status(item=item, status=data["status"], by=request.user)
        fresh = s.ActionItemSerializer(self.get_queryset().get(pk=item.pk)).data
        return Response(fresh, headers={"ETag": etag_for(fresh)})
