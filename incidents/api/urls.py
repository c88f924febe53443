from django.urls import path
from rest_framework.routers import SimpleRouter

from incidents.api import views

router = SimpleRouter()
router.register("severities", views.SeverityViewSet, basename="severity")
router.register("teams", views.TeamViewSet, basename="team")
router.register("services", views.ServiceViewSet, basename="service")
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register(
    r"incidents/(?P<incident_reference>[^/.]+)/timeline",
    views.TimelineViewSet,
    basename="incident-timeline",
)

urlpatterns = [
    path("alerts/", views.AlertView.as_view(), name="alerts"),
]
