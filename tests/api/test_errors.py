"""The error bodies: field errors for validation, problems for everything else."""

import pytest
from django.db import IntegrityError
from rest_framework import exceptions

from incidents import selectors
from incidents.api.errors import _flatten
from tests.api.conftest import assert_problem

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/v1/incidents/"


def test_an_unexpected_error_is_logged_and_answered_with_a_500_problem(
    engineer_api, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("boom")

    # The list reads one or the other (JSON rows on PostgreSQL).
    monkeypatch.setattr(selectors, "incident_rows", broken)
    monkeypatch.setattr(selectors, "incident_page_keys", broken)
    body = assert_problem(engineer_api.get(INCIDENTS), 500, "server_error")
    assert "boom" not in body["detail"]
    assert "API error" in caplog.text


def test_a_database_conflict_is_a_409_problem(engineer_api, monkeypatch):
    def conflicting(**kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr("incidents.services.incident_declare", conflicting)
    response = engineer_api.post(INCIDENTS, {"title": "x", "severity": "SEV-3"})
    assert_problem(response, 409, "conflict")


def test_unsupported_methods_and_formats(engineer_api):
    assert_problem(engineer_api.delete(INCIDENTS), 405, "method_not_allowed")
    assert_problem(engineer_api.get(INCIDENTS, HTTP_ACCEPT="text/csv"), 406, "not_acceptable")


def test_nested_errors_are_flattened_to_lists_of_strings():
    detail = exceptions.ValidationError(
        {"checklist": {"issue_fixed": ["Must be a valid boolean."]}, "services": [{}, ["bad"]]}
    ).detail
    assert _flatten(detail) == {
        "checklist.issue_fixed": ["Must be a valid boolean."],
        "services.1": ["bad"],
    }
    assert _flatten(["whole request"]) == {"non_field_errors": ["whole request"]}


def test_an_unknown_api_path_is_a_problem_json_404(client):
    response = client.post("/api/v1/pages/0.9/acknowledge/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404
    html = client.get("/no-such-page/")
    assert html.status_code == 404
    assert html["Content-Type"].startswith("text/html")
