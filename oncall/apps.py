from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OncallConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "oncall"
    verbose_name = "On-call"

    def ready(self) -> None:
        from incidents.signals import (
            incident_acknowledged,
            incident_declared,
            person_switched_off,
        )
        from oncall.permissions import sync_groups_for_oncall
        from oncall.reminders import register_send_checks
        from oncall.services import (
            acknowledge_pages_with_incident,
            engineer_switched_off,
            page_on_call_for_incident,
        )

        incident_declared.connect(page_on_call_for_incident, dispatch_uid="oncall.page_on_call")
        incident_acknowledged.connect(
            acknowledge_pages_with_incident, dispatch_uid="oncall.acknowledge_pages"
        )
        person_switched_off.connect(engineer_switched_off, dispatch_uid="oncall.off_call")
        register_send_checks()
        post_migrate.connect(sync_groups_for_oncall, sender=self, dispatch_uid="oncall.groups")
