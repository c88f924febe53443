"""The public status page, included at ``status/`` by ``config.urls`` (no login)."""

from django.urls import path

from incidents import status_page

app_name = "status"

urlpatterns = [
    path("", status_page.status_page, name="page"),
    path("feed.atom", status_page.StatusFeed(), name="feed"),
    path("incidents/<str:reference>/", status_page.status_incident, name="incident"),
]
