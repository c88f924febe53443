from datetime import timedelta

import pytest

from incidents import selectors, services
from incidents.models import IncidentRole, IncidentStatus
from incidents.services import ResolutionChecklist
from tests.incidents.factories import BASE_TIME, IncidentFactory, UserFactory, severity

pytestmark = pytest.mark.django_db

T0 = BASE_TIME


def test_open_incidents_most_severe_first_then_oldest():
    sev3_old = IncidentFactory(severity=severity("SEV-3"), started_at=T0)
    sev1_new = IncidentFactory(severity=severity("SEV-1"), started_at=T0 + timedelta(hours=5))
    sev1_old = IncidentFactory(severity=severity("SEV-1"), started_at=T0 + timedelta(hours=1))
    IncidentFactory(
        status=IncidentStatus.RESOLVED, started_at=T0, resolved_at=T0 + timedelta(hours=9)
    )
    IncidentFactory(
        status=IncidentStatus.CLOSED,
        started_at=T0,
        resolved_at=T0 + timedelta(hours=9),
        closed_at=T0 + timedelta(hours=10),
    )
    assert list(selectors.open_incidents()) == [sev1_old, sev1_new, sev3_old]


def test_incident_list_annotates_current_commander():
    incident = IncidentFactory()
    first = UserFactory(username="first", first_name="Ada", last_name="Lovelace")
    second = UserFactory(username="second", first_name="", last_name="")
    services.role_assign(incident=incident, role=IncidentRole.COMMANDER, user=first, by=None)
    assert selectors.incident_list().get().commander_name == "Ada Lovelace"
    services.role_assign(incident=incident, role=IncidentRole.COMMANDER, user=second, by=None)
    assert selectors.incident_list().get().commander_name == "second"


def test_durations_of_a_resolved_incident():
    user = UserFactory()
    incident = services.incident_declare(
        title="x",
        severity="SEV-1",
        declared_by=user,
        started_at=T0,
        detected_at=T0 + timedelta(minutes=4),
        at=T0 + timedelta(minutes=5),
    )
    services.incident_acknowledge(incident=incident, by=user, at=T0 + timedelta(minutes=7))
    services.incident_change_status(
        incident=incident,
        to_status=IncidentStatus.MITIGATED,
        by=user,
        at=T0 + timedelta(minutes=25),
    )
    incident = services.incident_resolve(
        incident=incident,
        by=user,
        checklist=ResolutionChecklist.all_confirmed(),
        at=T0 + timedelta(hours=1, minutes=10),
    )
    d = selectors.incident_durations(incident=incident, now=T0 + timedelta(days=3))
    assert d.time_to_detect == timedelta(minutes=4)
    assert d.time_to_acknowledge == timedelta(minutes=3)
    assert d.time_to_mitigate == timedelta(minutes=25)
    assert d.time_to_resolve == timedelta(hours=1, minutes=10)
    assert d.duration == timedelta(hours=1, minutes=10)  # not until "now": it is resolved
    assert d.is_open is False


def test_durations_of_an_open_incident_run_until_now():
    incident = IncidentFactory(started_at=T0, detected_at=T0 + timedelta(minutes=1))
    d = selectors.incident_durations(incident=incident, now=T0 + timedelta(minutes=45))
    assert d.duration == timedelta(minutes=45)
    assert d.time_to_acknowledge is None
    assert d.time_to_resolve is None
    assert d.is_open is True


def test_incident_with_timeline_takes_a_fixed_number_of_queries(django_assert_num_queries):
    incident = IncidentFactory()
    for n in range(12):
        services.note_add(incident=incident, author=UserFactory(), text=f"note {n}")
    with django_assert_num_queries(5):
        loaded = selectors.incident_with_timeline(pk=incident.pk)
        events = [(e.message, e.author.username) for e in loaded.timeline.all()]
        roles = selectors.active_roles(loaded)
        names = [s.name for s in loaded.services.all()]
        updates = list(loaded.updates.all())
    assert len(events) == 12
    assert roles == {}
    assert names == []
    assert updates == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (timedelta(seconds=42), "42 s"),
        (timedelta(minutes=3, seconds=5), "3 min 05 s"),
        (timedelta(hours=2, minutes=5), "2 h 05 min"),
        (timedelta(days=1, hours=3, minutes=7), "1 d 3 h 07 min"),
    ],
)
def test_format_duration(value, text):
    assert selectors.format_duration(value) == text


def test_user_time_zone_falls_back_to_the_project_zone(settings):
    from tests.incidents.factories import ProfileFactory

    settings.TIME_ZONE = "UTC"
    user = UserFactory()
    assert str(selectors.user_time_zone(user)) == "UTC"
    ProfileFactory(user=user, time_zone="Asia/Kolkata")
    user.refresh_from_db()
    assert str(selectors.user_time_zone(user)) == "Asia/Kolkata"
