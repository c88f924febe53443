from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class IncidentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self) -> None:
        import config.checks  # noqa: F401 - registers the deployment's checks
        from incidents.access import sync_groups_for_incidents
        from incidents.metrics import register_sqlite_functions
        from incidents.reminders import register_send_checks

        register_send_checks()

        # SQLite lacks percentile_cont; the metrics register one on every new connection.
        connection_created.connect(
            register_sqlite_functions, dispatch_uid="incidents.sqlite_functions"
        )

        # Groups and their permissions exist after every migrate (permissions themselves are
        # only created at post_migrate, so a data migration cannot grant them).
        post_migrate.connect(
            sync_groups_for_incidents, sender=self, dispatch_uid="incidents.groups"
        )
