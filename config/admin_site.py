from functools import partial

from django.contrib import admin
from django.urls import path

from incidents.access import is_manager


class IncidentDeskAdminSite(admin.AdminSite):
    """The managers' admin.

    Only active staff who are superusers or members of the Managers group may enter: engineers
    and finance work through their own pages even if someone ticks "staff status" by mistake.
    """

    site_header = "IncidentDesk administration"
    site_title = "IncidentDesk admin"
    index_title = "Incidents, post-mortems and on-call"
    index_template = "admin/incidentdesk/index.html"  # links the metrics dashboard

    @property
    def login_form(self):
        # Failed sign-ins are limited here as on the engineers' login page (config.login).
        from config.login import ThrottledAdminAuthenticationForm

        return ThrottledAdminAuthenticationForm

    def has_permission(self, request) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and is_manager(user))

    def get_urls(self):
        # The metrics dashboard combines every app, so it lives here rather than in one app's
        # ModelAdmin; admin_view() admits managers only and marks the pages never-cache.
        # Imported here: this site is created while the apps' models are still loading.
        from config import dashboard

        def view(function):
            return self.admin_view(partial(function, site=self))

        return [
            path("metrics/", view(dashboard.metrics_view), name="metrics"),
            path("metrics/review.html", view(dashboard.review_html_view), name="metrics_review"),
            path("metrics/review.csv", view(dashboard.review_csv_view), name="metrics_csv"),
            *super().get_urls(),
        ]
