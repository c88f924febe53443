"""Celery tasks for post-mortems: thin, idempotent, and each accepts ``now`` (ISO 8601)."""

from celery import shared_task

from incidents.tasks import moment
from postmortems import reminders


@shared_task(name="postmortems.sweep_deadlines", acks_late=True, ignore_result=True)
def sweep_deadlines(now: str | None = None) -> int:
    return reminders.sweep_postmortem_deadlines(now=moment(now))


@shared_task(name="postmortems.sweep_action_items", acks_late=True, ignore_result=True)
def sweep_action_items(now: str | None = None) -> int:
    return reminders.sweep_action_items(now=moment(now))


@shared_task(name="postmortems.send_action_item_digests", acks_late=True, ignore_result=True)
def send_action_item_digests(now: str | None = None) -> int:
    return reminders.send_action_item_digests(now=moment(now))
