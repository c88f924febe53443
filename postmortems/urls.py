from django.urls import path

from postmortems import views

app_name = "postmortems"

urlpatterns = [
    path("", views.postmortem_list, name="list"),
    path("<int:pk>/", views.postmortem_detail, name="detail"),
    path("<int:pk>/start/", views.postmortem_start, name="start"),
    path("<int:pk>/sections/", views.postmortem_sections, name="sections"),
    path("<int:pk>/whys/", views.why_add, name="why_add"),
    path("<int:pk>/whys/<int:why_id>/edit/", views.why_edit, name="why_edit"),
    path("<int:pk>/whys/<int:why_id>/<slug:action>/", views.why_change, name="why_change"),
    path("<int:pk>/timeline/", views.entry_add, name="entry_add"),
    path("<int:pk>/timeline/<int:entry_id>/", views.entry_edit, name="entry_edit"),
    path("<int:pk>/timeline/<int:entry_id>/remove/", views.entry_remove, name="entry_remove"),
    path("<int:pk>/items/", views.items_save, name="items"),
    path("<int:pk>/move/<slug:move>/", views.postmortem_move, name="move"),
    path("<int:pk>/review-meeting/", views.postmortem_review_meeting, name="review_meeting"),
    path("<int:pk>/export.md", views.postmortem_export, name="export"),
]
