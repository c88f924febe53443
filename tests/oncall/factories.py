"""Deterministic factories for the on-call app."""

from datetime import UTC, date, datetime, timedelta

import factory

from oncall.models import (
    CompTimeTaken,
    Page,
    PageSource,
    PayPeriod,
    Rotation,
    RotationMember,
    Shift,
    ShiftRole,
    ShiftSource,
)
from tests.incidents.factories import ProfileFactory, TeamFactory, UserFactory


def engineer(username: str, time_zone: str = "UTC", team=None):
    """A user with a profile in ``time_zone``."""
    user = UserFactory(username=username, first_name=username.title(), last_name="Oncall")
    ProfileFactory(user=user, time_zone=time_zone, team=team)
    return user


class RotationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rotation
        django_get_or_create = ("team", "name")

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Primary {n}")
    time_zone = "UTC"
    starts_on = date(2026, 3, 2)  # a Monday


class RotationMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RotationMember

    rotation = factory.SubFactory(RotationFactory)
    user = factory.SubFactory(UserFactory)
    position = factory.Sequence(lambda n: n)


class ShiftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shift

    rotation = factory.SubFactory(RotationFactory)
    engineer = factory.SubFactory(UserFactory)
    role = ShiftRole.PRIMARY
    starts_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(days=7))
    source = ShiftSource.MANUAL


class PageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Page

    engineer = factory.SubFactory(UserFactory)
    paged_at = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    ack_due_at = factory.LazyAttribute(lambda o: o.paged_at + timedelta(minutes=5))
    acknowledged_at = factory.LazyAttribute(lambda o: o.paged_at + timedelta(minutes=2))
    source = PageSource.MANUAL


class PayPeriodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PayPeriod

    start_date = date(2026, 3, 1)
    end_date = date(2026, 3, 31)


class CompTimeTakenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CompTimeTaken

    engineer = factory.SubFactory(UserFactory)
    date = date(2026, 3, 20)
    hours = 4
