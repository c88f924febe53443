import pytest
from django.db import DatabaseError, connection, transaction

from incidents import services
from incidents.models import TimelineEvent
from incidents.models.timeline import TIMELINE_IS_APPEND_ONLY
from tests.incidents.factories import BASE_TIME, UserFactory, severity

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    incident = services.incident_declare(
        title="Queue stuck", severity=severity("SEV-3"), declared_by=UserFactory(), at=BASE_TIME
    )
    return incident.timeline.get()


def test_an_event_cannot_be_edited(event):
    event.message = "rewritten"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    event.refresh_from_db()
    assert event.message == "Declared SEV-3: Queue stuck"


def test_an_event_cannot_be_deleted(event):
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    assert TimelineEvent.objects.filter(pk=event.pk).exists()


def test_bulk_update_and_delete_are_refused(event):
    with pytest.raises(TypeError) as error:
        TimelineEvent.objects.filter(pk=event.pk).update(message="x")
    assert str(error.value) == TIMELINE_IS_APPEND_ONLY
    with pytest.raises(TypeError):
        TimelineEvent.objects.all().delete()
    with pytest.raises(TypeError), transaction.atomic():
        TimelineEvent.objects.bulk_update([event], ["message"])
    assert TimelineEvent.objects.get(pk=event.pk).message == "Declared SEV-3: Queue stuck"


def test_incident_with_history_cannot_be_deleted(event):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        event.incident.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_postgresql_refuses_raw_updates_and_deletes(event):
    for sql in (
        "UPDATE incidents_timelineevent SET message = 'x' WHERE id = %s",
        "DELETE FROM incidents_timelineevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert TimelineEvent.objects.get(pk=event.pk).message == "Declared SEV-3: Queue stuck"
