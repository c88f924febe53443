"""The one writer of TimelineEvent rows.

Services call these helpers inside their own transaction, so the event and the change it
describes are committed together or not at all.
"""

from datetime import datetime
from typing import Any

from incidents.models import Incident, TimelineEvent, TimelineEventKind


def timeline_event_record(
    *,
    incident: Incident,
    kind: TimelineEventKind,
    message: str,
    at: datetime,
    author=None,
    payload: dict[str, Any] | None = None,
    corrects: TimelineEvent | None = None,
) -> TimelineEvent:
    event = TimelineEvent(
        incident=incident,
        kind=kind,
        message=message,
        occurred_at=at,
        author=author,
        payload=payload or {},
        corrects=corrects,
    )
    event.save()
    return event


def timeline_events_record_once(events: list[TimelineEvent]) -> None:
    """Insert events that carry a ``dedup_key``, skipping keys already written (a reminder
    decided twice is written once). One query."""
    if events:
        TimelineEvent.objects.bulk_create(events, ignore_conflicts=True)


def timeline_events_record_many(events: list[TimelineEvent]) -> list[TimelineEvent]:
    """Insert many events at once (history written in bulk, such as the demo's past year).
    The caller builds them exactly as the services would. One query per batch."""
    return TimelineEvent.objects.bulk_create(events, batch_size=500)
