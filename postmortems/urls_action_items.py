"""``/action-items/``: each engineer's own open action items."""

from django.urls import path

from postmortems import views

app_name = "actionitems"

urlpatterns = [
    path("", views.my_action_items, name="mine"),
    path("<int:item_id>/", views.my_action_item_update, name="update"),
    path("<int:item_id>/complete/", views.my_action_item_complete, name="complete"),
]
