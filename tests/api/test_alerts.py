from datetime import UTC, datetime

import pytest

from incidents import services
from incidents.models import Incident, IncidentStatus, Severity, TimelineEvent
from oncall.models import Page
from tests.api.conftest import assert_problem
from tests.oncall.factories import RotationFactory, ShiftFactory
from tests.oncall.factories import engineer as oncall_engineer

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/alerts/"


@pytest.fixture
def on_call(platform):
    ada = oncall_engineer("ada")
    ShiftFactory(
        rotation=RotationFactory(team=platform),
        engineer=ada,
        starts_at=datetime(2020, 1, 6, 9, tzinfo=UTC),
        ends_at=datetime(2100, 1, 4, 9, tzinfo=UTC),
    )
    return ada


def alert(**extra):
    return {
        "source": "alertmanager",
        "dedup_key": "checkout-5xx",
        "summary": "Checkout 5xx above 5%",
        "severity": "critical",
        "service": "Checkout",
        **extra,
    }


def test_an_alert_opens_an_incident_and_pages_the_on_call(engineer_api, checkout, on_call):
    response = engineer_api.post(ALERTS, alert(details="p99 4s"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created"] is True
    incident = Incident.objects.get()
    assert body["incident"]["reference"] == incident.reference
    assert response["Location"].endswith(f"/api/v1/incidents/{incident.reference}/")
    assert incident.title == "Checkout 5xx above 5%"
    assert incident.summary == "p99 4s"
    assert incident.severity.name == "SEV-1"  # "critical" is SEV-1's label
    assert incident.dedup_key == "checkout-5xx"
    assert incident.detection_method == "alert"
    assert list(incident.services.values_list("name", flat=True)) == ["checkout"]
    assert Page.objects.get().engineer == on_call
    assert body["event"]["kind"] == "note"
    assert body["event"]["payload"]["source"] == "alertmanager"


def test_the_same_dedup_key_adds_to_the_open_incident(engineer_api, checkout, on_call):
    first = engineer_api.post(ALERTS, alert()).json()
    response = engineer_api.post(ALERTS, alert(summary="Still failing"))
    assert response.status_code == 200
    body = response.json()
    assert body["created"] is False
    assert body["incident"]["reference"] == first["incident"]["reference"]
    assert Incident.objects.count() == 1
    assert Page.objects.count() == 1  # nobody is paged again
    assert TimelineEvent.objects.filter(message="Alert again from alertmanager: Still failing")


def test_a_resolved_incident_frees_its_key(engineer_api, engineer, checkout):
    engineer_api.post(ALERTS, alert())
    incident = Incident.objects.get()
    services.incident_resolve(
        incident=incident, by=engineer, checklist=services.ResolutionChecklist.all_confirmed()
    )
    response = engineer_api.post(ALERTS, alert())
    assert response.status_code == 201
    assert Incident.objects.filter(dedup_key="checkout-5xx").count() == 2
    # The old one cannot be reopened while the new one is open with its key.
    response = engineer_api.post(
        f"/api/v1/incidents/{incident.reference}/status/", {"to_status": "investigating"}
    )
    assert response.status_code == 400
    new = Incident.objects.exclude(pk=incident.pk).get()
    assert response.json() == {
        "to_status": [services.REOPEN_DEDUP_TAKEN.format(reference=new.reference)]
    }
    # Closing it is fine: a closed incident holds no key.
    response = engineer_api.post(
        f"/api/v1/incidents/{incident.reference}/status/", {"to_status": "closed"}
    )
    assert response.status_code == 200
    assert Incident.objects.get(pk=incident.pk).status == "closed"


@pytest.mark.parametrize("word", ["resolved", "RESOLVED", "ok", "recovered"])
def test_a_resolved_alert_tells_the_open_incident_and_pages_nobody(
    engineer_api, checkout, on_call, word
):
    first = engineer_api.post(ALERTS, alert()).json()
    response = engineer_api.post(ALERTS, alert(status=word), format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["created"] is False
    assert body["incident"]["reference"] == first["incident"]["reference"]
    assert body["incident"]["status"] == "investigating"  # people resolve it, not the sender
    assert body["event"]["message"] == "Alert resolved at alertmanager: Checkout 5xx above 5%"
    assert body["event"]["payload"]["status"] == "resolved"
    assert Incident.objects.count() == 1
    assert Page.objects.count() == 1


def test_a_resolved_alert_after_people_resolved_the_incident_opens_nothing(
    engineer_api, engineer, checkout, on_call
):
    engineer_api.post(ALERTS, alert())
    incident = Incident.objects.get()
    services.incident_resolve(
        incident=incident, by=engineer, checklist=services.ResolutionChecklist.all_confirmed()
    )
    events = TimelineEvent.objects.count()
    response = engineer_api.post(ALERTS, alert(status="resolved"), format="json")
    assert response.status_code == 200
    assert response.json() == {"created": False, "incident": None, "event": None}
    assert Incident.objects.count() == 1
    assert Page.objects.count() == 1
    assert TimelineEvent.objects.count() == events
    # Any other status is an alert firing: never lost for a word this API does not know.
    response = engineer_api.post(ALERTS, alert(status="triggered"), format="json")
    assert response.status_code == 201
    assert Page.objects.count() == 2


def test_a_long_summary_opens_the_incident_with_its_start_as_the_title(engineer_api, checkout):
    summary = "Checkout 5xx above 5% " + "x" * 300
    response = engineer_api.post(ALERTS, alert(summary=summary, source="s" * 300))
    assert response.status_code == 201
    incident = Incident.objects.get()
    assert incident.title == summary[:200]
    assert response.json()["event"]["payload"]["summary"] == summary


@pytest.mark.parametrize(
    ("hint", "expected"),
    [("SEV-2", "SEV-2"), ("sev-3", "SEV-3"), ("High", "SEV-2"), ("", "SEV-3"), ("p0", "SEV-3")],
)
def test_the_severity_hint_falls_back_to_the_least_severe_active_level(
    engineer_api, checkout, hint, expected
):
    response = engineer_api.post(ALERTS, alert(severity=hint, dedup_key=f"k-{hint}"))
    assert response.status_code == 201
    assert response.json()["incident"]["severity"] == expected


def test_an_inactive_level_is_never_chosen(engineer_api, checkout):
    Severity.objects.filter(name="SEV-3").update(is_active=False)
    response = engineer_api.post(ALERTS, alert(severity="sev-3"))
    assert response.json()["incident"]["severity"] == "SEV-2"


def test_alert_validation_errors(engineer_api, checkout):
    response = engineer_api.post(ALERTS, {"source": "x"})
    assert response.status_code == 400
    assert set(response.json()) == {"dedup_key", "summary"}
    response = engineer_api.post(ALERTS, alert(service="nope"))
    assert response.json() == {"service": [services.UNKNOWN_SERVICE.format(name="nope")]}
    response = engineer_api.post(ALERTS, alert(summary="   "))
    assert list(response.json()) == ["summary"]
    assert not Incident.objects.exists()


def test_a_null_field_is_the_field_left_out(engineer_api, checkout):
    # Alertmanager and Grafana templates send JSON null for a missing label.
    body = alert(severity=None, severity_hint=None, service=None, details=None)
    response = engineer_api.post(ALERTS, body, format="json")
    assert response.status_code == 201
    assert response.json()["incident"]["severity"] == "SEV-3"
    assert list(Incident.objects.get().services.all()) == []


def test_an_alert_without_a_service_opens_an_incident_nobody_is_paged_for(engineer_api, db):
    response = engineer_api.post(ALERTS, alert(service=""))
    assert response.status_code == 201
    assert not Page.objects.exists()


def test_who_may_post_alerts(finance_api, anon_api, manager_api, checkout):
    assert_problem(finance_api.post(ALERTS, alert()), 403)
    assert_problem(anon_api.post(ALERTS, alert()), 401)
    assert manager_api.post(ALERTS, alert()).status_code == 201
    assert Incident.objects.get().status == IncidentStatus.INVESTIGATING


def test_the_hint_may_also_be_sent_as_severity_hint(engineer_api, checkout):
    body = alert(dedup_key="hinted")
    body["severity_hint"] = body.pop("severity")
    response = engineer_api.post(ALERTS, body)
    assert response.status_code == 201
    assert response.json()["incident"]["severity"] == "SEV-1"
    # Both given: ``severity`` wins.
    both = alert(dedup_key="both", severity="SEV-2", severity_hint="critical")
    assert engineer_api.post(ALERTS, both).json()["incident"]["severity"] == "SEV-2"
