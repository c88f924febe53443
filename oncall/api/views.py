"""On-call over the API: rotations, shifts and who is on call (read), pages (a paging tool
records them; the paged engineer acknowledges), and the compensation report for finance."""

from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from incidents.api.base import ApiView, ApiViewSet
from incidents.api.conditional import ETagRetrieveMixin
from incidents.api.idempotency import idempotent
from incidents.api.permissions import ActionPermissions
from oncall import selectors, services
from oncall.api import serializers as s
from oncall.api.filters import OnCallNowQuery, PageFilter, RotationFilter, ShiftFilter
from oncall.permissions import VIEW_COMPENSATION_REPORT
from oncall.selectors import COUNTS, CSV_COLUMNS, MONEY_AND_HOURS


class RotationViewSet(ETagRetrieveMixin, mixins.ListModelMixin, ApiViewSet):
    """Weekly on-call rotations with their members in order."""

    serializer_class = s.RotationSerializer
    filterset_class = RotationFilter
    ordering = ("id",)
    ordering_fields = ("id", "name")
    required_permissions = {
        "list": ["oncall.view_rotation"],
        "retrieve": ["oncall.view_rotation"],
    }

    def get_queryset(self):
        return selectors.rotation_list()


class ShiftViewSet(ETagRetrieveMixin, mixins.ListModelMixin, ApiViewSet):
    """On-call shifts: who is primary or secondary for a rotation, and when."""

    serializer_class = s.ShiftSerializer
    filterset_class = ShiftFilter
    ordering = ("starts_at", "id")
    ordering_fields = ("starts_at", "ends_at", "id")
    required_permissions = {"list": ["oncall.view_shift"], "retrieve": ["oncall.view_shift"]}

    def get_queryset(self):
        return selectors.shift_list()


class OnCallNowView(ApiView):
    """Who is on call now, primary and secondary, for every team with an active rotation."""

    required_permissions = {"get": ["oncall.view_shift"]}

    @extend_schema(
        summary="Who is on call (primary and secondary) for each team with an active rotation",
        parameters=[
            OpenApiParameter(
                "team",
                str,
                description="Only this team (its name, any letter case; a name no team has "
                "is a 400).",
            )
        ],
        responses={200: s.OnCallSerializer(many=True)},
    )
    def get(self, request):
        query = OnCallNowQuery(request.query_params)
        if not query.is_valid():
            raise translate_validation(query.errors)
        slots = selectors.on_call_now_by_team(team=query.cleaned_data["team"])
        return Response(s.OnCallSerializer(slots, many=True).data)


class IsPagedEngineer(BasePermission):
    """Only the paged engineer acknowledges a page (the service says so too)."""

    message = "Only the paged engineer can acknowledge this page."

    def has_object_permission(self, request, view, obj) -> bool:
        if view.action != "acknowledge":
            return True
        return obj.engineer_id == request.user.pk


@extend_schema_view(
    create=extend_schema(
        summary="Record a page sent by a paging tool",
        description=(
            "A page is one engineer paged at one moment: the same engineer and `paged_at` "
            "sent again answer 200 with the page already recorded (400 when it was for "
            "another incident)."
        ),
        request=s.PageCreateSerializer,
        responses={201: s.PageSerializer, 200: s.PageSerializer},
    ),
)
class PageViewSet(ETagRetrieveMixin, mixins.ListModelMixin, ApiViewSet):
    """Pages: who was paged, when, for which incident, and when they acknowledged."""

    serializer_class = s.PageSerializer
    permission_classes = [ActionPermissions, IsPagedEngineer]
    filterset_class = PageFilter
    ordering = ("-paged_at", "-id")
    ordering_fields = ("paged_at", "id")
    required_permissions = {
        "list": ["oncall.view_page"],
        "retrieve": ["oncall.view_page"],
        "create": ["oncall.add_page"],
        "acknowledge": ["oncall.view_page", "oncall.change_page"],
    }

    def get_queryset(self):
        return selectors.page_list()

    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = s.PageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        page, created = services.page_from_paging_tool(
            engineer=data["engineer"],
            incident=data["incident"],
            team=data["team"],
            message=data["message"],
            paged_at=data["paged_at"],
            notify_engineer=data["notify_engineer"],
        )
        fresh = selectors.page_list().get(pk=page.pk)
        # The same page sent again (engineer and moment) is the one recorded: 200, not a twin.
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(s.PageSerializer(fresh).data, status=code)

    @extend_schema(
        summary="Acknowledge a page (the paged engineer only)",
        request=None,
        responses={200: s.PageSerializer},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        page = self.get_object()
        services.page_acknowledge(page=page, by=request.user)
        fresh = selectors.page_list().get(pk=page.pk)
        return Response(s.PageSerializer(fresh).data)


def _money(totals: dict) -> dict:
    return {
        name: (
            f"{value:.2f}" if name in MONEY_AND_HOURS else int(value) if name in COUNTS else value
        )
        for name, value in totals.items()
    }


class CompensationView(ApiView):
    """The compensation report: the same rows and columns as the CSV download and the
    ``compensation_report`` command (``oncall.selectors.compensation_report``)."""

    required_permissions = {"get": [VIEW_COMPENSATION_REPORT]}

    @extend_schema(
        summary="On-call compensation per engineer for a period (Finance and managers)",
        parameters=[s.CompensationQuerySerializer],
        responses={200: s.CompensationReportSerializer},
    )
    def get(self, request):
        query = s.CompensationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = selectors.compensation_report(
            start=query.validated_data["start"],
            end=query.validated_data["end"],
            team=query.validated_data["team"] or None,
        )
        period = report.pay_period
        body = {
            "start": report.start.isoformat(),
            "end": report.end.isoformat(),
            "team": report.team,
            "pay_period": (
                {
                    "id": period.pk,
                    "start_date": period.start_date.isoformat(),
                    "end_date": period.end_date.isoformat(),
                    "status": period.status,
                }
                if period is not None
                else None
            ),
            "frozen": report.frozen,
            "columns": list(CSV_COLUMNS),
            # The CSV's rows exactly: CompensationRow.values() is what the CSV writes.
            "rows": [row.values() for row in report.rows],
            "totals": [_money(totals) for totals in report.totals()],
        }
        # Payroll figures: never kept by browsers or proxies (as the report pages).
        return Response(body, headers={"Cache-Control": "no-store"})
