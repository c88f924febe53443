"""Domain signals the incidents app sends so that other apps can act without being imported.

Receivers run inside the sender's transaction, so whatever they write commits or rolls back with
the incident change itself; anything that leaves the database (email, webhooks) they schedule
with ``transaction.on_commit``. Every signal is sent with ``sender=Incident`` and these keyword
arguments:

- ``incident_declared``: ``incident``, ``by`` (a user or None), ``at``, ``team_to_page`` (the
  team the declarer named, or None: without services, the one team to page)
- ``incident_acknowledged``: ``incident``, ``by`` (who answered: the incident's page, a
  status move, a page), ``at``
- ``incident_resolved``: ``incident``, ``by``, ``at``
- ``incident_status_changed``: ``incident``, ``from_status``, ``to_status``, ``by``, ``at``
- ``incident_severity_changed``: ``incident``, ``from_severity``, ``to_severity``, ``by``, ``at``
- ``incident_postmortem_required``: ``incident``, ``by``, ``at`` (a manager asked for one, or
  customer impact was recorded)
- ``incident_runbook_recorded``: ``incident``, ``event`` (the timeline event that says a
  runbook was started or a step ticked), ``by``, ``at``

And one about people, sent with ``sender`` the user model:

- ``person_switched_off``: ``user`` (an account just switched off), ``by``, ``at``; a receiver
  returns a sentence saying what it changed, or None
"""

from django.dispatch import Signal

incident_declared = Signal()
incident_acknowledged = Signal()
incident_resolved = Signal()
incident_status_changed = Signal()
incident_severity_changed = Signal()
incident_postmortem_required = Signal()
incident_runbook_recorded = Signal()
person_switched_off = Signal()
