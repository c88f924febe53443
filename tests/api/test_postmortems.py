import pytest

from incidents.models import Profile
from postmortems import services as pm_services
from postmortems.models import ActionItemStatus
from tests.api.conftest import assert_problem
from tests.incidents.factories import ServiceFactory, TeamFactory, severity
from tests.postmortems.factories import (
    ActionItemFactory,
    FiveWhyFactory,
    PostmortemFactory,
    ResolvedIncidentFactory,
    TimelineEntryFactory,
)

pytestmark = pytest.mark.django_db

POSTMORTEMS = "/api/v1/postmortems/"
ITEMS = "/api/v1/action-items/"


@pytest.fixture
def postmortem(platform):
    pm = PostmortemFactory(incident__team=platform)
    TimelineEntryFactory(postmortem=pm, text="Alert fired")
    FiveWhyFactory(postmortem=pm, position=1, question="Why?", answer="Because.")
    return pm


@pytest.fixture
def item(postmortem, engineer, platform):
    Profile.objects.create(user=engineer, team=platform)
    return ActionItemFactory(postmortem=postmortem, owner=engineer, title="Add canary")


def test_postmortems_are_listed_and_read_by_incident_reference(engineer_api, postmortem, item):
    listed = engineer_api.get(POSTMORTEMS).json()["results"]
    assert [p["incident"] for p in listed] == [postmortem.incident.reference]
    assert listed[0]["team"] == "Platform"
    assert listed[0]["draft_overdue"] is True  # the factory's deadlines are long past
    response = engineer_api.get(f"{POSTMORTEMS}{postmortem.incident.reference}/")
    assert response.status_code == 200
    assert response["ETag"]
    body = response.json()
    assert body["timeline"][0]["text"] == "Alert fired"
    assert body["five_whys"] == [{"position": 1, "question": "Why?", "answer": "Because."}]
    assert body["action_items"][0]["title"] == "Add canary"
    assert body["action_items"][0]["team"] == "Platform"


def test_postmortem_filters(engineer_api, postmortem, platform):
    other = PostmortemFactory(status="draft", draft_started_at=postmortem.scheduled_at)

    def refs(**params):
        response = engineer_api.get(POSTMORTEMS, params)
        assert response.status_code == 200, response.content
        return {p["incident"] for p in response.json()["results"]}

    assert refs(status="draft") == {other.incident.reference}
    assert refs(team="platform") == {postmortem.incident.reference}
    assert refs(severity="SEV-2") == {postmortem.incident.reference, other.incident.reference}
    assert refs(overdue="false") == set()


def test_postmortems_and_action_items_by_service_and_severity(engineer_api, platform, engineer):
    checkout = ServiceFactory(name="checkout", team=platform)
    search = ServiceFactory(name="search", team=platform)
    ServiceFactory(name="Search", team=TeamFactory(name="Shop"))  # "SEARCH" is ambiguous
    both = ResolvedIncidentFactory(team=platform, severity=severity("SEV-1"))
    both.services.add(checkout, search)
    only_search = ResolvedIncidentFactory(team=platform)
    only_search.services.add(search)
    neither = ResolvedIncidentFactory(team=platform)
    pm_both, pm_search, pm_neither = (
        PostmortemFactory(incident=incident) for incident in (both, only_search, neither)
    )
    items = {pm: ActionItemFactory(postmortem=pm, owner=engineer) for pm in (pm_both, pm_search)}
    items[pm_neither] = ActionItemFactory(postmortem=pm_neither, owner=engineer)

    def postmortems(**params):
        response = engineer_api.get(POSTMORTEMS, params)
        assert response.status_code == 200, response.content
        return {row["incident"] for row in response.json()["results"]}

    def action_items(**params):
        response = engineer_api.get(ITEMS, params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    # Listed once each, however many of their incident's services match.
    assert postmortems(service="search") == {both.reference, only_search.reference}
    assert postmortems(service="CHECKOUT") == {both.reference}
    assert action_items(service="search") == {items[pm_both].pk, items[pm_search].pk}
    assert action_items(service="checkout") == {items[pm_both].pk}
    assert action_items(severity="sev-1") == {items[pm_both].pk}
    assert action_items(severity="SEV-2", service="search") == {items[pm_search].pk}
    for url in (POSTMORTEMS, ITEMS):
        unknown = engineer_api.get(url, {"service": "nowhere"})
        assert unknown.status_code == 400
        assert unknown.json() == {"service": ["No service is named “nowhere”."]}
        ambiguous = engineer_api.get(url, {"service": "SEARCH"})
        assert ambiguous.status_code == 400
        assert list(ambiguous.json()) == ["service"]
    unknown = engineer_api.get(ITEMS, {"severity": "SEV-9"})
    assert unknown.status_code == 400
    assert unknown.json() == {"severity": ["No severity is named “SEV-9”."]}


def test_action_items_list_filters_and_detail(engineer_api, item, other_engineer):
    ActionItemFactory(postmortem=item.postmortem, owner=other_engineer, due_date=None)
    results = engineer_api.get(ITEMS).json()["results"]
    assert [r["owner"] for r in results] == ["eddie", "olga"]  # undated items last
    assert [r["owner"] for r in engineer_api.get(ITEMS, {"owner": "OLGA"}).json()["results"]] == [
        "olga"
    ]
    assert engineer_api.get(ITEMS, {"overdue": "true"}).json()["results"][0]["id"] == item.pk
    assert engineer_api.get(ITEMS, {"team": "platform"}).json()["results"][0]["id"] == item.pk
    found = engineer_api.get(ITEMS, {"postmortem": item.postmortem.incident.reference})
    assert len(found.json()["results"]) == 2
    response = engineer_api.get(f"{ITEMS}{item.pk}/")
    assert response.json()["is_overdue"] is True
    assert response.json()["postmortem"] == item.postmortem.incident.reference


def test_the_owner_updates_status_and_tracker_link(engineer_api, item):
    url = f"{ITEMS}{item.pk}/"
    response = engineer_api.patch(
        url, {"status": "in_progress", "tracker_url": "https://tracker.example.com/T-1"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "in_progress"
    assert response.json()["tracker_url"] == "https://tracker.example.com/T-1"
    response = engineer_api.patch(url, {"status": "done"})
    assert response.json()["completed_by"] == "eddie"
    assert response.json()["completed_at"].endswith("Z")
    # Setting the status it has changes nothing.
    assert engineer_api.patch(url, {"status": "done"}).status_code == 200
    item.refresh_from_db()
    assert item.history.filter(history_user__username="eddie").exists()


def test_action_item_rules_are_the_services(engineer_api, item):
    url = f"{ITEMS}{item.pk}/"
    response = engineer_api.patch(url, {"tracker_url": "ftp://x"})
    assert response.json() == {"tracker_url": [pm_services.INVALID_TRACKER_URL]}
    engineer_api.patch(url, {"status": "wont_do"})
    response = engineer_api.patch(url, {"status": "done"})
    assert list(response.json()) == ["status"]
    # Both changes or neither: a refused status keeps the link unchanged.
    response = engineer_api.patch(url, {"tracker_url": "https://t.example.com/1", "status": "done"})
    assert response.status_code == 400
    item.refresh_from_db()
    assert item.tracker_url == ""
    assert item.status == ActionItemStatus.WONT_DO


def test_other_engineers_cannot_change_someone_elses_item(other_engineer_api, item):
    response = other_engineer_api.patch(f"{ITEMS}{item.pk}/", {"status": "done"})
    assert_problem(response, 403, "permission_denied")
    assert other_engineer_api.get(f"{ITEMS}{item.pk}/").status_code == 200


def test_managers_change_anyones_item(manager_api, item):
    response = manager_api.patch(f"{ITEMS}{item.pk}/", {"status": "in_progress"})
    assert response.status_code == 200


def test_put_is_not_offered(engineer_api, item):
    assert_problem(engineer_api.put(f"{ITEMS}{item.pk}/", {"status": "done"}), 405)


@pytest.mark.parametrize("url", [POSTMORTEMS, ITEMS])
def test_finance_and_anonymous_are_refused(finance_api, anon_api, item, url):
    assert_problem(finance_api.get(url), 403)
    assert_problem(anon_api.get(url), 401)
    assert_problem(finance_api.patch(f"{ITEMS}{item.pk}/", {"status": "done"}), 403)


def test_if_match_keeps_a_stale_change_from_overwriting_a_newer_one(
    engineer_api, manager_api, item
):
    url = f"{ITEMS}{item.pk}/"
    read = engineer_api.get(url)["ETag"]
    assert manager_api.patch(url, {"status": "wont_do"}).status_code == 200
    stale = engineer_api.patch(url, {"status": "in_progress"}, HTTP_IF_MATCH=read)
    assert_problem(stale, 412, "precondition_failed")
    item.refresh_from_db()
    assert item.status == ActionItemStatus.WONT_DO
    fresh = engineer_api.get(url)["ETag"]
    response = engineer_api.patch(url, {"status": "open"}, HTTP_IF_MATCH=fresh)
    assert response.status_code == 200
    assert response["ETag"] == engineer_api.get(url)["ETag"]
    assert engineer_api.patch(url, {"status": "in_progress"}).status_code == 200  # no header
