"""Incidents over the API. Thin: parse with an input serializer, call the service or selector
the admin uses, render. Permissions are the groups' model permissions (``ActionPermissions``)."""

from django.db import connection
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from incidents import selectors, services
from incidents.api import serializers as s
from incidents.api.base import ApiView, ApiViewSet, json_page
from incidents.api.conditional import ETagRetrieveMixin
from incidents.api.filters import IncidentFilter, ServiceFilter, TimelineFilter
from incidents.api.idempotency import idempotent
from incidents.models import Incident, TimelineEvent
from incidents.services import ResolutionChecklist

VIEW_INCIDENT = "incidents.view_incident"
CHANGE_INCIDENT = "incidents.change_incident"


class SeverityViewSet(ETagRetrieveMixin, mixins.ListModelMixin, ApiViewSet):
    """Severity levels, most severe first (managers edit them in the admin)."""

    serializer_class = s.SeveritySerializer
    lookup_field = "name"
    pagination_class = None  # a handful of rows
    filter_backends = []
    required_permissions = {
        "list": ["incidents.view_severity"],
        "retrieve": ["incidents.view_severity"],
    }

    def get_queryset(self):
        return selectors.severity_list()


class TeamViewSet(ETagRetrieveMixin, mixins.ListModelMixin, ApiViewSet):
    """Teams: their names, engineering manager and services."""

    serializer_class = s.TeamSerializer
    ordering = ("name", "id")
    ordering_fields = ("name", "id")
    required_permissions = {"list": ["incidents.view_team"], "retrieve": ["incidents.view_team"]}

    def get_queryset(self):
        return selectors.team_list()


class ServiceViewSet(ETagRetrieveMixin, mixins.ListModelMixin, ApiViewSet):
    """Services, each with the team that owns it."""

    serializer_class = s.ServiceSerializer
    filterset_class = ServiceFilter
    ordering = ("name", "id")
    ordering_fields = ("name", "id")
    required_permissions = {
        "list": ["incidents.view_service"],
        "retrieve": ["incidents.view_service"],
    }

    def get_queryset(self):
        return selectors.service_list()


REFERENCE = OpenApiParameter(
    "reference", str, OpenApiParameter.PATH, description="The incident's reference."
)


@extend_schema_view(
    list=extend_schema(summary="List incidents"),
    retrieve=extend_schema(summary="One incident", parameters=[REFERENCE]),
)
class IncidentViewSet(ETagRetrieveMixin, mixins.ListModelMixin, ApiViewSet):
    """Incidents: list, read, declare, and act on one (status, severity, roles, updates)."""

    lookup_field = "reference"
    filterset_class = IncidentFilter
    ordering = ("-started_at", "-id")
    ordering_fields = ("started_at", "detected_at", "declared_at", "severity_rank", "id")
    required_permissions = {
        "list": [VIEW_INCIDENT],
        "retrieve": [VIEW_INCIDENT],
        "create": ["incidents.add_incident"],
        "change_status": [VIEW_INCIDENT, CHANGE_INCIDENT],
        "change_severity": [VIEW_INCIDENT, CHANGE_INCIDENT],
        "assign_role": [VIEW_INCIDENT, CHANGE_INCIDENT, "incidents.add_roleassignment"],
        "post_update": [VIEW_INCIDENT, CHANGE_INCIDENT, "incidents.add_statusupdate"],
    }

    def get_queryset(self):
        if self.action == "list":
            return selectors.incident_rows()
        return selectors.incident_detail()

    def list(self, request, *args, **kwargs):
        # The same JSON as ``IncidentListSerializer`` would write (it documents the rows, and
        # a test holds the two equal), without building an instance or a field per value:
        # on PostgreSQL the page's rows arrive already written as JSON beside the keys the
        # paginator reads; elsewhere (and for the browsable API) as plain values.
        if connection.vendor == "postgresql" and isinstance(
            request.accepted_renderer, JSONRenderer
        ):
            rows = self.paginate_queryset(self.filter_queryset(selectors.incident_page_keys()))
            return json_page(self.paginator, [row["body"] for row in rows])
        rows = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        services = selectors.incident_row_services(rows)
        return self.get_paginated_response(s.incident_list_rows(rows, services))

    def get_serializer_class(self):
        return s.IncidentListSerializer if self.action == "list" else s.IncidentDetailSerializer

    def _detail(self, incident: Incident) -> dict:
        fresh = selectors.incident_detail().get(pk=incident.pk)
        return s.IncidentDetailSerializer(fresh, context=self.get_serializer_context()).data

    def _location(self, incident: Incident) -> str:
        return self.request.build_absolute_uri(
            reverse("api:incident-detail", kwargs={"reference": incident.reference})
        )

    @extend_schema(
        summary="Declare an incident",
        request=s.IncidentDeclareSerializer,
        responses={201: s.IncidentDetailSerializer},
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.IncidentDeclareSerializer, request)
        incident = services.incident_declare(declared_by=request.user, **data)
        return Response(
            self._detail(incident),
            status=status.HTTP_201_CREATED,
            headers={"Location": self._location(incident)},
        )

    @extend_schema(
        summary="Change the status (resolving needs the checklist)",
        request=s.StatusChangeSerializer,
        responses={200: s.IncidentDetailSerializer},
        parameters=[REFERENCE],
    )
    @action(detail=True, methods=["post"], url_path="status")
    def change_status(self, request, reference=None):
        incident = self.get_object()
        data = _valid(s.StatusChangeSerializer, request)
        checklist = data.pop("checklist")
        incident = services.incident_change_status(
            incident=incident,
            by=request.user,
            checklist=ResolutionChecklist(**checklist) if checklist is not None else None,
            **data,
        )
        return Response(self._detail(incident))

    @extend_schema(
        summary="Change the severity",
        request=s.SeverityChangeSerializer,
        responses={200: s.IncidentDetailSerializer},
        parameters=[REFERENCE],
    )
    @action(detail=True, methods=["post"], url_path="severity")
    def change_severity(self, request, reference=None):
        incident = self.get_object()
        data = _valid(s.SeverityChangeSerializer, request)
        incident = services.incident_change_severity(incident=incident, by=request.user, **data)
        return Response(self._detail(incident))

    @extend_schema(
        summary="Assign or hand over a role",
        request=s.RoleAssignInputSerializer,
        responses={201: s.RoleAssignmentSerializer},
        parameters=[REFERENCE],
    )
    @action(detail=True, methods=["post"], url_path="roles")
    @idempotent
    def assign_role(self, request, reference=None):
        incident = self.get_object()
        data = _valid(s.RoleAssignInputSerializer, request)
        assignment = services.role_assign(incident=incident, by=request.user, **data)
        return Response(s.RoleAssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Post a status update (Status / Impact / Action / ETA)",
        request=s.StatusUpdateInputSerializer,
        responses={201: s.StatusUpdateSerializer},
        parameters=[REFERENCE],
    )
    @action(detail=True, methods=["post"], url_path="updates")
    @idempotent
    def post_update(self, request, reference=None):
        incident = self.get_object()
        data = _valid(s.StatusUpdateInputSerializer, request)
        update = services.status_update_post(incident=incident, author=request.user, **data)
        return Response(s.StatusUpdateSerializer(update).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(
        summary="An incident's timeline, oldest first",
        parameters=[
            OpenApiParameter(
                "incident_reference",
                str,
                OpenApiParameter.PATH,
                description="The incident's reference.",
            )
        ],
    )
)
class TimelineViewSet(mixins.ListModelMixin, ApiViewSet):
    """The append-only timeline of one incident, page by page."""

    serializer_class = s.TimelineEventSerializer
    filterset_class = TimelineFilter
    ordering = ("occurred_at", "id")
    ordering_fields = ("occurred_at", "id")
    required_permissions = {"list": [VIEW_INCIDENT, "incidents.view_timelineevent"]}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return TimelineEvent.objects.none()
        incident = get_object_or_404(Incident, reference=self.kwargs["incident_reference"])
        return selectors.incident_timeline(incident=incident)


class AlertView(ApiView):
    """Alert intake for monitoring systems."""

    required_permissions = {"post": ["incidents.add_incident"]}

    @extend_schema(
        summary="Take in an alert: open an incident or add to the open one with its dedup key",
        request=s.AlertSerializer,
        responses={201: s.AlertResultSerializer, 200: s.AlertResultSerializer},
        tags=["alerts"],
    )
    @idempotent
    def post(self, request):
        data = _valid(s.AlertSerializer, request)
        outcome = services.alert_receive(
            source=data["source"],
            dedup_key=data["dedup_key"],
            summary=data["summary"],
            # A sender's null is the field left out (a template with a missing label).
            severity_hint=data["severity"] or data["severity_hint"] or "",
            service=data["service"] or "",
            details=data["details"] or "",
            resolved=data["status"],
            by=request.user,
        )
        if outcome.incident is None:  # resolved, and nothing open to tell
            return Response({"created": False, "incident": None, "event": None})
        incident = selectors.incident_detail().get(pk=outcome.incident.pk)
        body = s.AlertResultSerializer(
            {"created": outcome.created, "incident": incident, "event": outcome.event}
        ).data
        if outcome.created:
            location = request.build_absolute_uri(
                reverse("api:incident-detail", kwargs={"reference": incident.reference})
            )
            return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})
        return Response(body, status=status.HTTP_200_OK)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
