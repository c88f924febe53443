from django.urls import path
from rest_framework.routers import SimpleRouter

from oncall.api import views

router = SimpleRouter()
router.register("rotations", views.RotationViewSet, basename="rotation")
router.register("shifts", views.ShiftViewSet, basename="shift")
router.register("pages", views.PageViewSet, basename="page")

urlpatterns = [
    path("oncall/now/", views.OnCallNowView.as_view(), name="oncall-now"),
    path("compensation/", views.CompensationView.as_view(), name="compensation"),
]
