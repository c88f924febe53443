"""Edges found in review: terminal colour codes in a public update, NUL in public URLs,
boolean filters that must not guess, names that differ only in letter case, acknowledging
after the fact, and a reopened incident on the status page."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents import services
from incidents.metrics import Period, incident_metrics
from incidents.models import Incident, StatusUpdate
from incidents.selectors import status_page
from incidents.validators import CONTROL_CHARACTERS
from tests.incidents.factories import ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
CHECK = services.ResolutionChecklist.all_confirmed()
COLOURED = "HTTP 502 from \x1b[31mcheckout\x1b[0m"  # pasted terminal output


@pytest.fixture
def public_incident(engineer_api):
    ServiceFactory(name="checkout", team=TeamFactory(name="Shop"), is_public=True)
    body = {"title": "Checkout errors", "severity": "SEV-2", "services": ["checkout"]}
    return engineer_api.post("/api/v1/incidents/", body, format="json").json()["reference"]


class TestControlCharacters:
    UPDATE = {"audience": "status_page", "status": "Investigating", "action": "Rolling back"}

    def test_the_api_refuses_them_by_field(self, engineer_api, public_incident):
        response = engineer_api.post(
            f"/api/v1/incidents/{public_incident}/updates/",
            {**self.UPDATE, "impact": COLOURED, "eta": "30 min"},
            format="json",
        )
        assert response.status_code == 400
        assert response.json() == {"impact": [CONTROL_CHARACTERS]}
        assert not StatusUpdate.objects.exists()

    def test_the_form_refuses_them(self, client, engineer, public_incident):
        pk = Incident.objects.get(reference=public_incident).pk
        client.force_login(engineer)
        response = client.post(
            f"/incidents/{pk}/update/", {**self.UPDATE, "impact": "Errors", "eta": COLOURED}
        )
        assert "Remove the control characters" in response.content.decode()
        assert not StatusUpdate.objects.exists()

    def test_one_stored_before_does_not_break_the_feed(self, client, engineer, public_incident):
        incident = Incident.objects.get(reference=public_incident)
        StatusUpdate.objects.create(
            incident=incident,
            author=engineer,
            posted_at=timezone.now(),
            impact=COLOURED,
            eta="30 min",
            **self.UPDATE,
        )
        response = client.get("/status/feed.atom")
        assert response.status_code == 200
        assert "HTTP 502 from [31mcheckout[0m" in response.content.decode()


@pytest.mark.parametrize("url", ["/status/incidents/INC%00/", "/oncall/calendar/ab%00cd.ics"])
def test_public_urls_with_a_nul_are_not_found(client, url):
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/incidents/", "open"),
        ("/api/v1/pages/", "acknowledged"),
        ("/api/v1/postmortems/", "overdue"),
        ("/api/v1/action-items/", "overdue"),
    ],
)
def test_a_boolean_filter_refuses_what_is_not_true_or_false(manager_api, url, name):
    for value in ("yes", "on", "y"):
        response = manager_api.get(url, {name: value})
        assert response.status_code == 400, (url, value)
        assert response.json() == {name: ["Use true or false."]}
    for value in ("true", "False", "1", "0"):
        assert manager_api.get(url, {name: value}).status_code == 200


def test_the_open_filter_still_filters(engineer_api, engineer):
    live = services.incident_declare(title="live", severity="SEV-2", declared_by=engineer)
    done = services.incident_declare(title="done", severity="SEV-2", declared_by=engineer)
    services.incident_resolve(incident=done, by=engineer, checklist=CHECK)
    response = engineer_api.get("/api/v1/incidents/", {"open": "TRUE"})
    assert [row["reference"] for row in response.json()["results"]] == [live.reference]


class TestNamesInAnyCase:
    def test_the_exact_service_name_wins_over_a_case_twin(self, engineer_api):
        ServiceFactory(name="Checkout", team=TeamFactory(name="Legacy"))
        ServiceFactory(name="checkout", team=TeamFactory(name="Payments"))
        alert = {"source": "am", "dedup_key": "k1", "summary": "5xx", "service": "checkout"}
        incident = engineer_api.post("/api/v1/alerts/", alert, format="json").json()["incident"]
        assert incident["services"] == ["checkout"]
        assert incident["team"] == "Payments"

    def test_an_ambiguous_name_is_refused_rather_than_guessed(self, engineer_api):
        ServiceFactory(name="Checkout", team=TeamFactory(name="Legacy"))
        ServiceFactory(name="checkout", team=TeamFactory(name="Payments"))
        alert = {"source": "am", "dedup_key": "k1", "summary": "5xx", "service": "CHECKOUT"}
        response = engineer_api.post("/api/v1/alerts/", alert, format="json")
        assert response.status_code == 400
        assert "give the name exactly" in response.json()["service"][0]
        assert not Incident.objects.exists()

    def test_one_match_in_another_case_is_still_found(self, engineer_api):
        ServiceFactory(name="Checkout", team=TeamFactory(name="Legacy"))
        alert = {"source": "am", "dedup_key": "k1", "summary": "5xx", "service": "CHECKOUT"}
        response = engineer_api.post("/api/v1/alerts/", alert, format="json")
        assert response.json()["incident"]["services"] == ["Checkout"]

    def test_the_exact_username_wins(self, engineer_api):
        for name in ("Olga", "olga"):
            UserFactory(username=name).groups.add(Group.objects.get(name="Engineers"))
        body = {"title": "t", "severity": "SEV-2"}
        reference = engineer_api.post("/api/v1/incidents/", body, format="json").json()["reference"]
        response = engineer_api.post(
            f"/api/v1/incidents/{reference}/roles/",
            {"role": "commander", "user": "olga"},
            format="json",
        )
        assert response.json()["user"] == "olga"


class TestAcknowledgingAfterTheFact:
    @pytest.fixture
    def imported(self):
        incident, _ = services.incident_import(
            reference="OLD-1",
            title="Old outage",
            severity="SEV-2",
            started_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
            resolved_at=datetime(2026, 1, 5, 12, tzinfo=UTC),
        )
        return incident

    def test_closing_a_resolved_incident_does_not_acknowledge_it(self, imported, manager):
        services.incident_change_status(
            incident=imported, to_status="closed", by=manager, at=datetime(2026, 6, 1, tzinfo=UTC)
        )
        imported.refresh_from_db()
        assert imported.acknowledged_at is None
        q1 = incident_metrics(
            period=Period(date(2026, 1, 1), date(2026, 4, 1)),
            now=datetime(2026, 6, 1, 10, tzinfo=UTC),
        )
        assert q1.total.time_to_acknowledge.count == 0

    def test_a_resolved_incident_cannot_be_acknowledged(self, imported, manager, client):
        with pytest.raises(ValidationError, match="Only an open incident"):
            services.incident_acknowledge(incident=imported, by=manager)
        client.force_login(manager)
        page = client.get(f"/incidents/{imported.pk}/").content.decode()
        assert f"/incidents/{imported.pk}/acknowledge/" not in page


class TestReopenedOnTheStatusPage:
    def test_the_service_line_no_longer_says_resolved(self, engineer):
        service = ServiceFactory(name="checkout", team=TeamFactory(name="Shop"), is_public=True)
        now = timezone.now()
        incident = services.incident_declare(
            title="x",
            severity="SEV-1",
            declared_by=engineer,
            services=[service],
            customer_impact=True,
            at=now - timedelta(hours=3),
        )
        services.incident_resolve(
            incident=incident, by=engineer, checklist=CHECK, at=now - timedelta(hours=1)
        )
        services.status_update_post(
            incident=incident,
            author=engineer,
            status="Resolved",
            impact="Fixed",
            action="None",
            eta="Done",
            audience="status_page",
            at=now - timedelta(minutes=50),
        )
        services.incident_change_status(
            incident=incident,
            to_status="investigating",
            by=engineer,
            at=now - timedelta(minutes=10),
        )
        reopened_at = now - timedelta(minutes=10)
        [line] = status_page().services
        assert line.latest.status != "Resolved"
        assert line.latest.posted_at == reopened_at
        [shown] = status_page().open_incidents
        assert [u.status for u in shown.updates][1:] == ["Resolved"]  # the history stays

    def test_the_line_speaks_for_the_worst_incident(self, engineer):
        service = ServiceFactory(name="checkout", team=TeamFactory(name="Shop"), is_public=True)
        now = timezone.now()
        for severity, status, minutes in (
            ("SEV-1", "Investigating", 30),
            ("SEV-3", "Monitoring", 5),
        ):
            incident = services.incident_declare(
                title=severity,
                severity=severity,
                declared_by=engineer,
                services=[service],
                at=now - timedelta(hours=1),
            )
            services.status_update_post(
                incident=incident,
                author=engineer,
                status=status,
                impact="Errors",
                action="Looking",
                eta="Soon",
                audience="status_page",
                at=now - timedelta(minutes=minutes),
            )
        [line] = status_page().services
        assert line.latest.status == "Investigating"
