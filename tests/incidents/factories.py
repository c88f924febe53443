"""Deterministic factories for the incidents app (sequences and fixed dates, no randomness)."""

from datetime import UTC, datetime, timedelta

import factory
from django.contrib.auth import get_user_model

from incidents.models import (
    Incident,
    IncidentSequence,
    IncidentStatus,
    Profile,
    Service,
    Severity,
    Team,
)

BASE_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n:03d}")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Person"
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pw-for-tests-only")


class EngineerFactory(UserFactory):
    """A user in the Engineers group: someone who can hold a role or own an action item."""

    @factory.post_generation
    def engineers_group(self, create, extracted, **kwargs):
        if create:
            from django.contrib.auth.models import Group

            from incidents.access import ENGINEERS

            self.groups.add(Group.objects.get(name=ENGINEERS))


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")
    engineering_manager = factory.SubFactory(UserFactory)


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile
        django_get_or_create = ("user",)

    user = factory.SubFactory(UserFactory)
    time_zone = "UTC"
    team = None


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"service-{n}")
    team = factory.SubFactory(TeamFactory)


def severity(name: str) -> Severity:
    """One of the seeded levels (SEV-1, SEV-2, SEV-3)."""
    return Severity.objects.get(name=name)


class IncidentFactory(factory.django.DjangoModelFactory):
    """A bare incident row (no timeline). Use ``incidents.services.incident_declare`` when the
    test is about declaring; this is for building data quickly."""

    class Meta:
        model = Incident

    reference = factory.Sequence(lambda n: f"INC-2026-{9000 + n:04d}")
    title = factory.Sequence(lambda n: f"Incident {n}")
    severity = factory.LazyFunction(lambda: severity("SEV-2"))
    status = IncidentStatus.INVESTIGATING
    team = factory.SubFactory(TeamFactory)
    started_at = factory.Sequence(lambda n: BASE_TIME + timedelta(hours=n))
    detected_at = factory.LazyAttribute(lambda o: o.started_at + timedelta(minutes=3))
    declared_at = factory.LazyAttribute(lambda o: o.detected_at)


class IncidentSequenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IncidentSequence

    year = 2026
