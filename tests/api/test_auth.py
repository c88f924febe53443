from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from incidents import services
from incidents.models import ApiToken
from incidents.models.api import hash_token
from tests.api.conftest import assert_problem, client_with_token, token_for
from tests.incidents.factories import UserFactory

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/v1/incidents/"


def test_a_token_acts_as_its_user(engineer):
    response = client_with_token(token_for(engineer)).get(INCIDENTS)
    assert response.status_code == 200


def test_the_api_root_lists_the_endpoints_for_anyone_signed_in(engineer, finance_user, db):
    for user in (engineer, finance_user):
        response = client_with_token(token_for(user)).get("/api/v1/")
        assert response.status_code == 200
        assert response.json()["incidents"].endswith(INCIDENTS)
    assert_problem(APIClient().get("/api/v1/"), 401)


def test_the_token_scheme_may_also_be_called_token(engineer):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(engineer)}")
    assert client.get(INCIDENTS).status_code == 200


def test_only_a_hash_of_the_token_is_stored(engineer):
    plain = token_for(engineer)
    token = ApiToken.objects.get(user=engineer)
    assert plain.startswith("idk_" + token.prefix + ".")
    assert token.key_hash == hash_token(plain)
    stored = " ".join(str(v) for v in ApiToken.objects.values_list().get())
    assert plain.split(".", 1)[1] not in stored


def test_no_credentials_is_401_with_a_bearer_challenge(anon_api, db):
    response = anon_api.get(INCIDENTS)
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    ["Bearer idk_nope.nope", "Bearer", "Bearer a b", "Bearer not-even-shaped"],
)
def test_a_wrong_token_is_401(engineer, header):
    token_for(engineer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_problem(client.get(INCIDENTS), 401, "authentication_failed")


def test_a_token_with_the_right_prefix_but_wrong_secret_is_401(engineer):
    plain = token_for(engineer)
    forged = plain[:-4] + ("aaaa" if not plain.endswith("aaaa") else "bbbb")
    assert_problem(client_with_token(forged).get(INCIDENTS), 401)


def test_a_revoked_token_stops_working_at_once(engineer, manager):
    plain = token_for(engineer)
    client = client_with_token(plain)
    assert client.get(INCIDENTS).status_code == 200
    services.api_token_revoke(token=ApiToken.objects.get(user=engineer), by=manager)
    assert_problem(client.get(INCIDENTS), 401, "authentication_failed")


def test_the_token_of_an_inactive_user_is_refused(engineer):
    client = client_with_token(token_for(engineer))
    engineer.is_active = False
    engineer.save()
    assert_problem(client.get(INCIDENTS), 401)


def test_last_used_is_stamped_at_most_once_a_minute(engineer):
    client = client_with_token(token_for(engineer))
    with time_machine.travel("2026-03-02 09:00:00+00:00", tick=False):
        client.get(INCIDENTS)
        first = ApiToken.objects.get().last_used_at
        assert first is not None
    with time_machine.travel("2026-03-02 09:00:30+00:00", tick=False):
        client.get(INCIDENTS)
        assert ApiToken.objects.get().last_used_at == first
    with time_machine.travel("2026-03-02 09:01:30+00:00", tick=False):
        client.get(INCIDENTS)
        assert ApiToken.objects.get().last_used_at == first + timedelta(seconds=90)


def test_issuing_needs_a_name_and_an_active_user(engineer, manager):
    with pytest.raises(services.ValidationError) as error:
        services.api_token_issue(user=engineer, name="  ", by=manager)
    assert error.value.message_dict == {"name": [services.API_KEY_NAME_REQUIRED]}
    engineer.is_active = False
    with pytest.raises(services.ValidationError):
        services.api_token_issue(user=engineer, name="x", by=manager)


# --- Session authentication (browsable API) ---------------------------------------------------


def test_session_users_use_the_api_and_csrf_is_enforced(engineer, platform):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(engineer)
    assert client.get(INCIDENTS).status_code == 200
    response = client.post(INCIDENTS, {"title": "x", "severity": "SEV-3"}, format="json")
    assert_problem(response, 403, "permission_denied")
    assert "CSRF" in response.json()["detail"]


def test_the_browsable_api_renders_for_a_signed_in_person(client, engineer):
    client.force_login(engineer)
    response = client.get(INCIDENTS, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Incident" in response.content


# --- Admin: managers issue and revoke ----------------------------------------------------------


def test_a_manager_issues_a_token_in_the_admin_and_sees_it_once(manager_client, engineer):
    response = manager_client.post(
        reverse("admin:incidents_apitoken_add"), {"user": engineer.pk, "name": "Alertmanager"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get()
    assert token.user == engineer
    assert token.created_by.username == "maria"
    plain = response.context["plain"]
    assert plain.encode() in response.content
    assert token.key_hash == hash_token(plain)
    assert client_with_token(plain).get(INCIDENTS).status_code == 200
    # Never shown again: the change page has only the prefix.
    page = manager_client.get(reverse("admin:incidents_apitoken_change", args=[token.pk]))
    assert page.status_code == 200
    assert plain.encode() not in page.content
    assert token.prefix.encode() in page.content


def test_the_admin_refuses_a_token_for_an_inactive_user(manager_client, engineer):
    engineer.is_active = False
    engineer.save()
    response = manager_client.post(
        reverse("admin:incidents_apitoken_add"), {"user": engineer.pk, "name": "x"}
    )
    assert response.status_code == 200
    assert not ApiToken.objects.exists()
    assert b"not an active user" in response.content


def test_a_manager_revokes_tokens_in_the_admin(manager_client, engineer):
    plain = token_for(engineer)
    token = ApiToken.objects.get()
    response = manager_client.post(
        reverse("admin:incidents_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_by.username == "maria"
    assert_problem(client_with_token(plain).get(INCIDENTS), 401)
    # Revoking again says so and changes nothing.
    manager_client.post(
        reverse("admin:incidents_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_by.username == "maria"


def test_the_token_admin_lists_searches_and_never_deletes(manager_client, engineer):
    token_for(engineer)
    url = reverse("admin:incidents_apitoken_changelist")
    assert manager_client.get(url).status_code == 200
    assert manager_client.get(url, {"q": "eddie"}).status_code == 200
    assert manager_client.get(url, {"revoked_at__isempty": "1"}).status_code == 200
    token = ApiToken.objects.get()
    delete = reverse("admin:incidents_apitoken_delete", args=[token.pk])
    assert manager_client.get(delete).status_code == 403


def test_engineers_cannot_reach_the_token_admin(client, engineer):
    engineer.is_staff = True
    engineer.save()
    client.force_login(engineer)
    response = client.get(reverse("admin:incidents_apitoken_changelist"))
    assert response.status_code == 302


def test_a_token_reads_its_users_own_and_group_permissions_afresh_each_call(engineer):
    """The token's lookup reads the user's permissions with it: a permission granted to the
    person directly counts, and taking one away (or the group) refuses the next call."""
    from django.contrib.auth.models import Permission

    from tests.incidents.factories import UserFactory

    loner = UserFactory()  # in no group
    client = client_with_token(token_for(loner))
    assert_problem(client.get(INCIDENTS), 403)
    view = Permission.objects.get(codename="view_incident", content_type__app_label="incidents")
    loner.user_permissions.add(view)
    assert client.get(INCIDENTS).status_code == 200
    loner.user_permissions.remove(view)
    assert_problem(client.get(INCIDENTS), 403)

    grouped = client_with_token(token_for(engineer))
    assert grouped.get(INCIDENTS).status_code == 200
    engineer.groups.clear()
    assert_problem(grouped.get(INCIDENTS), 403)


def test_only_a_superuser_issues_a_token_acting_as_a_superuser(manager_client):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    response = manager_client.post(
        reverse("admin:incidents_apitoken_add"), {"user": root.pk, "name": "x"}
    )
    assert response.status_code == 200
    assert "Only a superuser can issue a token acting as a superuser." in response.content.decode()
    assert not ApiToken.objects.exists()
