from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("declare/", views.incident_declare, name="declare"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/timeline/", views.incident_timeline, name="timeline"),
    path("<int:pk>/runbooks/", views.runbook_start, name="runbook_start"),
    path(
        "<int:pk>/runbooks/<int:run_id>/steps/<int:position>/",
        views.runbook_step,
        name="runbook_step",
    ),
    path("<int:pk>/<slug:action>/", views.incident_act, name="act"),
]
