"""Idempotency keys and dedup keys under truly concurrent requests (PostgreSQL, threads).

Each test slows the create down inside its transaction so every request is in flight at once:
the others must wait for the first and then answer from what it did, never create twice."""

import threading
import time

import pytest
from django.db import connection, connections

from incidents import services
from incidents.models import IdempotencyKey, Incident, TimelineEvent
from oncall.models import Page
from tests.api.conftest import client_with_token, token_for
from tests.incidents.factories import ServiceFactory, TeamFactory, UserFactory
from tests.oncall.factories import engineer as oncall_engineer

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locking under real concurrency"
    ),
]

THREADS = 8


def concurrently(request):
    """Run ``request(i)`` in THREADS threads released together; return their responses."""
    barrier = threading.Barrier(THREADS)
    responses: list = [None] * THREADS
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            responses[i] = request(i)
        except BaseException as error:  # reported below; a thread must not die silently
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return responses


@pytest.fixture
def slow_declare(monkeypatch):
    real = services.incident_declare

    def slow(**kwargs):
        time.sleep(0.3)  # everyone else arrives while this transaction is open
        return real(**kwargs)

    monkeypatch.setattr(services, "incident_declare", slow)


@pytest.fixture
def engineer_user(db):
    from django.contrib.auth.models import Group

    user = UserFactory(username="eddie")
    user.groups.add(Group.objects.get(name="Engineers"))
    return user


def test_one_idempotency_key_declares_once_under_concurrency(engineer_user, slow_declare):
    plain = token_for(engineer_user)
    payload = {"title": "Checkout down", "severity": "SEV-2"}

    def declare(i):
        return client_with_token(plain).post(
            "/api/v1/incidents/", payload, HTTP_IDEMPOTENCY_KEY="same-key"
        )

    responses = concurrently(declare)
    assert [r.status_code for r in responses] == [201] * THREADS
    assert len({r.content for r in responses}) == 1
    assert sum(1 for r in responses if r.get("Idempotent-Replayed") == "true") == THREADS - 1
    assert Incident.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1


def test_one_dedup_key_opens_one_incident_under_concurrency(engineer_user, slow_declare):
    ServiceFactory(name="checkout", team=TeamFactory(name="Platform"))
    plain = token_for(engineer_user)

    def alert(i):
        return client_with_token(plain).post(
            "/api/v1/alerts/",
            {
                "source": "alertmanager",
                "dedup_key": "checkout-5xx",
                "summary": f"Checkout 5xx #{i}",
                "service": "checkout",
            },
        )

    responses = concurrently(alert)
    assert sorted(r.status_code for r in responses) == [200] * (THREADS - 1) + [201]
    created = [r.json()["created"] for r in responses]
    assert created.count(True) == 1
    assert len({r.json()["incident"]["reference"] for r in responses}) == 1
    incident = Incident.objects.get()
    assert incident.dedup_key == "checkout-5xx"
    # Every alert is on the timeline: the opening one and the seven that joined it.
    notes = TimelineEvent.objects.filter(incident=incident, kind="note")
    assert notes.count() == THREADS
    # References were not burnt by the losers (their savepoint rolled the counter back).
    assert incident.reference.endswith("-0001")


def test_one_idempotency_key_records_one_page_under_concurrency(monkeypatch):
    from django.contrib.auth.models import Group

    from oncall import services as oncall_services

    manager = UserFactory(username="maria")
    manager.groups.add(Group.objects.get(name="Managers"))
    oncall_engineer("ada")
    plain = token_for(manager)
    real = oncall_services.page_from_paging_tool

    def slow(**kwargs):
        time.sleep(0.3)
        return real(**kwargs)

    monkeypatch.setattr(oncall_services, "page_from_paging_tool", slow)

    def page(i):
        return client_with_token(plain).post(
            "/api/v1/pages/", {"engineer": "ada"}, HTTP_IDEMPOTENCY_KEY="page-1"
        )

    responses = concurrently(page)
    assert [r.status_code for r in responses] == [201] * THREADS
    assert len({r.json()["id"] for r in responses}) == 1
    assert Page.objects.count() == 1


def test_a_page_retried_without_a_key_is_recorded_once_under_concurrency(monkeypatch):
    # A paging tool retries while its first request is still open, with no Idempotency-Key:
    # one page, not eight to be acknowledged and paid comp time for.
    from django.contrib.auth.models import Group

    from oncall import services as oncall_services

    manager = UserFactory(username="maria")
    manager.groups.add(Group.objects.get(name="Managers"))
    oncall_engineer("ada")
    plain = token_for(manager)
    real = oncall_services.page_record

    def slow(**kwargs):
        time.sleep(0.3)  # the others arrive after the check, before this page is committed
        return real(**kwargs)

    monkeypatch.setattr(oncall_services, "page_record", slow)
    body = {"engineer": "ada", "paged_at": "2026-03-03T02:00:00Z"}

    responses = concurrently(lambda i: client_with_token(plain).post("/api/v1/pages/", body))
    assert sorted(r.status_code for r in responses) == [200] * (THREADS - 1) + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert Page.objects.count() == 1
