from django.contrib.admin.apps import AdminConfig


class IncidentDeskAdminConfig(AdminConfig):
    default_site = "config.admin_site.IncidentDeskAdminSite"
