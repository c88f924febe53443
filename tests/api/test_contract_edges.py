"""API contract edges: moments at the edge of the calendar, list filters that are not a detail
read's business, orderings that do not exist, fields that cannot change, odd tokens."""

import pytest

from incidents import services
from incidents.models import Incident
from tests.api.conftest import client_with_token
from tests.postmortems.factories import ActionItemFactory

pytestmark = pytest.mark.django_db
INCIDENTS = "/api/v1/incidents/"


def test_go_zero_time_is_refused_when_declaring(engineer_api):
    response = engineer_api.post(
        INCIDENTS,
        {
            "title": "From Grafana",
            "severity": "SEV-2",
            "started_at": "0001-01-01T00:00:00Z",
            "detected_at": "0001-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "started_at": ["The start cannot be before 1900; check the year."],
        "detected_at": ["Detection cannot be before 1900; check the year."],
    }
    assert not Incident.objects.exists()


def test_a_detail_read_and_an_action_ignore_the_lists_filters(engineer_api, engineer):
    incident = services.incident_declare(title="Live", severity="SEV-2", declared_by=engineer)
    url = f"{INCIDENTS}{incident.reference}/"
    assert engineer_api.get(url, {"open": "false"}).status_code == 200
    assert engineer_api.get(url, {"ordering": "nonsense"}).status_code == 200
    update = {"status": "Looking", "impact": "Slow", "action": "Rolling back", "eta": "10 min"}
    response = engineer_api.post(f"{url}updates/?status=resolved", update, format="json")
    assert response.status_code == 201


def test_an_unknown_ordering_is_a_400_naming_the_choices(engineer_api):
    assert engineer_api.get(INCIDENTS, {"ordering": "-started_at"}).status_code == 200
    response = engineer_api.get(INCIDENTS, {"ordering": "-started"})
    assert response.status_code == 400
    [message] = response.json()["ordering"]
    assert message.startswith("Use one of: ")
    assert "started_at" in message


def test_an_action_item_patch_refuses_fields_it_cannot_change(api_for, engineer):
    item = ActionItemFactory(owner=engineer, title="Add alert")
    api = api_for(engineer)
    response = api.patch(
        f"/api/v1/action-items/{item.pk}/",
        {"title": "Renamed", "status": "in_progress"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"title": ["Only status and tracker_url can be changed here."]}
    item.refresh_from_db()
    assert (item.title, item.status) == ("Add alert", "open")


def test_a_token_with_a_control_character_is_refused_not_a_crash(db):
    response = client_with_token("idk_\x00abc.def").get(INCIDENTS)
    assert response.status_code == 401
