"""Failed sign-ins are limited per account (and per address), on the engineers' login page and
the admin's; a good password after the limit is refused too, until the window has passed."""

import pytest
from django.core.cache import cache

from config.login import PER_ACCOUNT, TOO_MANY

pytestmark = pytest.mark.django_db
GOOD = "right-password-1"


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_guessing_stops_after_the_limit(client, manager, url):
    manager.set_password("right-password-1")
    manager.save()
    for _ in range(PER_ACCOUNT):
        response = client.post(url, {"username": "maria", "password": "wrong"})
        assert response.status_code == 200
        assert TOO_MANY not in response.content.decode()
    refused = client.post(url, {"username": "MARIA", "password": "right-password-1"})
    assert TOO_MANY in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_good_sign_in_clears_the_count(client, manager):
    manager.set_password("right-password-1")
    manager.save()
    for _ in range(PER_ACCOUNT - 1):
        client.post("/accounts/login/", {"username": "maria", "password": "wrong"})
    response = client.post(
        "/accounts/login/", {"username": "maria", "password": "right-password-1"}
    )
    assert response.status_code == 302
    client.logout()
    client.post("/accounts/login/", {"username": "maria", "password": "wrong"})
    response = client.post(
        "/accounts/login/", {"username": "maria", "password": "right-password-1"}
    )
    assert response.status_code == 302


def test_failures_on_other_accounts_do_not_lock_anyone_else_out(client, manager):
    manager.set_password(GOOD)
    manager.save()
    # Behind the TLS proxy every request has the proxy's address.
    for n in range(60):
        client.post("/accounts/login/", {"username": f"nobody{n}", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "maria", "password": GOOD})
    assert response.status_code == 302
