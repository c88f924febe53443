from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PostmortemsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "postmortems"
    verbose_name = "Post-mortems"

    def ready(self) -> None:
        from incidents.models import Incident
        from incidents.signals import (
            incident_postmortem_required,
            incident_resolved,
            incident_runbook_recorded,
            incident_severity_changed,
        )
        from postmortems.access import sync_groups_for_postmortems
        from postmortems.receivers import (
            copy_runbook_event,
            schedule_on_resolution,
            schedule_when_required,
            schedule_when_severity_changes,
        )

        incident_resolved.connect(
            schedule_on_resolution, sender=Incident, dispatch_uid="postmortems.schedule"
        )
        incident_postmortem_required.connect(
            schedule_when_required, sender=Incident, dispatch_uid="postmortems.required"
        )
        incident_severity_changed.connect(
            schedule_when_severity_changes, sender=Incident, dispatch_uid="postmortems.severity"
        )
        incident_runbook_recorded.connect(
            copy_runbook_event, sender=Incident, dispatch_uid="postmortems.runbook"
        )
        post_migrate.connect(
            sync_groups_for_postmortems, sender=self, dispatch_uid="postmortems.groups"
        )
        from postmortems.reminders import register_send_checks

        register_send_checks()
