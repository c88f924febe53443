"""Requests no client of ours sends, answered as the API promises: a 400 naming the field, a
405 for a method a view does not take, HEAD like GET."""

import pytest

from tests.api.conftest import assert_problem
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db

NUL = "\u0000"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/v1/incidents/",
            {"title": "t", "severity": "SEV-2", "services": [f"ch{NUL}"]},
            "services.0",
        ),
        (
            "/api/v1/incidents/",
            {"title": "t", "severity": "SEV-2", "team": f"Plat{NUL}form"},
            "team",
        ),
        ("/api/v1/pages/", {"engineer": f"ma{NUL}ria"}, "engineer"),
        ("/api/v1/pages/", {"engineer": "maria", "incident": f"INC{NUL}"}, "incident"),
    ],
)
def test_a_nul_character_in_a_name_is_a_400_naming_the_field(
    manager_api, platform, checkout, path, body, field
):
    response = manager_api.post(path, body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_role_goes_to_an_engineer_or_manager_never_to_finance(
    engineer_api, finance_user, manager, platform
):
    incident = IncidentFactory(team=platform)
    roles = f"/api/v1/incidents/{incident.reference}/roles/"
    refused = engineer_api.post(roles, {"role": "commander", "user": finance_user.username})
    assert refused.status_code == 400
    assert "user" in refused.json()
    assert (
        engineer_api.post(roles, {"role": "commander", "user": manager.username}).status_code == 201
    )
    nul = engineer_api.post(roles, {"role": "scribe", "user": f"ma{NUL}ria"}, format="json")
    assert nul.status_code == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/alerts/"),
        ("post", "/api/v1/compensation/"),
        ("delete", "/api/v1/oncall/now/"),
    ],
)
def test_a_method_a_view_does_not_take_is_a_405(manager_api, method, path):
    assert_problem(getattr(manager_api, method)(path), 405)


def test_head_is_answered_like_get(finance_api, engineer_api):
    report = "/api/v1/compensation/?start=2026-01-01&end=2026-01-31"
    assert finance_api.head(report).status_code == 200
    assert engineer_api.head("/api/v1/oncall/now/").status_code == 200
    assert engineer_api.head(report).status_code == 403  # still the GET's permissions


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/incidents/", '{"title": "t", "severity": "SEV-2", "team": "\\ud800"}'),
        ("/api/v1/incidents/", '{"title": "t", "severity": "SEV-2", "services": ["\\udfff"]}'),
        (
            "/api/v1/incidents/",
            '{"title": "t", "severity": "SEV-2", "detection_method": "\\ud800"}',
        ),
        ("/api/v1/pages/", '{"engineer": "\\ud800"}'),
        ("/api/v1/incidents/", '{"title": "t", "severity": "SEV-2", "\\ud800": 1}'),
    ],
)
def test_a_lone_surrogate_is_a_400_and_writes_nothing(manager_api, platform, path, body):
    """Valid JSON, not text: PostgreSQL cannot compare it and no message can quote it."""
    from incidents.models import Incident

    response = manager_api.generic("POST", path, body, content_type="application/json")
    assert_problem(response, 400)
    assert "lone surrogate" in response.json()["detail"]
    assert not Incident.objects.exists()


@pytest.mark.parametrize("depth", [1000, 5000])
def test_json_nested_too_deeply_is_a_400(manager_api, depth):
    body = "[" * depth + "]" * depth
    for path in ("/api/v1/incidents/", "/api/v1/alerts/"):
        response = manager_api.generic("POST", path, body, content_type="application/json")
        assert_problem(response, 400)
        assert "nested too deeply" in response.json()["detail"]


def test_the_documentation_pages_answer_options_without_an_error(client, engineer):
    client.force_login(engineer)
    for path in ("/api/schema/swagger-ui/", "/api/schema/redoc/"):
        assert client.options(path).status_code == 405
        assert client.get(path).status_code == 200


def test_an_address_without_its_slash_keeps_the_method_and_says_why(engineer_api):
    """Django would answer an HTML 301 that clients follow as a GET; a 308 keeps the POST."""
    response = engineer_api.post("/api/v1/alerts", {"title": "x"}, format="json")
    body = assert_problem(response, 308, "trailing_slash")
    assert response["Location"] == "/api/v1/alerts/"
    assert "end with a slash" in body["detail"]
    response = engineer_api.get("/api/v1/incidents?severity=SEV-1")
    assert response.status_code == 308
    assert response["Location"] == "/api/v1/incidents/?severity=SEV-1"
    assert_problem(engineer_api.get("/api/v1/nothing-here"), 404, "not_found")


def test_names_in_filters_follow_the_apis_name_rule(manager_api, platform):
    """The exact name wins; several differing only in case, or none, is a 400 naming it."""
    from tests.incidents.factories import ServiceFactory, TeamFactory

    lower = ServiceFactory(name="checkout", team=platform)
    upper = ServiceFactory(name="Checkout", team=TeamFactory(name="Shop"))
    mine, theirs = IncidentFactory(team=platform), IncidentFactory(team=upper.team)
    mine.services.add(lower)
    theirs.services.add(upper)
    listed = manager_api.get("/api/v1/incidents/", {"service": "checkout"}).json()["results"]
    assert [row["reference"] for row in listed] == [mine.reference]
    ambiguous = manager_api.get("/api/v1/incidents/", {"service": "CHECKOUT"})
    assert ambiguous.status_code == 400
    assert list(ambiguous.json()) == ["service"]
    assert manager_api.get("/api/v1/incidents/", {"team": "PLATFORM"}).status_code == 200
    unknown = manager_api.get("/api/v1/incidents/", {"team": "Nowhere"})
    assert unknown.json() == {"team": ["No team is named “Nowhere”."]}
    assert manager_api.get("/api/v1/incidents/", {"severity": "sev-9"}).status_code == 400


def test_a_percent_sign_in_a_filtered_name_is_a_400_not_a_500(manager_api, platform):
    """The name is quoted back in the message, which django-filter formats with "%"."""
    from tests.incidents.factories import ServiceFactory

    for url, name in [
        ("/api/v1/incidents/", "team"),
        ("/api/v1/shifts/", "engineer"),
        ("/api/v1/pages/", "team"),
    ]:
        for value in ("%s", "100%", "%(what)s"):
            response = manager_api.get(url, {name: value})
            assert response.status_code == 400, (url, value)
            assert response.json()[name][0].endswith(f"named “{value}”.")
    ServiceFactory(name="50%off", team=platform)
    ServiceFactory(name="50%OFF", team=platform)
    ambiguous = manager_api.get("/api/v1/incidents/", {"service": "50%Off"})
    assert ambiguous.status_code == 400
    assert "50%off, 50%OFF" in ambiguous.json()["service"][0]
