"""Fixtures for the REST API tests: a token client per group, and a small world of teams,
services and incidents."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from incidents import services
from tests.incidents.factories import ServiceFactory, TeamFactory


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # Rate-limit counters live in the shared cache (Redis under `make test`).
    cache.clear()
    yield
    cache.clear()


def token_for(user) -> str:
    _, plain = services.api_token_issue(user=user, name=f"tests for {user.username}", by=None)
    return plain


def client_with_token(plain: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    return client


@pytest.fixture
def api_for():
    """``api_for(user)``: an API client authenticated with a fresh token of ``user``."""
    return lambda user: client_with_token(token_for(user))


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def manager_api(api_for, manager):
    return api_for(manager)


@pytest.fixture
def engineer_api(api_for, engineer):
    return api_for(engineer)


@pytest.fixture
def other_engineer_api(api_for, other_engineer):
    return api_for(other_engineer)


@pytest.fixture
def finance_api(api_for, finance_user):
    return api_for(finance_user)


@pytest.fixture
def platform(db):
    return TeamFactory(name="Platform")


@pytest.fixture
def checkout(platform):
    return ServiceFactory(name="checkout", team=platform)


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """The response is an RFC 7807 problem with this status (and code)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "code"}
    assert body["status"] == status
    assert body["type"].startswith("urn:incidentdesk:problem:")
    if code is not None:
        assert body["code"] == code
    return body
