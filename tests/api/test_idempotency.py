from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import IdempotencyKey, Incident, RoleAssignment, TimelineEventKind
from incidents.tasks import purge_idempotency_keys
from tests.api.conftest import assert_problem
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/v1/incidents/"
DECLARE = {"title": "Checkout down", "severity": "SEV-2"}


def test_the_same_key_twice_creates_one_incident_and_replays_the_response(engineer_api):
    first = engineer_api.post(INCIDENTS, DECLARE, HTTP_IDEMPOTENCY_KEY="abc-1")
    second = engineer_api.post(INCIDENTS, DECLARE, HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Location"] == first["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Incident.objects.count() == 1


def test_without_a_key_every_request_creates(engineer_api):
    engineer_api.post(INCIDENTS, DECLARE)
    engineer_api.post(INCIDENTS, DECLARE)
    assert Incident.objects.count() == 2


def test_keys_belong_to_one_person(engineer_api, other_engineer_api):
    engineer_api.post(INCIDENTS, DECLARE, HTTP_IDEMPOTENCY_KEY="shared")
    other_engineer_api.post(INCIDENTS, DECLARE, HTTP_IDEMPOTENCY_KEY="shared")
    assert Incident.objects.count() == 2


def test_a_key_reused_for_another_request_is_refused(engineer_api):
    engineer_api.post(INCIDENTS, DECLARE, HTTP_IDEMPOTENCY_KEY="k")
    response = engineer_api.post(INCIDENTS, {**DECLARE, "title": "Other"}, HTTP_IDEMPOTENCY_KEY="k")
    assert_problem(response, 422, "idempotency_key_reused")
    response = engineer_api.post(
        "/api/v1/alerts/",
        {"source": "s", "dedup_key": "d", "summary": "x"},
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert_problem(response, 422)
    assert Incident.objects.count() == 1


def test_a_refused_request_does_not_use_up_its_key(engineer_api):
    response = engineer_api.post(
        INCIDENTS, {**DECLARE, "severity": "SEV-9"}, HTTP_IDEMPOTENCY_KEY="retry-me"
    )
    assert response.status_code == 400
    assert not IdempotencyKey.objects.exists()
    response = engineer_api.post(INCIDENTS, DECLARE, HTTP_IDEMPOTENCY_KEY="retry-me")
    assert response.status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "caf\u00e9"])
def test_a_malformed_key_is_a_validation_error(engineer_api, key):
    response = engineer_api.post(INCIDENTS, DECLARE, HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert list(response.json()) == ["Idempotency-Key"]


def test_alerts_and_status_updates_take_keys_too(engineer_api, engineer):
    alert = {"source": "s", "dedup_key": "d", "summary": "x"}
    engineer_api.post("/api/v1/alerts/", alert, HTTP_IDEMPOTENCY_KEY="a")
    again = engineer_api.post("/api/v1/alerts/", alert, HTTP_IDEMPOTENCY_KEY="a")
    assert again.status_code == 201  # the replay of the first answer, not "added to"
    incident = Incident.objects.get()
    assert incident.timeline.filter(kind="note").count() == 1
    update = {"status": "a", "impact": "b", "action": "c", "eta": "d"}
    url = f"{INCIDENTS}{incident.reference}/updates/"
    engineer_api.post(url, update, HTTP_IDEMPOTENCY_KEY="u")
    engineer_api.post(url, update, HTTP_IDEMPOTENCY_KEY="u")
    assert incident.updates.count() == 1


def test_old_keys_are_forgotten_by_the_purge_task(engineer, settings):
    settings.API_IDEMPOTENCY_KEY_TTL = 3600
    now = timezone.now()
    for key, age in [("old", timedelta(hours=2)), ("new", timedelta(minutes=5))]:
        IdempotencyKey.objects.create(
            user=engineer,
            key=key,
            method="POST",
            path="/x",
            fingerprint="f",
            created_at=now - age,
        )
    assert purge_idempotency_keys(now=now.isoformat()) == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_a_key_past_its_time_is_forgotten_before_the_purge_runs(engineer_api, settings):
    settings.API_IDEMPOTENCY_KEY_TTL = 3600
    first = engineer_api.post(
        INCIDENTS, {"title": "First", "severity": "SEV-3"}, HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=1, seconds=1))
    again = engineer_api.post(
        INCIDENTS, {"title": "Second", "severity": "SEV-3"}, HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert again.status_code == 201, again.content
    assert "Idempotent-Replayed" not in again
    assert sorted(Incident.objects.values_list("title", flat=True)) == ["First", "Second"]


def test_a_role_assignment_retried_with_its_key_replays_the_first_answer(engineer_api):
    """A client that lost the 201 retries: the same answer, byte for byte, not the 400
    "already holds the role" that would make it think the assignment failed."""
    incident = IncidentFactory()
    url = f"{INCIDENTS}{incident.reference}/roles/"
    body = {"role": "commander", "user": "eddie"}
    first = engineer_api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    retry = engineer_api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert (first.status_code, retry.status_code) == (201, 201), retry.content
    assert retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"
    assert RoleAssignment.objects.filter(incident=incident).count() == 1
    assert incident.timeline.filter(kind=TimelineEventKind.ROLE_ASSIGNED).count() == 1
    other = engineer_api.post(
        url, {"role": "scribe", "user": "eddie"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1"
    )
    assert_problem(other, 422, "idempotency_key_reused")
    # Without a key it is a second request, refused by the service as before.
    assert engineer_api.post(url, body, format="json").status_code == 400
