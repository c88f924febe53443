"""How the post-mortems app reacts to the incidents app's domain signals (connected in
``PostmortemsConfig.ready``; ``incidents`` never imports this app)."""

from django.db import transaction

from postmortems import services


def schedule_on_resolution(sender, incident, by, at, **kwargs) -> None:
    """An incident was resolved (sent inside the resolving transaction): schedule its
    post-mortem if it needs one. The scheduling is the system's doing, so no author is
    recorded; re-resolving never creates a second one (see ``postmortem_schedule``)."""
    services.postmortem_schedule(incident=incident, by=None, at=at)


def schedule_when_required(sender, incident, by, at, **kwargs) -> None:
    """A manager ticked "post-mortem required" on an incident, or recorded customer impact:
    one already resolved gets its post-mortem now if it needs one; an open one gets it when
    it is resolved."""
    if incident.resolved_at is not None:
        services.postmortem_schedule(incident=incident, by=by, at=at)


def schedule_when_severity_changes(sender, incident, by, at, **kwargs) -> None:
    """An incident's severity changed. Raised after it was resolved (the real impact often
    shows then) to a level that needs a post-mortem, it gets one now; an open one gets it
    when it is resolved, and one that has one keeps it."""
    if incident.resolved_at is not None:
        services.postmortem_schedule(incident=incident, by=by, at=at)


def copy_runbook_event(sender, incident, event, by, at, **kwargs) -> None:
    """A runbook was started or a step ticked: a post-mortem already scheduled (its timeline
    was copied at the resolution) and not yet published gets the line too. After the tick
    commits, in a transaction of its own: the tick holds the incident's lock, and publishing
    locks the post-mortem before writing to the incident, so locking the post-mortem here
    could deadlock with it."""

    def copy() -> None:
        with transaction.atomic():
            services.postmortem_timeline_copy_event(incident=incident, event=event)

    transaction.on_commit(copy)
