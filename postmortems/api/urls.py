from rest_framework.routers import SimpleRouter

from postmortems.api import views

router = SimpleRouter()
router.register("postmortems", views.PostmortemViewSet, basename="postmortem")
router.register("action-items", views.ActionItemViewSet, basename="action-item")

urlpatterns: list = []
