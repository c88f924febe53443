from django.urls import path

from oncall import views, views_engineer

app_name = "oncall"

urlpatterns = [
    path("compensation/", views.compensation, name="compensation"),
    path("compensation/periods/<int:pk>/close/", views.pay_period_close, name="pay_period_close"),
    path(
        "compensation/export.<str:fmt>", views.compensation_download, name="compensation_download"
    ),
    path(
        "compensation/engineer/<int:user_id>/",
        views.compensation_engineer,
        name="compensation_engineer",
    ),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("me/", views_engineer.my_on_call, name="me"),
    path("me/calendar-link/", views_engineer.calendar_feed_new, name="calendar_feed_new"),
    path("me/digest/", views_engineer.digest_preference, name="digest"),
    path("me/comp-time/", views_engineer.comp_time_log, name="comp_time_log"),
    path("pages/<int:page_id>/acknowledge/", views_engineer.page_acknowledge, name="page_ack"),
    path("handoffs/", views_engineer.handoff_write, name="handoff_write"),
    path(
        "handoffs/<int:handoff_id>/acknowledge/",
        views_engineer.handoff_acknowledge,
        name="handoff_ack",
    ),
    path("now/", views_engineer.on_call_now, name="now"),
    path("rotations/<int:pk>/", views_engineer.rotation_calendar, name="rotation"),
]
