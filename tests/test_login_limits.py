"""Failed sign-ins are limited per account (and per address), on the engineers' login page and
the admin's; a good password after the limit is refused too, until the window has passed."""

import pytest
from django.core.cache import cache

from config.login import PER_ACCOUNT, TOO_MANY

pytestmark = pytest.mark.django_db
GOOD = "right-password-1"
FULLWIDTH_MARIA = "".join(chr(ord(c) - ord("a") + 0xFF41) for c in "maria")


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


def test_another_spelling_of_the_same_name_counts_as_that_name(client, manager):
    manager.set_password(GOOD)
    manager.save()
    for _ in range(PER_ACCOUNT):
        client.post("/accounts/login/", {"username": "maria", "password": "wrong"})
    # Fullwidth letters: Django reads them as "maria" when it looks the account up.
    refused = client.post("/accounts/login/", {"username": FULLWIDTH_MARIA, "password": GOOD})
    assert TOO_MANY in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_each_attempt_is_counted_before_its_password_is_checked(manager, monkeypatch):
    """So guesses sent at once cannot all pass the limit while the first is being hashed."""
    from django.contrib.auth.forms import AuthenticationForm
    from django.test import RequestFactory

    from config.login import ThrottledAuthenticationForm, _key

    seen = []
    check = AuthenticationForm.clean

    def checking(form):
        seen.append(cache.get(_key("maria")))
        return check(form)

    monkeypatch.setattr(AuthenticationForm, "clean", checking)
    for _ in range(PER_ACCOUNT + 3):
        form = ThrottledAuthenticationForm(
            RequestFactory().post("/"), data={"username": "maria", "password": "wrong"}
        )
        form.is_valid()
    assert seen == list(range(1, PER_ACCOUNT + 1))  # counted first; none hashed past the limit


def test_the_password_reset_mail_is_sent_by_the_worker_not_the_request(
    client, manager, monkeypatch, mailoutbox
):
    queued = []
    monkeypatch.setattr(
        "incidents.tasks.send_password_reset.delay", lambda *args: queued.append(args)
    )
    for address in (manager.email, "nobody@example.com"):
        response = client.post("/accounts/password_reset/", {"email": address})
        assert response.status_code == 302
    assert mailoutbox == []  # nothing sent inside either request
    [(subject, body, _, to, _)] = queued
    assert subject
    assert to == manager.email
    assert "/accounts/reset/" in body


def test_a_sign_in_without_a_password_does_not_clear_the_count(client, manager):
    manager.set_password(GOOD)
    manager.save()
    for _ in range(PER_ACCOUNT - 1):
        client.post("/admin/login/", {"username": "maria", "password": "wrong"})
    client.post("/admin/login/", {"username": "maria", "password": ""})
    client.post("/admin/login/", {"username": "maria", "password": "wrong"})
    refused = client.post("/admin/login/", {"username": "maria", "password": GOOD})
    assert TOO_MANY in refused.content.decode()
