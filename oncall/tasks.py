"""Celery tasks for on-call: thin, idempotent, and each accepts ``now`` (ISO 8601)."""

from celery import shared_task

from incidents.tasks import moment
from oncall import reminders


@shared_task(name="oncall.sweep_unacknowledged_pages", acks_late=True, ignore_result=True)
def sweep_unacknowledged_pages(now: str | None = None) -> int:
    return reminders.sweep_unacknowledged_pages(now=moment(now))


@shared_task(name="oncall.sweep_handoff_requests", acks_late=True, ignore_result=True)
def sweep_handoff_requests(now: str | None = None) -> int:
    return reminders.sweep_handoff_requests(now=moment(now))


@shared_task(name="oncall.sweep_shift_heads_up", acks_late=True, ignore_result=True)
def sweep_shift_heads_up(now: str | None = None) -> int:
    return reminders.sweep_shift_heads_up(now=moment(now))
