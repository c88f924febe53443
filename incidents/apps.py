from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IncidentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self) -> None:
        from incidents.access import sync_groups_for_incidents

        # Groups and their permissions exist after every migrate (permissions themselves are
        # only created at post_migrate, so a data migration cannot grant them).
        post_migrate.connect(
            sync_groups_for_incidents, sender=self, dispatch_uid="incidents.groups"
        )
