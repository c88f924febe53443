"""Deterministic factories for the post-mortems app (sequences and fixed dates, no randomness).

They write rows directly, for building data quickly (changelists, selectors). Tests about a
rule go through ``postmortems.services`` instead, the way users reach it.
"""

from datetime import date, timedelta

import factory

from incidents.models import IncidentStatus
from postmortems.models import (
    ActionItem,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    FiveWhy,
    Postmortem,
    PostmortemStatus,
    PostmortemTimelineEntry,
    TimelinePhase,
)
from tests.incidents.factories import BASE_TIME, EngineerFactory, IncidentFactory

DUE_DATE = date(2026, 3, 20)


class ResolvedIncidentFactory(IncidentFactory):
    """An incident resolved two hours after it started (acknowledged at +5 min, mitigated at
    +1 h)."""

    status = IncidentStatus.RESOLVED
    acknowledged_at = factory.LazyAttribute(lambda o: o.detected_at + timedelta(minutes=2))
    mitigated_at = factory.LazyAttribute(lambda o: o.started_at + timedelta(hours=1))
    resolved_at = factory.LazyAttribute(lambda o: o.started_at + timedelta(hours=2))


class PostmortemFactory(factory.django.DjangoModelFactory):
    """A scheduled post-mortem with the default 24/48/72 h deadlines from the resolution."""

    class Meta:
        model = Postmortem

    incident = factory.SubFactory(ResolvedIncidentFactory)
    status = PostmortemStatus.SCHEDULED
    scheduled_at = factory.LazyAttribute(lambda o: o.incident.resolved_at)
    deadlines_from = factory.LazyAttribute(lambda o: o.incident.resolved_at)
    draft_due_at = factory.LazyAttribute(lambda o: o.deadlines_from + timedelta(hours=24))
    review_due_at = factory.LazyAttribute(lambda o: o.deadlines_from + timedelta(hours=48))
    publish_due_at = factory.LazyAttribute(lambda o: o.deadlines_from + timedelta(hours=72))


class TimelineEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PostmortemTimelineEntry

    postmortem = factory.SubFactory(PostmortemFactory)
    occurred_at = factory.Sequence(lambda n: BASE_TIME + timedelta(minutes=n))
    phase = TimelinePhase.DETECTED
    text = factory.Sequence(lambda n: f"Entry {n}")


class FiveWhyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FiveWhy

    postmortem = factory.SubFactory(PostmortemFactory)
    position = factory.Sequence(lambda n: n + 1)
    question = factory.Sequence(lambda n: f"Why {n}?")
    answer = factory.Sequence(lambda n: f"Because {n}.")


class ActionItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionItem

    postmortem = factory.SubFactory(PostmortemFactory)
    title = factory.Sequence(lambda n: f"Action {n}")
    owner = factory.SubFactory(EngineerFactory)
    due_date = DUE_DATE
    kind = ActionItemKind.PREVENT
    priority = ActionItemPriority.P3
    status = ActionItemStatus.OPEN
    created_at = BASE_TIME
