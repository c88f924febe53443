from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from incidents import services
from incidents.access import ENGINEERS
from incidents.models import Incident, IncidentStatus, Profile, StatusUpdate, TimelineEventKind
from oncall.models import Page
from tests.api.conftest import assert_problem
from tests.incidents.factories import IncidentFactory, ServiceFactory, TeamFactory, severity
from tests.oncall.factories import RotationFactory, ShiftFactory
from tests.oncall.factories import engineer as oncall_engineer

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/v1/incidents/"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def detail(reference: str) -> str:
    return f"{INCIDENTS}{reference}/"


@pytest.fixture
def declared(engineer, checkout):
    return services.incident_declare(
        title="Checkout errors", severity="SEV-2", declared_by=engineer, services=[checkout]
    )


# --- Reading ------------------------------------------------------------------------------------


def test_list_shows_incidents_newest_first(engineer_api, platform):
    older = IncidentFactory(team=platform, started_at=NOW - timedelta(days=2))
    newer = IncidentFactory(team=platform, started_at=NOW - timedelta(days=1))
    response = engineer_api.get(INCIDENTS)
    assert response.status_code == 200
    body = response.json()
    assert [i["reference"] for i in body["results"]] == [newer.reference, older.reference]
    assert set(body) == {"next", "previous", "results"}
    first = body["results"][0]
    assert first["severity"] == "SEV-2"
    assert first["team"] == "Platform"
    assert first["started_at"] == (NOW - timedelta(days=1)).isoformat().replace("+00:00", "Z")


def test_detail_has_everything_and_timestamps_in_utc(engineer_api, engineer, declared):
    Profile.objects.create(user=engineer, time_zone="Asia/Tokyo")
    services.role_assign(
        incident=declared, role="commander", user=engineer, by=engineer, at=declared.declared_at
    )
    response = engineer_api.get(detail(declared.reference))
    assert response.status_code == 200
    body = response.json()
    assert body["reference"] == declared.reference
    assert body["services"] == ["checkout"]
    assert body["commander"] == engineer.get_full_name()
    assert body["roles"] == [
        {
            "role": "commander",
            "user": "eddie",
            "name": engineer.get_full_name(),
            "assigned_at": body["roles"][0]["assigned_at"],
        }
    ]
    assert body["declared_by"] == "eddie"
    assert body["declared_at"].endswith("Z")  # UTC, not the reader's Tokyo time
    assert body["durations"] == {
        "time_to_detect": "P0DT00H00M00S",
        "time_to_acknowledge": None,
        "time_to_mitigate": None,
        "time_to_resolve": None,
    }


def test_an_unknown_reference_is_a_404_problem(engineer_api, db):
    body = assert_problem(engineer_api.get(detail("INC-1999-0001")), 404, "not_found")
    assert body["title"] == "Not Found"


def test_detail_reads_carry_an_etag_and_answer_304(engineer_api, engineer, declared):
    first = engineer_api.get(detail(declared.reference))
    tag = first["ETag"]
    assert tag.startswith('"')
    assert len(tag) == 66
    again = engineer_api.get(detail(declared.reference), HTTP_IF_NONE_MATCH=tag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == tag
    assert (
        engineer_api.get(detail(declared.reference), HTTP_IF_NONE_MATCH=f"W/{tag}").status_code
        == 304
    )
    assert engineer_api.get(detail(declared.reference), HTTP_IF_NONE_MATCH="*").status_code == 304
    # A change gives a new ETag, and the old one no longer matches.
    services.incident_change_severity(incident=declared, severity="SEV-1", by=engineer)
    changed = engineer_api.get(detail(declared.reference), HTTP_IF_NONE_MATCH=tag)
    assert changed.status_code == 200
    assert changed["ETag"] != tag
    assert changed.json()["severity"] == "SEV-1"


def test_filters(engineer_api, platform):
    other = TeamFactory(name="Data")
    web = ServiceFactory(name="Web", team=platform)
    sev1 = IncidentFactory(team=platform, severity=severity("SEV-1"), started_at=NOW)
    sev1.services.add(web)
    resolved = IncidentFactory(
        team=other,
        status=IncidentStatus.RESOLVED,
        started_at=NOW - timedelta(days=10),
        resolved_at=NOW - timedelta(days=9),
    )
    sev3 = IncidentFactory(
        team=other, severity=severity("SEV-3"), started_at=NOW - timedelta(days=5)
    )

    def refs(**params):
        response = engineer_api.get(INCIDENTS, params)
        assert response.status_code == 200, response.content
        return {i["reference"] for i in response.json()["results"]}

    assert refs(severity="sev-1") == {sev1.reference}
    assert refs(team="data") == {resolved.reference, sev3.reference}
    assert refs(service="web") == {sev1.reference}
    assert refs(status="resolved") == {resolved.reference}
    assert refs(status=["resolved", "investigating"]) == {
        resolved.reference,
        sev1.reference,
        sev3.reference,
    }
    assert refs(open="true") == {sev1.reference, sev3.reference}
    assert refs(open="false") == {resolved.reference}
    assert refs(started_after=(NOW - timedelta(days=6)).isoformat()) == {
        sev1.reference,
        sev3.reference,
    }
    assert refs(started_before="2026-03-01T00:00:00Z") == {resolved.reference}
    assert refs(resolved_after="2026-03-01T00:00:00Z") == {resolved.reference}


def test_a_bad_filter_value_is_a_validation_error(engineer_api, db):
    response = engineer_api.get(INCIDENTS, {"status": "sleeping", "started_after": "soon"})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"status", "started_after"}
    assert all(isinstance(m, str) for messages in body.values() for m in messages)


def test_cursor_pagination_walks_every_incident_once(engineer_api, platform):
    made = {IncidentFactory(team=platform).reference for _ in range(7)}
    seen, url, pages = [], INCIDENTS + "?page_size=3", 0
    while url:
        response = engineer_api.get(url)
        assert response.status_code == 200
        body = response.json()
        seen += [i["reference"] for i in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 3
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen))


def test_an_invalid_cursor_is_a_404_problem(engineer_api, db):
    assert_problem(engineer_api.get(INCIDENTS, {"cursor": "bogus"}), 404, "not_found")


def test_ordering_by_severity(engineer_api, platform):
    low = IncidentFactory(team=platform, severity=severity("SEV-3"))
    high = IncidentFactory(team=platform, severity=severity("SEV-1"))
    response = engineer_api.get(INCIDENTS, {"ordering": "severity_rank"})
    assert [i["reference"] for i in response.json()["results"]] == [high.reference, low.reference]


# --- Declaring ---------------------------------------------------------------------------------


def test_an_engineer_declares_and_the_on_call_is_paged(engineer_api, checkout, platform):
    ada = oncall_engineer("ada")
    ShiftFactory(
        rotation=RotationFactory(team=platform),
        engineer=ada,
        starts_at=datetime(2020, 1, 6, 9, tzinfo=UTC),
        ends_at=datetime(2100, 1, 4, 9, tzinfo=UTC),
    )
    response = engineer_api.post(
        INCIDENTS,
        {"title": "Checkout down", "severity": "sev-1", "services": ["CHECKOUT"]},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    incident = Incident.objects.get(reference=body["reference"])
    assert response["Location"].endswith(detail(incident.reference))
    assert body["severity"] == "SEV-1"
    assert body["team"] == "Platform"
    assert body["declared_by"] == "eddie"
    assert incident.detection_method == "alert"
    assert Page.objects.get().engineer == ada


def test_declaring_reports_service_rules_as_field_errors(engineer_api, db):
    response = engineer_api.post(INCIDENTS, {"title": "  ", "severity": "SEV-9"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"title": ["This field may not be blank."]}
    response = engineer_api.post(INCIDENTS, {"title": "Broken", "severity": "SEV-9"})
    assert response.json() == {"severity": [services.UNKNOWN_SEVERITY]}
    response = engineer_api.post(
        INCIDENTS,
        {
            "title": "Broken",
            "severity": "SEV-2",
            "started_at": "2026-03-02T10:00:00Z",
            "detected_at": "2026-03-02T09:00:00Z",
        },
    )
    assert response.json() == {"started_at": [services.DETECTED_BEFORE_STARTED]}
    response = engineer_api.post(
        INCIDENTS, {"title": "Broken", "severity": "SEV-2", "services": ["nope"]}
    )
    assert list(response.json()) == ["services.0"]


def test_a_body_that_is_not_json_is_a_problem(engineer_api, db):
    response = engineer_api.post(INCIDENTS, "{nope", content_type="application/json")
    assert_problem(response, 400, "parse_error")
    response = engineer_api.post(INCIDENTS, "title=x", content_type="text/plain")
    assert_problem(response, 415, "unsupported_media_type")


def test_naive_timestamps_are_read_as_utc(engineer_api, engineer):
    Profile.objects.create(user=engineer, time_zone="America/New_York")
    response = engineer_api.post(
        INCIDENTS,
        {"title": "Old", "severity": "SEV-3", "detected_at": "2026-03-02T09:00:00"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["detected_at"] == "2026-03-02T09:00:00Z"


# --- Acting on an incident ----------------------------------------------------------------------


def test_status_moves_and_resolving_needs_the_checklist(engineer_api, declared):
    url = detail(declared.reference) + "status/"
    response = engineer_api.post(url, {"to_status": "mitigated", "mitigation_action": "rollback"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "mitigated"
    assert response.json()["mitigation_action"] == "rollback"

    response = engineer_api.post(url, {"to_status": "resolved"})
    assert response.status_code == 400
    assert list(response.json()) == ["checklist"]

    response = engineer_api.post(
        url, {"to_status": "resolved", "checklist": {"issue_fixed": "maybe"}}
    )
    assert list(response.json()) == ["checklist.issue_fixed"]

    checklist = dict.fromkeys(services.ResolutionChecklist.LABELS, True)
    response = engineer_api.post(url, {"to_status": "resolved", "checklist": checklist})
    assert response.status_code == 200
    assert response.json()["resolved_at"] is not None

    response = engineer_api.post(url, {"to_status": "monitoring"})
    assert response.json() == {
        "to_status": [services.INVALID_MOVE.format(from_status="Resolved", to_status="Monitoring")]
    }


def test_severity_changes(engineer_api, declared):
    url = detail(declared.reference) + "severity/"
    response = engineer_api.post(url, {"severity": "SEV-1", "reason": "spreading"})
    assert response.status_code == 200
    assert response.json()["severity"] == "SEV-1"
    response = engineer_api.post(url, {"severity": "SEV-1"})
    assert response.json() == {"severity": [services.SAME_SEVERITY.format(severity="SEV-1")]}


def test_roles_are_assigned_and_handed_over(engineer_api, declared, other_engineer):
    url = detail(declared.reference) + "roles/"
    response = engineer_api.post(url, {"role": "commander", "user": "eddie"})
    assert response.status_code == 201, response.content
    assert response.json()["user"] == "eddie"
    response = engineer_api.post(url, {"role": "commander", "user": "OLGA"})
    assert response.status_code == 201
    assert engineer_api.get(detail(declared.reference)).json()["roles"][0]["user"] == "olga"
    response = engineer_api.post(url, {"role": "commander", "user": "olga"})
    assert response.status_code == 400
    assert list(response.json()) == ["user"]
    response = engineer_api.post(url, {"role": "juggler", "user": "olga"})
    assert list(response.json()) == ["role"]


def test_status_updates_are_posted(engineer_api, declared):
    url = detail(declared.reference) + "updates/"
    payload = {
        "audience": "status_page",
        "status": "Investigating",
        "impact": "Checkout fails",
        "action": "Rolling back",
        "eta": "30 min",
    }
    response = engineer_api.post(url, payload)
    assert response.status_code == 201, response.content
    assert response.json()["audience"] == "status_page"
    assert StatusUpdate.objects.get().author.username == "eddie"
    response = engineer_api.post(url, {**payload, "impact": ""})
    assert list(response.json()) == ["impact"]


def test_acting_on_a_closed_incident_is_refused_with_the_service_message(
    engineer_api, declared, engineer
):
    checklist = services.ResolutionChecklist.all_confirmed()
    services.incident_resolve(incident=declared, by=engineer, checklist=checklist)
    services.incident_change_status(incident=declared, to_status="closed", by=engineer)
    response = engineer_api.post(detail(declared.reference) + "severity/", {"severity": "SEV-1"})
    assert response.json() == {"severity": [services.CLOSED_IS_FINAL]}
    payload = {"status": "a", "impact": "b", "action": "c", "eta": "d"}
    response = engineer_api.post(detail(declared.reference) + "updates/", payload)
    assert response.json() == {"non_field_errors": [services.CLOSED_IS_FINAL]}


# --- Timeline ------------------------------------------------------------------------------------


def test_the_timeline_is_paginated_oldest_first(engineer_api, engineer, declared):
    for n in range(5):
        services.note_add(incident=declared, author=engineer, text=f"note {n}")
    url = detail(declared.reference) + "timeline/"
    response = engineer_api.get(url, {"page_size": 4})
    body = response.json()
    assert [e["kind"] for e in body["results"]][:1] == ["declared"]
    assert len(body["results"]) == 4
    rest = engineer_api.get(body["next"]).json()
    messages = [e["message"] for e in body["results"] + rest["results"]]
    assert messages[-5:] == [f"note {n}" for n in range(5)]
    assert rest["next"] is None
    notes = engineer_api.get(url, {"kind": "note"}).json()["results"]
    assert {e["kind"] for e in notes} == {TimelineEventKind.NOTE}
    assert notes[0]["author"] == "eddie"
    assert notes[0]["payload"] == {"text": "note 0"}


def test_the_timeline_of_an_unknown_incident_is_404(engineer_api, db):
    assert_problem(engineer_api.get(detail("INC-1999-0001") + "timeline/"), 404)


# --- Reference data -----------------------------------------------------------------------------


def test_severities_teams_and_services(engineer_api, checkout):
    severities = engineer_api.get("/api/v1/severities/").json()
    assert [s["name"] for s in severities] == ["SEV-1", "SEV-2", "SEV-3"]
    assert severities[0]["acknowledge_within"] == "P0DT00H05M00S"
    one = engineer_api.get("/api/v1/severities/SEV-1/")
    assert one.status_code == 200
    assert one["ETag"]
    teams = engineer_api.get("/api/v1/teams/").json()["results"]
    assert teams[0]["name"] == "Platform"
    assert "chat_webhook_url" not in teams[0]
    team = engineer_api.get(f"/api/v1/teams/{teams[0]['id']}/")
    assert team.json()["name"] == "Platform"
    svc = engineer_api.get("/api/v1/services/").json()["results"]
    assert svc == [
        {
            "id": checkout.pk,
            "name": "checkout",
            "team": "Platform",
            "description": "",
            "is_public": True,
        }
    ]
    assert engineer_api.get(f"/api/v1/services/{checkout.pk}/").status_code == 200


def test_services_are_filtered_by_their_team(engineer_api, checkout):
    ServiceFactory(name="warehouse", team=TeamFactory(name="Data"))

    def names(**params):
        response = engineer_api.get("/api/v1/services/", params)
        assert response.status_code == 200, response.content
        return [row["name"] for row in response.json()["results"]]

    assert names() == ["checkout", "warehouse"]
    assert names(team="platform") == ["checkout"]
    assert names(team="Data") == ["warehouse"]
    # A team nobody has is a 400 naming the parameter, not every service.
    unknown = engineer_api.get("/api/v1/services/", {"team": "Nowhere"})
    assert unknown.status_code == 400
    assert unknown.json() == {"team": ["No team is named “Nowhere”."]}


# --- Who may -------------------------------------------------------------------------------------

READS = [INCIDENTS, "/api/v1/severities/", "/api/v1/teams/", "/api/v1/services/"]


@pytest.mark.parametrize("url", READS)
def test_finance_sees_none_of_the_incident_data(finance_api, url):
    assert_problem(finance_api.get(url), 403, "permission_denied")


@pytest.mark.parametrize("url", READS)
def test_anonymous_requests_are_401(anon_api, db, url):
    assert_problem(anon_api.get(url), 401)


def test_finance_cannot_declare_or_act(finance_api, declared):
    assert_problem(finance_api.post(INCIDENTS, {"title": "x", "severity": "SEV-3"}), 403)
    assert_problem(finance_api.get(detail(declared.reference)), 403)
    for action, payload in [
        ("status/", {"to_status": "identified"}),
        ("severity/", {"severity": "SEV-1"}),
        ("roles/", {"role": "scribe", "user": "fiona"}),
        ("updates/", {"status": "a", "impact": "b", "action": "c", "eta": "d"}),
        ("timeline/", None),
    ]:
        url = detail(declared.reference) + action
        response = finance_api.get(url) if payload is None else finance_api.post(url, payload)
        assert_problem(response, 403)
    declared.refresh_from_db()
    assert declared.severity.name == "SEV-2"


def test_managers_do_everything(manager_api, declared):
    assert manager_api.get(detail(declared.reference)).status_code == 200
    response = manager_api.post(detail(declared.reference) + "status/", {"to_status": "identified"})
    assert response.status_code == 200


def test_a_user_without_a_group_is_refused(api_for, db):
    from tests.incidents.factories import UserFactory

    nobody = UserFactory(username="nobody")
    assert_problem(api_for(nobody).get(INCIDENTS), 403)
    nobody.groups.add(Group.objects.get(name=ENGINEERS))
    assert api_for(nobody).get(INCIDENTS).status_code == 200


def test_filter_moments_with_any_offset_are_read_in_utc(engineer_api, platform):
    # Python accepts offsets up to ±23:59, PostgreSQL only ±15:59: compared in UTC.
    IncidentFactory(team=platform, started_at=NOW)
    response = engineer_api.get(INCIDENTS, {"started_after": "2026-03-10T23:00:00+23:00"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1
    response = engineer_api.get(INCIDENTS, {"started_after": "0001-01-01T00:00:00+01:00"})
    assert response.status_code == 400


def test_a_nul_character_in_the_path_finds_nothing(engineer_api, db):
    assert_problem(engineer_api.get(detail("INC%00")), 404)
    assert_problem(engineer_api.get(detail("INC%00") + "timeline/"), 404)


def test_the_list_renders_each_incident_as_the_documented_serializer_does(
    engineer_api, engineer, checkout
):
    """The list is built from plain rows for speed; it must say exactly what
    ``IncidentListSerializer`` (the schema's description of a row) says for every incident:
    with and without a team, services, a commander, and moments set or not."""
    from incidents import selectors
    from incidents.api.serializers import IncidentListSerializer

    bare = IncidentFactory(team=None, started_at=NOW - timedelta(days=2))
    full = services.incident_declare(
        title="Payments =down", severity="SEV-1", declared_by=engineer, services=[checkout]
    )
    full.services.add(ServiceFactory(name="api-gateway"), ServiceFactory(name="zebra"))
    services.role_assign(incident=full, role="commander", user=engineer, by=None)
    services.incident_change_status(incident=full, by=engineer, to_status="identified")
    engineer.first_name, engineer.last_name = "Ada", "Lovelace"
    engineer.save()

    response = engineer_api.get(INCIDENTS)

    assert response.status_code == 200
    rows = {row["reference"]: row for row in response.json()["results"]}
    instances = selectors.incident_list(with_services=True).filter(pk__in=[bare.pk, full.pk])
    expected = {row["reference"]: row for row in IncidentListSerializer(instances, many=True).data}
    assert rows == expected
    assert list(rows[full.reference]) == list(expected[full.reference])  # same key order
    assert rows[full.reference]["commander"] == "Ada Lovelace"
    assert rows[full.reference]["services"] == ["api-gateway", "checkout", "zebra"]
    assert rows[bare.reference]["team"] is None
    assert rows[bare.reference]["commander"] is None


def test_list_moments_are_utc_with_microseconds_only_when_there_are_some(engineer_api):
    whole = IncidentFactory(started_at=NOW - timedelta(hours=3))
    fine = IncidentFactory(started_at=NOW - timedelta(hours=2, microseconds=-250))
    rows = {row["reference"]: row for row in engineer_api.get(INCIDENTS).json()["results"]}
    assert rows[whole.reference]["started_at"] == "2026-03-10T09:00:00Z"
    assert rows[fine.reference]["started_at"] == "2026-03-10T10:00:00.000250Z"


def test_the_browsable_list_shows_the_same_rows_as_the_json_one(
    engineer_api, client, engineer, checkout
):
    incident = services.incident_declare(
        title="Checkout <slow>", severity="SEV-2", declared_by=engineer, services=[checkout]
    )
    client.force_login(engineer)
    html = client.get(INCIDENTS, HTTP_ACCEPT="text/html")
    rows = engineer_api.get(INCIDENTS).json()["results"]
    assert html.status_code == 200
    assert [row["reference"] for row in rows] == [incident.reference]
    assert incident.reference in html.content.decode()
    assert "Checkout &lt;slow&gt;" in html.content.decode()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL prepares them")
def test_the_lists_hot_statements_are_prepared_once_per_connection(engineer_api, db):
    """The token lookup and the page's rows are planned once per connection, not per call."""
    IncidentFactory()
    for _ in range(3):
        assert engineer_api.get(INCIDENTS).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE NOT from_sql"
            " AND (statement LIKE %s OR statement LIKE %s)",
            ["%json_build_object%", "%incidents_apitoken%"],
        )
        statements = [row[0] for row in cursor.fetchall()]
    assert len(statements) == 2


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"detected_at": "0001-01-01T00:00:00Z"}, "detected_at", "Detection cannot be before 1900"),
        ({"started_at": "1850-06-01T00:00:00Z"}, "started_at", "The start cannot be before 1900"),
        ({"started_at": "2999-01-01T00:00:00Z"}, "started_at", "The start cannot be in the future"),
        ({"detected_at": "2999-01-01T00:00:00Z"}, "detected_at", "Detection cannot be in the fut"),
    ],
)
def test_a_bad_moment_is_named_under_the_field_the_client_sent(engineer_api, given, field, message):
    response = engineer_api.post(
        "/api/v1/incidents/", {"title": "Odd clock", "severity": "SEV-3", **given}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert response.json()[field][0].startswith(message)
    assert not Incident.objects.exists()
