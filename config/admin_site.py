from django.contrib import admin

from incidents.access import is_manager


class IncidentDeskAdminSite(admin.AdminSite):
    """The managers' admin.

    Only active staff who are superusers or members of the Managers group may enter: engineers
    and finance work through their own pages even if someone ticks "staff status" by mistake.
    """

    site_header = "IncidentDesk administration"
    site_title = "IncidentDesk admin"
    index_title = "Incidents, post-mortems and on-call"

    def has_permission(self, request) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and is_manager(user))
