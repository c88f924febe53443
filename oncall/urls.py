from django.urls import path

from oncall import views

app_name = "oncall"

urlpatterns = [
    path("compensation/", views.compensation, name="compensation"),
    path(
        "compensation/export.<str:fmt>", views.compensation_download, name="compensation_download"
    ),
    path(
        "compensation/engineer/<int:user_id>/",
        views.compensation_engineer,
        name="compensation_engineer",
    ),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
]
